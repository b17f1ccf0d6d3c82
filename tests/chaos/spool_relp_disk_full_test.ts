/**
 * Chaos: a RELP sender pushes 20,000 messages into an agent whose spool
 * (`spool.mode: "always"`) is on a 4 MiB tmpfs with 2 MiB free, the collector
 * down. The disk fills half way. A RELP `200` is a promise (guarantee 9): what
 * could not be written is never acknowledged, the sender keeps it and resends
 * it. Status says the disk is full, SIGTERM while it is full exits 0, and once
 * space is freed and the collector is up, every message (so every
 * acknowledged one) arrives.
 *
 * The sender is tests/_helpers/relp_client.ts, which records exactly which
 * messages got `rsp 200` (omrelp does not tell).
 */

import assert from "node:assert/strict";
import {
  checkSeqs,
  freePort,
  mountTmpfs,
  RelpSender,
  tmpfsMissing,
  umount,
  waitFor,
} from "../../testkit/mod.ts";
import { fmt, opts, restartAgent, rig, status, summary, teardown } from "./_chaos.ts";

const SIZE = 200;
const TOTAL = 20_000;

/** Why a tmpfs cannot be mounted here (tried before the test is registered), or undefined. */
const NO_TMPFS = await tmpfsMissing();

Deno.test({
  name:
    "chaos: RELP into spool.mode always on a full 4 MiB tmpfs: nothing dropped is acknowledged, SIGTERM while full exits 0, every acknowledged message arrives" +
    (NO_TMPFS === undefined ? "" : ` (ignored: mounting a tmpfs is not permitted: ${NO_TMPFS})`),
  ignore: NO_TMPFS !== undefined,
  ...opts,
  fn: async () => {
    let mounted = "";
    let rigDir = "";
    let notMounted: string | undefined;
    let relpPort = 0;
    const r = await rig("relp-full", {
      down: true,
      spool: { mode: "always", maxBytes: "64MiB" },
      prepare: async (dir, port) => {
        rigDir = dir;
        notMounted = await mountTmpfs(`${dir}/agent/spool`);
        if (notMounted === undefined) mounted = `${dir}/agent/spool`;
        relpPort = await freePort();
        return {
          inputs: [
            { type: "tcp", address: `127.0.0.1:${port}` },
            { type: "relp", address: `127.0.0.1:${relpPort}` },
          ],
        };
      },
    }).catch(async (e) => {
      if (mounted !== "") await umount(mounted);
      // The rig could not remove its dir while the mount was there.
      if (rigDir !== "") await Deno.remove(rigDir, { recursive: true }).catch(() => {});
      throw e;
    });
    let sender: RelpSender | undefined;
    try {
      assert.equal(notMounted, undefined, "the tmpfs mounted before the test, not in it");
      const spool = `${r.dir}/agent/spool`;
      await Deno.writeFile(`${spool}/filler`, new Uint8Array(2 * 1024 * 1024));
      const s = RelpSender.start({ port: relpPort, count: TOTAL, size: SIZE, tag: "relp" });
      sender = s;
      // Either everything is acknowledged (impossible: it does not fit) or the agent refuses.
      const full = await waitFor(async () => {
        if (s.finished) return await status(r.agent);
        const st = await status(r.agent);
        return s.refused > 0 && st.reasons.some((x) => /disk full/.test(x)) && st;
      }, { timeoutMs: 30_000, what: "the agent to refuse what the full disk cannot take" });
      const ackedWhileFull = s.acked.size;
      const droppedWhileFull = full.counters.dropped;
      const reason = full.reasons.find((x) => /disk full/.test(x));
      const stop = await r.agent.stop("SIGTERM");
      const stopLog = await r.agent.log();
      await restartAgent(r);

      // Space returns and the collector comes up: the sender's resends get through.
      await Deno.remove(`${spool}/filler`);
      await r.collector.restart();
      const done = await waitFor(async () => {
        const lines = await r.collector.lines();
        const report = checkSeqs(lines, TOTAL, "relp");
        return s.finished && report.missingCount === 0 && { lines, report };
      }, { timeoutMs: 60_000, what: "every message acknowledged and at the collector" }).catch(
        async (e) => {
          const lines = await r.collector.lines();
          const have = new Set<number>();
          for (const l of lines) {
            const m = / relp - - - seq=(\d+)/.exec(l);
            if (m) have.add(Number(m[1]));
          }
          const lost = [...s.acked].filter((q) => !have.has(q));
          throw new Error(
            `${e.message}: acknowledged ${fmt(s.acked.size)} of ${fmt(TOTAL)}, ${
              fmt(lost.length)
            } acknowledged but not at the collector (first ${
              lost.slice(0, 5).join(", ")
            }); acknowledged while the disk was full: ${fmt(ackedWhileFull)}, dropped ${
              fmt(droppedWhileFull)
            }, reasons ${JSON.stringify(full.reasons)}`,
          );
        },
      );
      const end = await status(r.agent);
      summary(
        "spool-relp-disk-full",
        `RELP sender, ${
          fmt(TOTAL)
        } × ${SIZE} B into spool.mode always on a 4 MiB tmpfs with 2 MiB free, collector down: acknowledged ${
          fmt(ackedWhileFull)
        } while the disk filled, ${
          fmt(droppedWhileFull)
        } dropped (none acknowledged), ${s.refused} connection(s) refused; status "${
          reason ?? "(none)"
        }"; SIGTERM while full: exit ${stop.code}; space freed, collector up: acknowledged ${
          fmt(s.acked.size)
        }, delivered ${fmt(done.report.unique)}, missing ${
          fmt(done.report.missingCount)
        }, duplicates ${fmt(done.report.duplicates)}, out of order ${
          fmt(done.report.outOfOrder)
        }; corrupt ${end.spool.corrupt}`,
      );
      assert.ok(ackedWhileFull < TOTAL, "not everything was acknowledged while the disk was full");
      assert.ok(droppedWhileFull > 0, "the full disk made the agent drop (and count) writes");
      assert.ok(reason !== undefined, "status says the disk is full");
      assert.equal(full.state, "critical");
      assert.equal(stop.code, 0, `SIGTERM while full exits 0; log:\n${stopLog.slice(-2000)}`);
      assert.doesNotMatch(stopLog, /Uncaught|panicked/);
      assert.deepEqual(s.errors, [], "no RELP error answers");
    } finally {
      await sender?.stop();
      await teardown(r, async () => {
        if (mounted !== "") await umount(mounted);
      });
    }
  },
});
