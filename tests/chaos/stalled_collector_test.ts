/**
 * Chaos: a stalled collector (accepts, never reads) under steady traffic. The
 * sender never waits, the messages spool, and all of them arrive once the
 * collector reads again.
 */

import assert from "node:assert/strict";
import { checkSeqs, FakeCollector, waitFor } from "../../testkit/mod.ts";
import { sendSeqOnThread } from "./_sender_worker.ts";
import { fmt, opts, rig, status, summary, teardown } from "./_chaos.ts";

const RATE = 5000;
const SECONDS = 10;
/** Guarantee 1: no sender ever waits on a collector. */
const MAX_WAIT_MS = 50;

Deno.test(
  "chaos: stalled collector under steady traffic: the sender never waits > 50 ms, messages spool, all arrive",
  opts,
  async () => {
    const fake = await FakeCollector.start("stall");
    const r = await rig("stall", { collectorPort: fake.port });
    try {
      const total = RATE * SECONDS;
      const t0 = performance.now();
      const sending = sendSeqOnThread({
        port: r.port,
        count: total,
        size: 600,
        framing: "octet-counted",
        ratePerSec: RATE,
      });
      // The agent writes until the socket buffers are full, then finds the collector stalled.
      const stalled = await waitFor(async () => {
        const st = await status(r.agent);
        const c = st.collectors[0];
        return c !== undefined && c.state !== "up" && /stalled/.test(c.lastError) &&
          st.spool.messages > 0 && { st, c };
      }, { timeoutMs: 15_000, what: "the collector marked stalled and the spool taking over" });
      const stalledAfter = (performance.now() - t0) / 1000;
      let spoolPeak = stalled.st.spool.messages;
      // Stalled for a while longer, under traffic.
      const until = performance.now() + 2000;
      await waitFor(async () => {
        spoolPeak = Math.max(spoolPeak, (await status(r.agent)).spool.messages);
        return performance.now() > until;
      }, { timeoutMs: 10_000, what: "two more seconds of the stall" });
      fake.mode = "serve";
      const recoveredAt = (performance.now() - t0) / 1000;
      const sent = await sending;
      assert.equal(sent.sent, total);
      const report = await waitFor(() => {
        const rep = checkSeqs(fake.lines, total);
        return rep.missingCount === 0 && rep;
      }, { timeoutMs: 30_000, what: "every message after the collector recovered" }).catch((e) => {
        throw new Error(`${e.message}: ${JSON.stringify(checkSeqs(fake.lines, total))}`);
      });
      const st = await status(r.agent);
      summary(
        "stalled-collector",
        `sent ${fmt(total)} × 600 B at ${
          fmt(RATE)
        }/s; the collector accepted and never read: marked "${
          stalled.c.lastError.slice(0, 70)
        }" after ${stalledAfter.toFixed(1)} s, spool peak ${fmt(spoolPeak)}; it read again at ${
          recoveredAt.toFixed(1)
        } s: arrived ${fmt(report.unique)} (+${
          fmt(report.duplicates)
        } duplicates), missing 0, dropped ${st.counters.dropped}; the sender's worst write wait ${
          sent.maxWriteWaitMs.toFixed(1)
        } ms (limit ${MAX_WAIT_MS} ms)`,
      );
      assert.ok(
        sent.maxWriteWaitMs < MAX_WAIT_MS,
        `the sender waited ${sent.maxWriteWaitMs.toFixed(1)} ms`,
      );
      assert.equal(st.counters.dropped, 0);
      assert.ok(recoveredAt < SECONDS, "the collector recovered while traffic flowed");
    } finally {
      fake.close();
      await teardown(r);
    }
  },
);
