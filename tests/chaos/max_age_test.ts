/**
 * Chaos: `spool.maxAge` with a real agent. The collector is down; messages
 * older than maxAge when their turn comes are dropped unsent and counted as
 * expired: after an outage, and after a restart of the agent (what a stopped
 * agent left ages while it is down).
 */

import assert from "node:assert/strict";
import { checkSeqs, sendSeq, waitFor } from "../../testkit/mod.ts";
import { opts, restartAgent, rig, status, summary, teardown } from "./_chaos.ts";

const MAX_AGE_MS = 3_000;

Deno.test(
  "chaos: spool.maxAge drops what is older when its turn comes, counted as expired: after an outage and across a restart",
  opts,
  async () => {
    const r = await rig("max-age", { down: true, spool: { maxAge: MAX_AGE_MS } });
    try {
      // An outage: 100 old messages, then (past maxAge) 100 fresh ones.
      await sendSeq({ port: r.port, count: 100, size: 120, framing: "octet-counted", tag: "old" });
      await waitFor(async () => (await status(r.agent)).spool.messages === 100, {
        timeoutMs: 10_000,
        what: "100 spooled",
      });
      const oldAt = performance.now();
      await waitFor(() => performance.now() - oldAt > MAX_AGE_MS + 500, {
        timeoutMs: MAX_AGE_MS + 2_000,
        what: "the old ones past maxAge",
      });
      // The collector back (the agent finds it after its backoff, when the old ones are long
      // past maxAge); then 100 fresh ones.
      await r.collector.restart();
      await waitFor(async () => (await status(r.agent)).collectors[0]?.state === "up", {
        timeoutMs: 20_000,
        what: "the collector up again",
      });
      await sendSeq({ port: r.port, count: 100, size: 120, framing: "octet-counted", tag: "new" });
      await waitFor(
        async () => checkSeqs(await r.collector.lines(), 100, "new").missingCount === 0,
        {
          timeoutMs: 30_000,
          what: "the fresh 100 delivered",
        },
      );
      const after = await status(r.agent) as unknown as { spool: { expired: number } };
      assert.equal(after.spool.expired, 100);
      assert.equal(checkSeqs(await r.collector.lines(), 100, "old").unique, 0, "none of the old");

      // Across a restart: 100 left in the spool by a stopped agent age while it is down.
      await r.collector.stop();
      await waitFor(async () => (await status(r.agent)).collectors[0]?.state !== "up", {
        timeoutMs: 10_000,
        what: "the collector gone",
      });
      await sendSeq({ port: r.port, count: 100, size: 120, framing: "octet-counted", tag: "left" });
      await waitFor(async () => (await status(r.agent)).spool.messages === 100, {
        timeoutMs: 10_000,
        what: "100 left spooled",
      });
      await r.agent.stop();
      const stoppedAt = performance.now();
      await waitFor(() => performance.now() - stoppedAt > MAX_AGE_MS + 500, {
        timeoutMs: MAX_AGE_MS + 2_000,
        what: "the agent down past maxAge",
      });
      await r.collector.restart();
      await restartAgent(r);
      await sendSeq({
        port: r.port,
        count: 100,
        size: 120,
        framing: "octet-counted",
        tag: "later",
      });
      await waitFor(
        async () => checkSeqs(await r.collector.lines(), 100, "later").missingCount === 0,
        { timeoutMs: 30_000, what: "the later 100 delivered" },
      );
      const restarted = await status(r.agent) as unknown as {
        spool: { expired: number; messages: number };
      };
      // The 100 left, and what the stop had in hand unconfirmed (fresh ones already delivered,
      // kept for a resend), all past maxAge by now.
      assert.ok(restarted.spool.expired >= 100, `${restarted.spool.expired} expired`);
      assert.ok(restarted.spool.expired <= 200, `${restarted.spool.expired} expired`);
      assert.equal(restarted.spool.messages, 0);
      assert.equal(checkSeqs(await r.collector.lines(), 100, "left").unique, 0, "none left over");
      summary(
        "max-age",
        `maxAge ${
          MAX_AGE_MS / 1000
        } s: after an outage 100 old expired, 100 fresh delivered; across the restart ${restarted.spool.expired} expired (the 100 left, and what the stop had in hand), 100 later delivered`,
      );
    } finally {
      await teardown(r);
    }
  },
);
