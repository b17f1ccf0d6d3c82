/**
 * Chaos: slow-drip senders. Two connections each send one message a few
 * bytes a second over about 10 s (one octet-counted, one LF-framed) while
 * steady traffic flows on another. The dripped messages arrive whole, once;
 * the steady traffic is never held up by them.
 */

import assert from "node:assert/strict";
import { checkSeqs, octets, sendSeq, seqMessage, sleep, waitFor } from "../../testkit/mod.ts";
import { fmt, opts, rig, status, summary, teardown } from "./_chaos.ts";

const RATE = 2000;
const SECONDS = 12;
const PIECES = 10;
/** The steady traffic may be at most this far behind at the collector. */
const MAX_LAG_S = 1;

/** Writes `frame` to a new connection in PIECES pieces, one a second; resolves when all is written. */
async function drip(port: number, frame: Uint8Array, onPiece: () => Promise<void>): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const step = Math.ceil(frame.length / PIECES);
    for (let off = 0; off < frame.length; off += step) {
      const piece = frame.subarray(off, Math.min(frame.length, off + step));
      let w = 0;
      while (w < piece.length) w += await conn.write(piece.subarray(w));
      await onPiece();
      await sleep(1000);
    }
  } finally {
    conn.close();
  }
}

Deno.test(
  "chaos: slow-drip senders (a few bytes a second for 10 s): their messages arrive whole, steady traffic is not held up",
  opts,
  async () => {
    const r = await rig("drip");
    try {
      const enc = new TextEncoder();
      const octetMsg = seqMessage(0, 100, "drip-octet");
      const lfMsg = seqMessage(0, 100, "drip-lf");
      const octetFrame = octets([octetMsg]);
      const lfFrame = enc.encode(`${lfMsg}\n`);
      const total = RATE * SECONDS;
      const t0 = performance.now();
      const steady = sendSeq({
        port: r.port,
        count: total,
        size: 150,
        framing: "octet-counted",
        ratePerSec: RATE,
        tag: "steady",
      });
      await sleep(500);
      // Once a second, while the drips go on: how far behind is the steady traffic?
      let worstLag = 0;
      let checks = 0;
      const lag = async () => {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE));
        const arrived = checkSeqs(await r.collector.lines(), total, "steady").unique;
        worstLag = Math.max(worstLag, (due - arrived) / RATE);
        checks++;
      };
      const dripStart = performance.now();
      await Promise.all([
        drip(r.port, octetFrame, lag),
        drip(r.port, lfFrame, () => Promise.resolve()),
      ]);
      const dripSeconds = (performance.now() - dripStart) / 1000;
      const sent = await steady;
      assert.equal(sent.sent, total);
      const report = await waitFor(async () => {
        const lines = await r.collector.lines();
        const rep = checkSeqs(lines, total, "steady");
        const octet = lines.filter((l) => l.includes(" drip-octet "));
        const lf = lines.filter((l) => l.includes(" drip-lf "));
        return rep.missingCount === 0 && octet.length > 0 && lf.length > 0 && { rep, octet, lf };
      }, { timeoutMs: 20_000, what: "the steady traffic and both dripped messages" }).catch(
        async (e) => {
          const lines = await r.collector.lines();
          throw new Error(
            `${e.message}: steady ${JSON.stringify(checkSeqs(lines, total, "steady"))}; drips: ${
              JSON.stringify(lines.filter((l) => l.includes(" drip-")))
            }`,
          );
        },
      );
      const st = await status(r.agent);
      summary(
        "slow-drip",
        `two messages dripped ${Math.ceil(octetFrame.length / PIECES)} bytes a second over ${
          dripSeconds.toFixed(0)
        } s (octet-counted and LF) while ${fmt(total)} steady messages flowed at ${
          fmt(RATE)
        }/s: both arrived whole and once (${report.octet.length} + ${report.lf.length}), steady ${
          fmt(report.rep.unique)
        } arrived, missing 0; the steady traffic was at most ${
          (worstLag * 1000).toFixed(0)
        } ms behind at the collector (${checks} checks, limit ${
          MAX_LAG_S * 1000
        } ms); malformed ${st.counters.malformed}, dropped ${st.counters.dropped}`,
      );
      assert.deepEqual(report.octet, [octetMsg], "the octet-counted message, whole and once");
      assert.deepEqual(report.lf, [lfMsg], "the LF-framed message, whole and once");
      assert.ok(worstLag < MAX_LAG_S, `the steady traffic fell ${worstLag.toFixed(2)} s behind`);
      assert.ok(checks >= PIECES - 1, "the lag was checked throughout the drip");
      assert.equal(st.counters.malformed, 0);
    } finally {
      await teardown(r);
    }
  },
);
