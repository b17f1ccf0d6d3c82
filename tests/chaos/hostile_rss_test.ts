/**
 * Chaos: memory after hostile input. The agent under a steady 20,000 msg/s,
 * then 100 connections each sending 20 MB without a line end (every buffer
 * grown to its largest, each message truncated), random bytes and bad octet
 * counts; afterwards its resident memory must come back near the steady
 * figure within a minute: what the burst grew is given back (per-connection
 * buffers shrink, batches and garbage are collected, and the C library
 * returns the freed pages every `MEMORY_TRIM_MS`), not kept. Without the
 * trim it stays about 1.27 times the steady figure.
 */

import assert from "node:assert/strict";
import { sendSeq, waitFor } from "../../testkit/mod.ts";
import { fmt, opts, rig, rssMiB, status, summary, teardown } from "./_chaos.ts";

/** Within a minute of the hostile burst, resident memory is back within this of the steady (the issue asks 1.3). */
const BACK_WITHIN = 1.15;

Deno.test(
  "chaos: after 100 connections of 20 MB lines, random bytes and bad counts, the agent's memory comes back near its steady figure within a minute",
  opts,
  async () => {
    const r = await rig("hostile-rss");
    try {
      await sendSeq({
        port: r.port,
        count: 100_000,
        size: 256,
        framing: "octet-counted",
        ratePerSec: 20_000,
      });
      const steady = await rssMiB(r.agent.pid);
      const line = new Uint8Array(1 << 20).fill(0x61);
      const random = crypto.getRandomValues(new Uint8Array(65536));
      const bad = new TextEncoder().encode("99999999999 not a count\n12x nor this\n");
      await Promise.all(Array.from({ length: 100 }, async (_, i) => {
        const c = await Deno.connect({ hostname: "127.0.0.1", port: r.port });
        try {
          for (let k = 0; k < 20; k++) await c.write(i % 10 === 0 ? random : line);
          await c.write(bad);
        } catch {
          // Closed by the agent: fine.
        }
        c.close();
      }));
      const peak = await rssMiB(r.agent.pid);
      const t0 = performance.now();
      let now = peak;
      await waitFor(async () => {
        now = await rssMiB(r.agent.pid);
        return now <= BACK_WITHIN * steady;
      }, {
        timeoutMs: 60_000,
        intervalMs: 1_000,
        what: `RSS back within ${BACK_WITHIN}x of ${steady.toFixed(1)} MiB`,
      })
        .catch((e) => {
          throw new Error(`${e.message}: ${now.toFixed(1)} MiB after a minute`);
        });
      const backAfter = (performance.now() - t0) / 1000;
      const st = await status(r.agent);
      summary(
        "hostile-rss",
        `steady ${steady.toFixed(1)} MiB at 20,000/s; after 100 connections × 20 MB lines (${
          fmt(st.counters.truncated)
        } truncated, ${fmt(st.counters.malformed)} malformed) ${peak.toFixed(1)} MiB; back to ${
          now.toFixed(1)
        } MiB (${(now / steady).toFixed(2)}x) ${backAfter.toFixed(0)} s later`,
      );
      // Still relaying.
      await sendSeq({
        port: r.port,
        count: 100,
        size: 100,
        framing: "octet-counted",
        tag: "after",
      });
      assert.ok(st.counters.truncated >= 90, `${st.counters.truncated} truncated`);
    } finally {
      await teardown(r);
    }
  },
);
