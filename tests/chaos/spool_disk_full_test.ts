/**
 * Chaos: the spool's file system fills up (a 4 MiB tmpfs). The agent stays
 * up, drops what it cannot write and says so (status, log), and writes again
 * once there is space. Where a tmpfs cannot be mounted the test is ignored,
 * with the reason in its name. (A full spool.maxBytes, the limit this used to
 * fall back to, is tests/relay_test.ts's "spool full: …".)
 */

import assert from "node:assert/strict";
import {
  checkSeqs,
  mountTmpfs,
  sendSeq,
  tmpfsMissing,
  umount,
  waitFor,
} from "../../testkit/mod.ts";
import { alive, fmt, opts, type Rig, rig, status, summary, teardown } from "./_chaos.ts";

const SIZE = 200;

/** Bytes of the segment files in `dir`. */
async function segmentBytes(dir: string): Promise<number> {
  let bytes = 0;
  for await (const e of Deno.readDir(dir)) {
    if (e.name.endsWith(".seg")) bytes += (await Deno.stat(`${dir}/${e.name}`)).size;
  }
  return bytes;
}

/**
 * Waits until the agent has received `received` messages and its write loop
 * is done with them: each one written to a segment file or counted as dropped
 * (the spool's bytes are those on disk).
 */
async function settled(r: Rig, received: number): Promise<{ spooled: number; dropped: number }> {
  return await waitFor(async () => {
    const st = await status(r.agent);
    return st.counters.received === received &&
      st.spool.messages + st.counters.dropped === received &&
      st.spool.bytes === await segmentBytes(`${r.dir}/agent/spool`) &&
      { spooled: st.spool.messages, dropped: st.counters.dropped };
  }, { timeoutMs: 30_000, what: `all ${received} received and written or dropped` });
}

/** Why a tmpfs cannot be mounted here (tried before the test is registered), or undefined. */
const NO_TMPFS = await tmpfsMissing();

Deno.test({
  name:
    "chaos: spool on a full 4 MiB tmpfs: the agent stays up, drops and says so, recovers when space returns" +
    (NO_TMPFS === undefined ? "" : ` (ignored: mounting a tmpfs is not permitted: ${NO_TMPFS})`),
  ignore: NO_TMPFS !== undefined,
  ...opts,
  fn: async () => {
    let mounted = "";
    let notMounted: string | undefined;
    const r = await rig("diskfull", {
      down: true,
      // When the tmpfs is there, the file system fills long before maxBytes.
      spool: { maxBytes: "64MiB" },
      prepare: async (dir) => {
        notMounted = await mountTmpfs(`${dir}/agent/spool`);
        if (notMounted === undefined) mounted = `${dir}/agent/spool`;
      },
    }).catch(async (e) => {
      if (mounted !== "") await umount(mounted);
      throw e;
    });
    try {
      assert.equal(notMounted, undefined, "the tmpfs mounted before the test, not in it");
      const spool = `${r.dir}/agent/spool`;
      // Leave about 2 MiB: a filler file whose removal is "space returns".
      await Deno.writeFile(`${spool}/filler`, new Uint8Array(2 * 1024 * 1024));
      const first = 30_000; // about 6 MiB of records
      const sent = await sendSeq({
        port: r.port,
        count: first,
        size: SIZE,
        framing: "octet-counted",
        tag: "full",
      });
      assert.equal(sent.sent, first);
      const full = await settled(r, first);
      assert.ok(full.dropped > 0, "the full file system made the agent drop");
      const st = await status(r.agent);
      assert.ok(await alive(r.agent.pid), "the agent stays up");
      assert.equal(st.state, "critical");
      const reason = st.reasons[0] ?? "";
      // The spool's own problem comes first: the disk is full, not the spool.
      assert.match(reason, /^spool disk full in .*: messages are dropped until space is freed$/);
      assert.ok(
        st.reasons.some((x) => /^\d+ message\(s\) dropped in the last minute$/.test(x)),
        `the drops are a reason too: ${JSON.stringify(st.reasons)}`,
      );
      const log = await r.agent.log();
      const logged = log.split("\n").find((l) => /spool: writing to .* failed/.test(l)) ?? "";
      assert.match(logged, /No space left on device|os error 28/, "the log says why");
      assert.match(logged, /free space in .* or lower spool\.maxBytes/, "the log says what to do");

      // Space returns: the next messages are written again, none dropped.
      await Deno.remove(`${spool}/filler`);
      const second = 5000;
      await sendSeq({
        port: r.port,
        count: second,
        size: SIZE,
        framing: "octet-counted",
        tag: "after",
      });
      const after = await settled(r, first + second);
      assert.equal(after.dropped, full.dropped, "nothing dropped once there is space");
      await waitFor(async () => /spool: writing to .* works again/.test(await r.agent.log()), {
        timeoutMs: 10_000,
        what: "the agent to log that writing works again",
      });

      // The collector comes back: what was written is delivered.
      await r.collector.restart();
      const report = await waitFor(async () => {
        const lines = await r.collector.lines();
        const a = checkSeqs(lines, first, "full");
        const b = checkSeqs(lines, second, "after");
        return a.unique + full.dropped >= first && b.missingCount === 0 && { a, b };
      }, { timeoutMs: 30_000, what: "the spool to drain" }).catch(async (e) => {
        const lines = await r.collector.lines();
        throw new Error(
          `${e.message}: ${JSON.stringify(checkSeqs(lines, first, "full"))} ${
            JSON.stringify(checkSeqs(lines, second, "after"))
          }`,
        );
      });
      const end = await status(r.agent);
      summary(
        "spool-disk-full",
        `spool on a 4 MiB tmpfs with 2 MiB free, collector down: sent ${fmt(first)}, written ${
          fmt(full.spooled)
        }, dropped ${fmt(full.dropped)} (counted; status critical: "${
          reason.replace(/ in the last minute$/, "")
        }"; log: "spool: writing to …seg failed (${
          /failed \((.*?)\); dropping/.exec(logged)?.[1] ?? "?"
        }); dropping … free space in … or lower spool.maxBytes"); space freed: ${
          fmt(second)
        } more all written (${fmt(after.dropped - full.dropped)} dropped); collector up: ${
          fmt(report.a.unique)
        } + ${fmt(report.b.unique)} delivered, missing ${
          fmt(report.a.missingCount)
        }, counted drops ${fmt(full.dropped)}, corrupt ${end.spool.corrupt}; the agent stayed up`,
      );
      assert.equal(report.a.missingCount, full.dropped, "the drop counter equals what is missing");
      assert.equal(
        end.spool.corrupt,
        0,
        "a chunk cut short by the full disk leaves no torn record",
      );
    } finally {
      await teardown(r, async () => {
        if (mounted !== "") await umount(mounted);
      });
    }
  },
});
