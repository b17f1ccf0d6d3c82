/**
 * Chaos: the replay of a TCP collector, bounded by what was really at risk.
 * Plain TCP has no acknowledgement: what a crashed collector had read but not
 * stored, or had left unread in its receive buffer, is lost unless resent. The
 * agent keeps each batch until the kernel's evidence (TCP_INFO: what the
 * collector's kernel acknowledged, and its receive window) says the
 * collector's application read it at least 2 s ago; without evidence, or while
 * the window says it stopped reading, until the byte window (the kernel's
 * socket buffers, 36 MiB here) followed it.
 *
 * - A collector that reads, then stalls (SIGSTOP), then is SIGKILLed: what it
 *   held unread is resent: 0 missing.
 * - A collector SIGKILLed while reading at full speed: 0 missing, and the
 *   resend is the last seconds of traffic, not everything since the start.
 */

import assert from "node:assert/strict";
import { checkSeqs, sleep, waitFor } from "../../testkit/mod.ts";
import { sendSeqOnThread } from "./_sender_worker.ts";
import { fmt, opts, type Rig, rig, status, summary, teardown } from "./_chaos.ts";

const RATE = 2_000;
const SECONDS = 20;
const TOTAL = RATE * SECONDS;
const SIZE = 256;

/** Waits until the agent has received `n` messages. */
async function receivedAtLeast(r: Rig, n: number): Promise<void> {
  await waitFor(async () => (await status(r.agent)).counters.received >= n, {
    timeoutMs: 30_000,
    what: `${fmt(n)} received`,
  });
}

/** Waits for every message at the collector; the report. */
async function allArrive(r: Rig): Promise<ReturnType<typeof checkSeqs>> {
  return await waitFor(async () => {
    const rep = checkSeqs(await r.collector.lines(), TOTAL);
    return rep.missingCount === 0 && rep;
  }, { timeoutMs: 60_000, what: `all ${fmt(TOTAL)} at the collector` }).catch(async (e) => {
    throw new Error(`${e.message}: ${JSON.stringify(checkSeqs(await r.collector.lines(), TOTAL))}`);
  });
}

Deno.test(
  "chaos: a TCP collector that reads, stalls (SIGSTOP), then is SIGKILLed: what it held unread is resent, 0 missing",
  opts,
  async () => {
    const r = await rig("replay-stall-kill");
    try {
      const sending = sendSeqOnThread({
        port: r.port,
        count: TOTAL,
        size: SIZE,
        framing: "octet-counted",
        ratePerSec: RATE,
      });
      await receivedAtLeast(r, TOTAL * 0.4);
      r.collector.signal("SIGSTOP");
      const stoppedAt = (await status(r.agent)).counters.received;
      // Stalled for 3 s under traffic: its kernel takes what fits, unread; the agent finds the
      // stall (writeTimeoutMs 1 s) and spools.
      await sleep(3_000);
      await r.collector.kill();
      await r.collector.restart();
      const sent = await sending;
      assert.equal(sent.sent, TOTAL);
      const rep = await allArrive(r);
      const st = await status(r.agent);
      summary(
        "replay-stall-kill",
        `TCP collector read ${fmt(stoppedAt)} of ${fmt(TOTAL)} (${
          fmt(RATE)
        }/s × ${SIZE} B), was SIGSTOPped for 3 s under traffic, then SIGKILLed and restarted: ${
          fmt(rep.unique)
        } arrived, ${rep.missingCount} missing, ${
          fmt(rep.duplicates)
        } duplicates resent; dropped ${st.counters.dropped}`,
      );
      assert.equal(rep.missingCount, 0);
      // Resent: what it held unread when it stalled and what the agent wrote before finding the
      // stall, not the whole byte window (16,030 duplicates, 8 s of traffic, before the evidence).
      const seconds = rep.duplicates / RATE;
      assert.ok(seconds < 6, `${seconds.toFixed(1)} s of traffic resent`);
    } finally {
      await teardown(r);
    }
  },
);

Deno.test(
  "chaos: a TCP collector SIGKILLed while reading at full speed: 0 missing, and the resend is the last seconds of traffic",
  opts,
  async () => {
    const r = await rig("replay-kill-reading");
    try {
      const sending = sendSeqOnThread({
        port: r.port,
        count: TOTAL,
        size: SIZE,
        framing: "octet-counted",
        ratePerSec: RATE,
      });
      await receivedAtLeast(r, TOTAL * 0.75);
      const before = await r.collector.lines();
      await r.collector.kill();
      const atKill = checkSeqs(before, TOTAL).unique;
      await r.collector.restart();
      const sent = await sending;
      assert.equal(sent.sent, TOTAL);
      const rep = await allArrive(r);
      const seconds = rep.duplicates / RATE;
      summary(
        "replay-kill-reading",
        `TCP collector SIGKILLed while reading at full speed after ${fmt(atKill)} of ${
          fmt(TOTAL)
        } (${fmt(RATE)}/s × ${SIZE} B, ${(atKill / RATE).toFixed(1)} s of traffic), restarted: ${
          fmt(rep.unique)
        } arrived, ${rep.missingCount} missing, ${fmt(rep.duplicates)} duplicates (${
          seconds.toFixed(1)
        } s of traffic resent)`,
      );
      assert.equal(rep.missingCount, 0);
      // What was confirmed by the kernel's evidence is not resent: at most the last few seconds
      // (2 s old, twice the window after it, and what was written while the agent noticed).
      assert.ok(seconds < 6, `${seconds.toFixed(1)} s of traffic resent`);
    } finally {
      await teardown(r);
    }
  },
);
