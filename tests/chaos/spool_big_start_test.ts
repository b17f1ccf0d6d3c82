/**
 * Chaos: the agent starts on a 64 MiB spool left by an earlier run. Only the
 * newest segment is read before it is ready; the older ones are counted in
 * the background, so systemd hears READY=1 (and the inputs accept) before the
 * old segments are counted, however big the spool. Then everything is
 * delivered in order: the old messages first, the new ones behind them.
 * bench/spool_start.ts measures the time to READY=1 with 1 and 10 GiB.
 */

import assert from "node:assert/strict";
import {
  checkSeqs,
  freePort,
  orderedCollectorConf,
  RsyslogCollector,
  sendSeq,
  startAgent,
  waitFor,
  writeSpool,
} from "../../testkit/mod.ts";
import { fmt, opts, summary, teardown } from "./_chaos.ts";

const SIZE = 200;
/** 64 MiB of records (208 bytes each), in 16 MiB segments as the agent writes them. */
const OLD = Math.floor(64 * 1024 * 1024 / (8 + SIZE));
const PER_SEGMENT = Math.floor(16 * 1024 * 1024 / (8 + SIZE));

Deno.test(
  "chaos: start on a 64 MiB spool: READY=1 before the old segments are counted, then everything delivered in order",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "chaos-big-start-" });
    const notifyPath = `${dir}/notify`;
    const socket = Deno.listenDatagram({ transport: "unixpacket", path: notifyPath });
    const got: { at: number; text: string }[] = [];
    const receiving = (async () => {
      try {
        for await (const [data] of socket) {
          got.push({ at: performance.now(), text: new TextDecoder().decode(data) });
        }
      } catch { /* closed */ }
    })();
    const r: Parameters<typeof teardown>[0] = { dir };
    // The default test collector can swap batches under this burst (see ordered_collector.ts).
    let collector: RsyslogCollector | undefined;
    try {
      await writeSpool({
        dir: `${dir}/agent/spool`,
        messages: OLD,
        size: SIZE,
        perSegment: PER_SEGMENT,
        tag: "old",
      });
      const c = await RsyslogCollector.start(`${dir}/collector`, { conf: orderedCollectorConf });
      collector = c;
      const port = await freePort();
      const t0 = performance.now();
      r.agent = await startAgent({
        dir: `${dir}/agent`,
        readyPort: port,
        env: { NOTIFY_SOCKET: notifyPath },
        config: {
          inputs: [{ type: "tcp", address: `127.0.0.1:${port}` }],
          collectors: [{ address: `127.0.0.1:${c.port}` }],
          log: { level: "info" },
        },
      });
      const ready = await waitFor(() => got.find((g) => g.text.includes("READY=1")), {
        timeoutMs: 15_000,
        what: "READY=1",
      });
      const readySeconds = (ready.at - t0) / 1000;
      const fresh = 5_000;
      await sendSeq({ port, count: fresh, size: SIZE, framing: "octet-counted", tag: "new" });
      const lines = await waitFor(async () => {
        const lines = await c.lines();
        return lines.length >= OLD + fresh &&
          checkSeqs(lines, fresh, "new").missingCount === 0 &&
          checkSeqs(lines, OLD, "old").missingCount === 0 && lines;
      }, { timeoutMs: 90_000, what: "every message at the collector", intervalMs: 500 }).catch(
        async (e) => {
          const lines = await c.lines();
          throw new Error(
            `${e.message}: old ${JSON.stringify(checkSeqs(lines, OLD, "old"))}, new ${
              JSON.stringify(checkSeqs(lines, fresh, "new"))
            }`,
          );
        },
      );
      const log = (await r.agent.log()).split("\n");
      const readyLine = log.findIndex((l) => /agent .*: ready:/.test(l));
      const countedLine = log.findIndex((l) => /spool: recovered \d+ message/.test(l));
      const oldRep = checkSeqs(lines, OLD, "old");
      const newRep = checkSeqs(lines, fresh, "new");
      const lastOld = lines.findLastIndex((l) => l.includes(" old - - - seq="));
      const firstNew = lines.findIndex((l) => l.includes(" new - - - seq="));
      const exit = await r.agent.stop("SIGTERM");
      summary(
        "spool-big-start",
        `64 MiB spool (${fmt(OLD)} messages in ${
          Math.ceil(OLD / PER_SEGMENT)
        } segments): READY=1 after ${readySeconds.toFixed(2)} s, ${
          readyLine < countedLine ? "before" : "after"
        } the old segments were counted (log lines ${readyLine} and ${countedLine}); delivered ${
          fmt(oldRep.unique)
        } old + ${fmt(newRep.unique)} new, missing ${
          fmt(oldRep.missingCount + newRep.missingCount)
        }, out of order ${oldRep.outOfOrder + newRep.outOfOrder}, new ones behind the old: ${
          firstNew > lastOld
        }; SIGTERM exit ${exit.code}`,
      );
      assert.ok(readyLine >= 0 && countedLine >= 0, "both the ready and the counted lines logged");
      assert.ok(readyLine < countedLine, "READY=1 before the old segments are counted");
      assert.equal(oldRep.outOfOrder + newRep.outOfOrder, 0, "in order");
      assert.ok(firstNew > lastOld, "new messages queue behind the spool");
      assert.equal(exit.code, 0);
    } finally {
      socket.close();
      await receiving;
      await collector?.stop();
      await teardown(r);
    }
  },
);
