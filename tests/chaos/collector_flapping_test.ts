/**
 * Chaos: the collector flaps (SIGKILLed and restarted, down and up for random
 * 0.5–2 s each) for 30 s under steady traffic: no gap at the collector.
 */

import assert from "node:assert/strict";
import { checkSeqs, sleep, waitFor } from "../../testkit/mod.ts";
import { sendSeqOnThread } from "./_sender_worker.ts";
import { fmt, opts, rig, seededRandom, status, summary, teardown } from "./_chaos.ts";

/** As long as the issue asks; the whole chaos suite still runs in about 2 minutes. */
const FLAP_SECONDS = 30;
/**
 * The default replay window. A collector SIGKILLed a moment after the agent
 * reconnected and began draining the spool at full speed has read far more
 * than 2 MiB it had not yet written (its kernel receive buffer grows up to
 * tcp_rmem's maximum, 32 MiB here, and rsyslogd queues up to 100,000 messages
 * in memory). When the window counted bytes only, 3,000 to 15,000 messages
 * went missing here in 4 runs out of 4; a batch now also stays in the window
 * for 2 s after it was written (relay/stream_link.ts), which covers that.
 */
const RATE = 5000;

Deno.test(
  "chaos: collector flapping every 0.5–2 s for 30 s under steady traffic: no gap, nothing dropped",
  opts,
  async () => {
    const r = await rig("flap", {});
    try {
      // CHAOS_SEED=N replays a run.
      const seed = Number(Deno.env.get("CHAOS_SEED") ?? Date.now() % 1_000_000);
      const random = seededRandom(seed);
      const between = () => 500 + Math.floor(random() * 1500);
      const total = RATE * FLAP_SECONDS;
      const sending = sendSeqOnThread({
        port: r.port,
        count: total,
        size: 200,
        framing: "octet-counted",
        ratePerSec: RATE,
      });
      let done = false;
      sending.finally(() => done = true).catch(() => {});
      let kills = 0;
      let downMs = 0;
      let spoolPeak = 0;
      while (!done) {
        await sleep(between());
        if (done) break;
        await r.collector.kill();
        kills++;
        const down = between();
        const t = performance.now();
        // While it is down, the spool takes the traffic.
        while (performance.now() - t < down) {
          spoolPeak = Math.max(spoolPeak, (await status(r.agent)).spool.messages);
          await sleep(100);
        }
        await r.collector.restart();
        downMs += performance.now() - t;
      }
      const sent = await sending;
      assert.equal(sent.sent, total);
      const report = await waitFor(async () => {
        const rep = checkSeqs(await r.collector.lines(), total);
        return rep.missingCount === 0 && rep;
      }, { timeoutMs: 60_000, what: "every sequence number at the collector" }).catch(
        async (e) => {
          const st = await status(r.agent).catch((err) => String(err));
          const log = (await r.agent.log()).split("\n").slice(-40).join("\n");
          throw new Error(
            `${e.message} (seed ${seed}, replay with CHAOS_SEED=${seed}): ${
              JSON.stringify(checkSeqs(await r.collector.lines(), total))
            }\nstatus: ${JSON.stringify(st)}\n--- agent log (last 40 lines):\n${log}`,
          );
        },
      );
      const st = await status(r.agent);
      summary(
        "collector-flapping",
        `${FLAP_SECONDS} s, seed ${seed}, default replayWindow (2 MiB, and 2 s): sent ${
          fmt(total)
        } at ${fmt(RATE)}/s while the collector was SIGKILLed and restarted ${kills} times (down ${
          (downMs / 1000).toFixed(1)
        } s in all, spool peak ${fmt(spoolPeak)}); arrived ${fmt(report.unique)} (+${
          fmt(report.duplicates)
        } duplicates resent from the replay window), missing ${report.missingCount}, out of order ${report.outOfOrder}, dropped ${st.counters.dropped} (no drop is allowed: the spool never filled); sender's worst write wait ${
          sent.maxWriteWaitMs.toFixed(1)
        } ms`,
      );
      assert.ok(kills >= 5, `the collector flapped ${kills} times`);
      assert.ok(spoolPeak > 0, "the spool took over while the collector was down");
      assert.equal(st.counters.dropped, 0);
      assert.equal(report.outOfOrder, 0, "first arrivals in order");
    } finally {
      await teardown(r);
    }
  },
);
