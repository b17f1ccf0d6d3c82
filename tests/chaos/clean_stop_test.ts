/**
 * Chaos: SIGTERM while the spool drains into a collector that stalled part
 * way (it read 4 MB and stopped reading; the rest fits its socket buffers), then that collector is killed and a
 * working one takes over. A clean stop confirms only what the collector read:
 * the rest stays in the spool, and arrives.
 */

import assert from "node:assert/strict";
import {
  checkSeqs,
  FakeCollector,
  freePort,
  sendSeq,
  startAgent,
  waitFor,
} from "../../testkit/mod.ts";
import { fmt, opts, rig, status, summary, teardown } from "./_chaos.ts";

const TOTAL = 30_000;
const SIZE = 200;
const STALL_AFTER = 4_000_000;

Deno.test(
  "chaos: SIGTERM while draining into a collector stalled after 4 MB: nothing lost after a restart",
  opts,
  async () => {
    const port = await freePort();
    // A long write timeout: the stop comes before the stall is noticed, the hardest case.
    const r = await rig("clean-stop", {
      collectorPort: port,
      collector: { writeTimeoutMs: 20_000 },
    });
    let stalled: FakeCollector | undefined;
    let serving: FakeCollector | undefined;
    try {
      await sendSeq({ port: r.port, count: TOTAL, size: SIZE, framing: "octet-counted" });
      await waitFor(async () => (await status(r.agent)).spool.messages === TOTAL, {
        timeoutMs: 20_000,
        what: "all spooled while the collector is down",
      });
      stalled = await FakeCollector.start("serve", { port, stallAfterBytes: STALL_AFTER });
      const fake = stalled;
      await waitFor(() => fake.bytesRead >= STALL_AFTER, {
        timeoutMs: 20_000,
        what: "the collector to read 4 MB and stall",
      });
      // The agent writes on until the socket buffers are full.
      let last = -1;
      let steadySince = performance.now();
      const written = await waitFor(async () => {
        const f = (await status(r.agent)).counters.forwarded;
        if (f !== last) {
          last = f;
          steadySince = performance.now();
          return false;
        }
        return performance.now() - steadySince > 500 && f;
      }, { timeoutMs: 20_000, what: "the writes to stop draining" });
      assert.equal((await r.agent.stop("SIGTERM")).code, 0, "clean exit");
      const readByFirst = stalled.lines.length;
      stalled.close();
      serving = await FakeCollector.start("serve");
      const config = JSON.parse(await Deno.readTextFile(`${r.dir}/agent/agent.json`));
      config.collectors[0].address = `127.0.0.1:${serving.port}`;
      r.agent = await startAgent({ dir: `${r.dir}/agent`, readyPort: r.port, config });
      const second = serving;
      const report = await waitFor(() => {
        const rep = checkSeqs([...fake.lines, ...second.lines], TOTAL);
        return rep.missingCount === 0 && rep;
      }, { timeoutMs: 30_000, what: "every message at one of the collectors" }).catch((e) => {
        const rep = checkSeqs([...fake.lines, ...second.lines], TOTAL);
        throw new Error(`${e.message}: ${JSON.stringify(rep)}`);
      });
      summary(
        "clean-stop",
        `spooled ${fmt(TOTAL)} × ${SIZE} B; the collector read ${fmt(readByFirst)} (${
          fmt(STALL_AFTER)
        } B) and stalled with ${
          fmt(written - readByFirst)
        } more written to its socket; SIGTERM, collector killed, restart: the second collector got ${
          fmt(second.lines.length)
        }; delivered ${fmt(report.unique)} of ${fmt(TOTAL)}, missing 0, duplicates ${
          fmt(report.duplicates)
        }`,
      );
    } finally {
      stalled?.close();
      serving?.close();
      await teardown(r);
    }
  },
);
