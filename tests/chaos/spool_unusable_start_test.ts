/**
 * Chaos: the agent starts on a spool it cannot use, or partly. The spool is a
 * fallback (guarantee 10): a read-only spool directory (a tmpfs remounted
 * `ro`, with segments of an earlier run in it) leaves the agent relaying from
 * memory, critical, with the reason; a stray segment name the agent never
 * writes (`9999999999999999.seg`) and segments that cannot be read (a
 * write-only sysfs file bound over the segment file: opening it fails, also for root) are
 * skipped, while the good segments around them are delivered. Before, each of
 * these made `agent run` exit.
 */

import assert from "node:assert/strict";
import {
  checkSeqs,
  FIRST_SEGMENT_ID,
  segmentName,
  sendSeq,
  waitFor,
  writeSpool,
} from "../../testkit/mod.ts";
import { fmt, opts, restartAgent, type Rig, rig, status, summary, teardown } from "./_chaos.ts";
import { errorText } from "../../ground/mod.ts";

const SIZE = 200;
/**
 * A file that cannot be read, also by root: a write-only sysfs attribute
 * (open for reading fails with EACCES). Bound read-only over a segment file,
 * it is a regular file in the spool's listing, of 4096 bytes, that cannot be
 * opened; the agent only ever opens segments it recovers for reading.
 */
const UNREADABLE = "/sys/bus/pci/rescan";

async function run(cmd: string, ...args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    if (out.success) return undefined;
    return new TextDecoder().decode(out.stderr).trim() || `${cmd} exited with ${out.code}`;
  } catch (e) {
    return errorText(e);
  }
}

async function umount(path: string): Promise<void> {
  if (await run("umount", path) !== undefined) await run("umount", "-l", path);
}

/** Waits until every message `0..count-1` with `tag` is at the rig's collector. */
async function delivered(r: Rig, count: number, tag: string) {
  return await waitFor(async () => {
    const rep = checkSeqs(await r.collector.lines(), count, tag);
    return rep.missingCount === 0 && rep;
  }, { timeoutMs: 30_000, what: `all ${count} "${tag}" messages at the collector` }).catch(
    async (e) => {
      throw new Error(
        `${e.message}: ${JSON.stringify(checkSeqs(await r.collector.lines(), count, tag))}`,
      );
    },
  );
}

/**
 * Why the mounts a test needs cannot be made here, or undefined when they can:
 * `mount(dir)` tried on a scratch directory before the tests are registered.
 */
async function cannotMount(
  what: string,
  mount: (dir: string) => Promise<string | undefined>,
): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "chaos-mount-probe-" });
  try {
    const why = await mount(dir);
    return why === undefined ? undefined : `${what} is not permitted: ${why}`;
  } finally {
    await umount(`${dir}/file`).catch(() => {});
    await umount(dir).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The read-only spool: a tmpfs, remounted read-only. */
const NO_RO_TMPFS = await cannotMount(
  "mounting a tmpfs and remounting it read-only",
  async (dir) =>
    await run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", dir) ??
      await run("mount", "-o", "remount,ro", dir),
);

/** The unreadable segments: UNREADABLE bound read-only over a file. */
const NO_BIND = await cannotMount(`binding ${UNREADABLE} over a file`, async (dir) => {
  await Deno.writeFile(`${dir}/file`, new Uint8Array(4096));
  return await run("mount", "--bind", "-o", "ro", UNREADABLE, `${dir}/file`);
});

for (const mode of ["fallback", "always"] as const) {
  Deno.test({
    name:
      `chaos: start on a read-only spool holding segments (spool.mode ${mode}): the agent starts and relays from memory, critical with the reason; once writable again the old segments are delivered` +
      (NO_RO_TMPFS === undefined ? "" : ` (ignored: ${NO_RO_TMPFS})`),
    ignore: NO_RO_TMPFS !== undefined,
    ...opts,
    fn: () => readOnlySpool(mode),
  });
}

async function readOnlySpool(mode: "fallback" | "always"): Promise<void> {
  {
    const mounts: string[] = [];
    let rigDir = "";
    let notMounted: string | undefined;
    const old = 2_000;
    const r = await rig("spool-ro", {
      spool: { mode },
      prepare: async (dir) => {
        rigDir = dir;
        const spool = `${dir}/agent/spool`;
        await Deno.mkdir(spool, { recursive: true });
        notMounted = await run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", spool);
        if (notMounted !== undefined) return;
        mounts.push(spool);
        await writeSpool({ dir: spool, messages: old, size: SIZE, perSegment: 1_000, tag: "old" });
        notMounted = await run("mount", "-o", "remount,ro", spool);
      },
    }).catch(async (e) => {
      for (const m of mounts) await umount(m);
      // The rig could not remove its dir while the mounts were there.
      if (rigDir !== "") await Deno.remove(rigDir, { recursive: true }).catch(() => {});
      throw e;
    });
    try {
      assert.equal(notMounted, undefined, "the mounts worked before the test, not in it");
      const spool = `${r.dir}/agent/spool`;
      const fresh = 5_000;
      await sendSeq({
        port: r.port,
        count: fresh,
        size: SIZE,
        framing: "octet-counted",
        tag: "new",
      });
      const rep = await delivered(r, fresh, "new");
      const st = await status(r.agent);
      const reason = st.reasons.find((x) => /spool unusable/.test(x));
      const log = await r.agent.log();
      // Fixed: writable again, and a restart delivers what the earlier run left.
      assert.equal(await run("mount", "-o", "remount,rw", spool), undefined);
      const stop = await r.agent.stop("SIGTERM");
      await restartAgent(r);
      const oldRep = await delivered(r, old, "old");
      summary(
        `spool-read-only-${mode}`,
        `spool.mode ${mode}, spool a tmpfs remounted ro with ${
          fmt(old)
        } messages in 2 segments: the agent started; ${fmt(fresh)} sent, delivered ${
          fmt(rep.unique)
        }, missing ${fmt(rep.missingCount)}; status ${st.state}: "${
          reason ?? "(none)"
        }"; SIGTERM exit ${stop.code}; remounted rw and restarted: the ${
          fmt(old)
        } old ones delivered, missing ${fmt(oldRep.missingCount)}`,
      );
      assert.equal(st.state, "critical");
      assert.ok(reason !== undefined, `status names the spool: ${JSON.stringify(st.reasons)}`);
      assert.ok(reason.includes(spool), "the reason names the directory");
      assert.match(log, /spool: cannot use .*relaying from memory only/);
      assert.equal(stop.code, 0);
      assert.equal(st.counters.dropped, 0);
    } finally {
      await teardown(r, async () => {
        for (const m of mounts) await umount(m);
      });
    }
  }
}

Deno.test({
  name:
    "chaos: start on a spool with a stray 9999999999999999.seg and unreadable segments: they are skipped and counted, the good ones around them delivered" +
    (NO_BIND === undefined ? "" : ` (ignored: ${NO_BIND})`),
  ignore: NO_BIND !== undefined,
  ...opts,
  fn: async () => {
    const mounts: string[] = [];
    let rigDir = "";
    let notMounted: string | undefined;
    const per = 1_000;
    const id = (k: number) => FIRST_SEGMENT_ID + k;
    const r = await rig("spool-damaged", {
      prepare: async (dir) => {
        rigDir = dir;
        const spool = `${dir}/agent/spool`;
        // Segments 0, 2 and 4 good; 1 (in the middle) and 5 (the newest) cannot be read.
        for (const k of [0, 2, 4]) {
          await writeSpool({
            dir: spool,
            messages: per,
            first: k * per,
            size: SIZE,
            perSegment: per,
            tag: "old",
            firstId: id(k),
          });
        }
        await Deno.writeFile(`${spool}/9999999999999999.seg`, new TextEncoder().encode("stray"));
        for (const k of [1, 5]) {
          const file = `${spool}/${segmentName(id(k))}`;
          await Deno.writeFile(file, new Uint8Array(4096));
          notMounted = await run("mount", "--bind", "-o", "ro", UNREADABLE, file);
          if (notMounted !== undefined) return;
          mounts.push(file);
        }
      },
    }).catch(async (e) => {
      for (const m of mounts) await umount(m);
      // The rig could not remove its dir while the mounts were there.
      if (rigDir !== "") await Deno.remove(rigDir, { recursive: true }).catch(() => {});
      throw e;
    });
    try {
      assert.equal(notMounted, undefined, "the mounts worked before the test, not in it");
      const spool = `${r.dir}/agent/spool`;
      const good = 3 * per;
      const fresh = 2_000;
      await sendSeq({
        port: r.port,
        count: fresh,
        size: SIZE,
        framing: "octet-counted",
        tag: "new",
      });
      const newRep = await delivered(r, fresh, "new");
      // Old messages 0-999, 2000-2999 and 4000-4999 were in good segments.
      const lines = await waitFor(async () => {
        const lines = await r.collector.lines();
        const rep = checkSeqs(lines, 5 * per, "old");
        return rep.unique === good && lines;
      }, { timeoutMs: 30_000, what: "the good segments' messages" }).catch(async (e) => {
        throw new Error(
          `${e.message}: ${JSON.stringify(checkSeqs(await r.collector.lines(), 5 * per, "old"))}`,
        );
      });
      const oldRep = checkSeqs(lines, 5 * per, "old");
      const goodMissing = oldRep.missing.filter((s) => Math.floor(s / per) % 2 === 0);
      const st = await waitFor(async () => {
        const st = await status(r.agent);
        return st.spool.messages === 0 && st;
      }, { timeoutMs: 10_000, what: "the spool read empty" });
      const log = await r.agent.log();
      const stray = await Deno.stat(`${spool}/9999999999999999.seg`).then(() => true, () => false);
      const stop = await r.agent.stop("SIGTERM");
      summary(
        "spool-damaged-start",
        `3 good segments of ${
          fmt(per)
        }, 2 unreadable (EACCES: the middle one and the newest), a stray 9999999999999999.seg: the agent started; old delivered ${
          fmt(oldRep.unique)
        } of ${fmt(good)} good; ${fmt(fresh)} new delivered ${fmt(newRep.unique)}, missing ${
          fmt(newRep.missingCount)
        }; spool.corrupt ${st.spool.corrupt}; stray file left in place: ${stray}; SIGTERM exit ${stop.code}`,
      );
      assert.deepEqual(goodMissing, [], "every message of the good segments delivered");
      // One each: the newest (5) fails when recovery counts it at start, the middle one (1)
      // when the background count reaches it, before the reader (which reads and sends
      // segment 0 first) does; the stray file is not a segment and is not counted.
      assert.equal(st.spool.corrupt, 2, "both unreadable segments counted, once each");
      assert.match(log, /9999999999999999\.seg/, "the log names the stray file");
      assert.match(
        log,
        new RegExp(`${segmentName(id(1))}`),
        "the log names the unreadable segment",
      );
      assert.ok(stray, "the stray file is left for the operator");
      assert.equal(stop.code, 0);
    } finally {
      await teardown(r, async () => {
        for (const m of mounts) await umount(m);
      });
    }
  },
});
