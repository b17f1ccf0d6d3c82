/**
 * Chaos: an operator removes the whole spool directory (`rm -rf
 * /var/spool/syslog-agent`) under traffic, once while the collector is down
 * (everything is being spooled) and once with `spool.mode: "always"` and the
 * collector up (the spool is the path of every message). The loss is counted
 * exactly (the drop counters equal what is missing at the collector), the
 * directory is made again, messages sent after the removal all arrive, the
 * collector is never marked down for it, status names it, and SIGTERM (with
 * the directory gone again) exits 0.
 */

import assert from "node:assert/strict";
import { checkSeqs, sendSeq, sleep, waitFor } from "../../testkit/mod.ts";
import { fmt, opts, type Rig, rig, status, type StatusDoc, summary, teardown } from "./_chaos.ts";

const SIZE = 200;
const REMOVED = /spool files removed while running/;

/** `rm -rf` of the agent's spool directory (nothing to do when it is not there). */
async function removeSpool(r: Rig): Promise<void> {
  await Deno.remove(`${r.dir}/agent/spool`, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/** Waits for a sender started with `.catch((e) => e)`; its failure (the agent gone) throws. */
async function senderDone(r: Rig, sending: Promise<unknown>): Promise<void> {
  const result = await sending;
  if (result instanceof Error) {
    throw new Error(`${result.message}; agent log:\n${(await r.agent.log()).slice(-3000)}`);
  }
}

/** Whether the spool directory exists. */
async function spoolDirExists(r: Rig): Promise<boolean> {
  return await Deno.stat(`${r.dir}/agent/spool`).then((s) => s.isDirectory, () => false);
}

/**
 * Polls status every 50 ms until stopped: every collector state other than
 * "up" seen after the collector was first up, and every reason seen.
 */
function watchStatus(r: Rig): { stop: () => Promise<void>; notUp: string[]; reasons: Set<string> } {
  const notUp: string[] = [];
  const reasons = new Set<string>();
  let running = true;
  let wasUp = false;
  const loop = (async () => {
    while (running) {
      const st: StatusDoc | undefined = await status(r.agent).catch(() => undefined);
      if (st !== undefined) {
        for (const reason of st.reasons) reasons.add(reason);
        const c = st.collectors[0];
        if (c?.state === "up") wasUp = true;
        else if (wasUp && c) notUp.push(`${c.state}: ${c.lastError}`);
      }
      await sleep(50);
    }
  })();
  return {
    notUp,
    reasons,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** Waits until the agent has received `n` messages and written each one or counted it dropped. */
async function allTaken(r: Rig, n: number): Promise<StatusDoc> {
  return await waitFor(async () => {
    const st = await status(r.agent);
    return st.counters.received === n &&
      st.counters.forwarded + st.spool.messages + st.counters.dropped >= n && st;
  }, { timeoutMs: 30_000, what: `all ${n} received and spooled, forwarded or dropped` });
}

Deno.test(
  "chaos: spool directory removed while spooling (collector down): loss counted exactly, directory made again, later messages all arrive, SIGTERM exits 0",
  opts,
  async () => {
    const r = await rig("spool-rm", { down: true });
    try {
      const early = 20_000;
      await sendSeq({
        port: r.port,
        count: early,
        size: SIZE,
        framing: "octet-counted",
        tag: "early",
      });
      await waitFor(async () => (await status(r.agent)).spool.messages === early, {
        timeoutMs: 20_000,
        what: "all spooled while the collector is down",
      });
      // A stream in flight while the directory goes.
      const during = 10_000;
      const sending = sendSeq({
        port: r.port,
        count: during,
        size: SIZE,
        framing: "octet-counted",
        tag: "during",
        ratePerSec: 5_000,
      }).catch((e: Error) => e);
      await sleep(500);
      await removeSpool(r);
      await senderDone(r, sending);
      const noticed = await waitFor(async () => {
        const st = await status(r.agent);
        return st.reasons.find((x) => REMOVED.test(x)) !== undefined && await spoolDirExists(r) &&
          st;
      }, {
        timeoutMs: 10_000,
        what: "the agent to notice the removal and make the directory again",
      })
        .catch(async (e) => {
          throw new Error(`${e.message}: ${JSON.stringify(await status(r.agent).catch(() => ""))}`);
        });
      const reason = noticed.reasons.find((x) => REMOVED.test(x))!;
      const after = 5_000;
      await sendSeq({
        port: r.port,
        count: after,
        size: SIZE,
        framing: "octet-counted",
        tag: "after",
      });
      await allTaken(r, early + during + after);

      await r.collector.restart();
      const seen = await waitFor(async () => {
        const st = await status(r.agent);
        const lines = await r.collector.lines();
        const a = checkSeqs(lines, after, "after");
        return a.missingCount === 0 && st.spool.messages === 0 && { st, lines, a };
      }, { timeoutMs: 30_000, what: "every message sent after the removal at the collector" })
        .catch(async (e) => {
          const lines = await r.collector.lines();
          throw new Error(
            `${e.message}: after ${JSON.stringify(checkSeqs(lines, after, "after"))}; status ${
              JSON.stringify(await status(r.agent).catch(() => ""))
            }`,
          );
        });
      const e = checkSeqs(seen.lines, early, "early");
      const d = checkSeqs(seen.lines, during, "during");
      const missing = e.missingCount + d.missingCount;
      const { counters, spool } = seen.st;

      // Gone again at the stop: the stop must not fail on it.
      await removeSpool(r);
      const exit = await r.agent.stop("SIGTERM");
      const log = await r.agent.log();
      summary(
        "spool-dir-removed",
        `collector down, rm -rf of the spool dir with ${fmt(early)} spooled and a ${
          fmt(during)
        }-message stream in flight: missing ${fmt(missing)} (${fmt(e.missingCount)} + ${
          fmt(d.missingCount)
        }), counted dropped ${fmt(counters.dropped)} (spool.dropped ${
          fmt(spool.dropped)
        }); status "${reason}"; ${fmt(after)} sent after it: delivered ${
          fmt(seen.a.unique)
        }, missing ${fmt(seen.a.missingCount)}; SIGTERM with the dir gone again: exit ${exit.code}`,
      );
      assert.ok(missing > 0, "the removal took messages with it");
      assert.equal(counters.dropped, missing, "counters.dropped equals what is missing");
      assert.equal(spool.dropped, missing, "spool.dropped equals what is missing");
      assert.equal(exit.code, 0, `SIGTERM exits 0; log:\n${log.slice(-2000)}`);
      assert.doesNotMatch(log, /Uncaught|panicked/);
    } finally {
      await teardown(r);
    }
  },
);

Deno.test(
  "chaos: spool directory removed twice under traffic with spool.mode always and the collector up: never marked down, loss counted exactly, relaying goes on",
  opts,
  async () => {
    const r = await rig("spool-rm-always", { spool: { mode: "always" } });
    let watch: ReturnType<typeof watchStatus> | undefined;
    try {
      // Traffic first: the link is up once it has carried messages.
      const warm = 1_000;
      await sendSeq({
        port: r.port,
        count: warm,
        size: SIZE,
        framing: "octet-counted",
        tag: "warm",
      });
      await waitFor(
        async () => checkSeqs(await r.collector.lines(), warm, "warm").missingCount === 0,
        {
          timeoutMs: 20_000,
          what: "the first messages at the collector",
        },
      );
      watch = watchStatus(r);
      const flow = 40_000;
      const sending = sendSeq({
        port: r.port,
        count: flow,
        size: SIZE,
        framing: "octet-counted",
        tag: "flow",
        ratePerSec: 10_000,
      }).catch((e: Error) => e);
      await sleep(1_000);
      await removeSpool(r);
      await sleep(1_500);
      await removeSpool(r);
      await senderDone(r, sending);
      const w = watch;
      await waitFor(() => spoolDirExists(r), { timeoutMs: 10_000, what: "the directory again" })
        .catch((e) => {
          throw new Error(`${e.message}; collector states seen: ${w.notUp.slice(0, 5).join("; ")}`);
        });
      const after = 5_000;
      await sendSeq({
        port: r.port,
        count: after,
        size: SIZE,
        framing: "octet-counted",
        tag: "after",
      });
      const total = warm + flow + after;
      await allTaken(r, total);
      const seen = await waitFor(async () => {
        const st = await status(r.agent);
        const lines = await r.collector.lines();
        const a = checkSeqs(lines, after, "after");
        return a.missingCount === 0 && st.spool.messages === 0 &&
          st.counters.forwarded + st.counters.dropped >= total && { st, lines, a };
      }, { timeoutMs: 30_000, what: "every message sent after the removals at the collector" })
        .catch(async (e) => {
          const lines = await r.collector.lines();
          throw new Error(
            `${e.message}: after ${JSON.stringify(checkSeqs(lines, after, "after"))}; flow ${
              JSON.stringify(checkSeqs(lines, flow, "flow"))
            }; status ${JSON.stringify(await status(r.agent).catch(() => ""))}`,
          );
        });
      await watch.stop();
      const f = checkSeqs(seen.lines, flow, "flow");
      const { counters, spool } = seen.st;
      const named = [...watch.reasons].find((x) => REMOVED.test(x));
      const exit = await r.agent.stop("SIGTERM");
      const log = await r.agent.log();
      summary(
        "spool-dir-removed-always",
        `spool.mode always, collector up, ${
          fmt(flow)
        } messages at 10,000/s, rm -rf of the spool dir twice: missing ${
          fmt(f.missingCount)
        }, counted dropped ${fmt(counters.dropped)} (spool.dropped ${
          fmt(spool.dropped)
        }); collector marked down ${watch.notUp.length} time(s); status "${named ?? "(none)"}"; ${
          fmt(after)
        } sent after: delivered ${fmt(seen.a.unique)}, missing ${
          fmt(seen.a.missingCount)
        }; SIGTERM: exit ${exit.code}`,
      );
      assert.deepEqual(watch.notUp, [], "the collector is never marked down for the spool's files");
      assert.equal(counters.dropped, f.missingCount, "counters.dropped equals what is missing");
      assert.equal(spool.dropped, f.missingCount, "spool.dropped equals what is missing");
      assert.ok(named !== undefined, "status names the removal");
      assert.equal(exit.code, 0, `SIGTERM exits 0; log:\n${log.slice(-2000)}`);
      assert.doesNotMatch(log, /Uncaught|panicked/);
    } finally {
      await watch?.stop();
      await teardown(r);
    }
  },
);
