/**
 * Chaos: durable at the pace hosts run. spool.mode "always" with sync
 * "always", a RELP collector (rsyslogd imrelp) SIGKILLed and restarted twice
 * during a stream of 20,000 messages of ~240 B sent one per `send()` at
 * 4,000 a second (an application's TCP syslog handler), then the agent
 * SIGKILLed and started again.
 *
 * - TCP input (no acknowledgement): what a `kill -9` can take is the
 *   durability lag, received but not yet fdatasync'ed. The lag reported just
 *   before the kill bounds what is missing after the restart, and at this
 *   pace it is a write cycle or two. On this machine's disk (0.3 ms per
 *   fdatasync) and on a real slow one (a loop device throttled to 200 writes
 *   a second: 5 ms per fdatasync). Before the write loop committed in groups
 *   it fdatasync'ed one read at a time: on a slower disk it fell seconds
 *   behind at this pace, and the kill took 13,154 of 20,000.
 * - RELP input (rsyslogd omrelp as the sender): the agent acknowledges only
 *   what is durable, rsyslogd resends the rest: 0 missing.
 */

import assert from "node:assert/strict";
import {
  checkSeqs,
  freePort,
  imrelpCollectorConf,
  omrelpRelayConf,
  type RsyslogdProcess,
  type SlowDisk,
  slowDisk,
  slowDiskMissing,
  startRsyslogd,
  waitFor,
} from "../../testkit/mod.ts";
import { sendSeqOnThread } from "./_sender_worker.ts";
import { fmt, opts, restartAgent, type Rig, rig, status, summary, teardown } from "./_chaos.ts";

const TOTAL = 20_000;
const SIZE = 240;
const RATE = Number(Deno.env.get("PACE_RATE") ?? 4_000);

/** Distinct sequence numbers the collector has, and how many of 0..TOTAL-1 are missing. */
async function delivered(r: Rig): Promise<ReturnType<typeof checkSeqs>> {
  return checkSeqs(await r.collector.lines(), TOTAL);
}

/** SIGKILLs the collector once the agent has received `at` messages, and brings it back. */
async function killCollectorAt(r: Rig, at: number): Promise<void> {
  await waitFor(async () => (await status(r.agent)).counters.received >= at, {
    timeoutMs: 30_000,
    what: `${fmt(at)} received before the collector's SIGKILL`,
  });
  await r.collector.kill();
  await waitFor(async () => (await status(r.agent)).collectors[0]?.state !== "up", {
    timeoutMs: 10_000,
    what: "the agent to see the collector gone",
  });
  await r.collector.restart();
}

/** After the restart: waits until what arrived stops changing with the spool empty. */
async function settled(r: Rig, enough: (missing: number) => boolean) {
  let last = -1;
  return await waitFor(async () => {
    const st = await status(r.agent);
    const rep = await delivered(r);
    const quiet = rep.received === last && st.spool.messages === 0 &&
      st.collectors[0]?.state === "up";
    last = rep.received;
    return (rep.missingCount === 0 || (enough(rep.missingCount) && quiet)) && rep;
  }, {
    timeoutMs: 90_000,
    intervalMs: 1_000,
    what: "the collector to have what survived the kill",
  }).catch(async (e) => {
    throw new Error(`${e.message}: ${JSON.stringify(await delivered(r))}`);
  });
}

const slowMissing = slowDiskMissing();
for (const disk of ["this machine's disk", "a slow disk (5 ms per fdatasync)"] as const) {
  const slow = disk !== "this machine's disk";
  Deno.test({
    name:
      `chaos: TCP input at 4,000 msg/s one message per send on ${disk}, sync always, collector SIGKILLed twice, then the agent: what is missing is at most the durability lag at the kill${
        slow && slowMissing !== undefined ? ` (ignored: ${slowMissing})` : ""
      }`,
    ignore: slow && slowMissing !== undefined,
    ...opts,
    fn: async () => {
      let tmp: SlowDisk | undefined;
      const r = await rig(slow ? "durable-pace-slow" : "durable-pace", {
        collectorConf: imrelpCollectorConf,
        collector: { protocol: "relp" },
        spool: { mode: "always", sync: "always" },
        async prepare(dir) {
          if (!slow) return;
          const made = await slowDisk(dir);
          if (typeof made === "string") throw new Error(made);
          tmp = made;
          return { spool: { dir: `${made.dir}/spool`, mode: "always", sync: "always" } };
        },
      });
      try {
        await tmp?.join(r.agent.pid);
        const sending = sendSeqOnThread({
          port: r.port,
          count: TOTAL,
          size: SIZE,
          framing: "octet-counted",
          ratePerSec: RATE,
          perWrite: 1,
        });
        await killCollectorAt(r, TOTAL * 0.25);
        await killCollectorAt(r, TOTAL * 0.6);
        const sent = await sending;
        assert.equal(sent.sent, TOTAL);
        const atKill = await waitFor(async () => {
          const st = await status(r.agent);
          return st.counters.received >= TOTAL && st;
        }, { timeoutMs: 30_000, what: `all ${fmt(TOTAL)} received` });
        const lag = atKill.spool.lag;
        r.agent.signal("SIGKILL");
        await r.agent.status;
        await restartAgent(r);
        await tmp?.join(r.agent.pid);
        const rep = await settled(r, (missing) => missing <= lag.messages);
        summary(
          slow ? "durable-pace-slow-disk" : "durable-pace",
          `TCP in on ${disk}, spool always + sync always, RELP collector SIGKILLed twice: sent ${
            fmt(TOTAL)
          } at ${fmt(RATE)}/s one per send (worst write wait ${
            sent.maxWriteWaitMs.toFixed(1)
          } ms); at the agent's SIGKILL the durability lag was ${fmt(lag.messages)} message(s), ${
            fmt(lag.bytes)
          } B, oldest ${lag.ageSeconds.toFixed(3)} s, so ${
            fmt(TOTAL - lag.messages)
          } durable; after the restart ${fmt(rep.unique)} delivered, ${
            fmt(rep.missingCount)
          } missing, ${fmt(rep.duplicates)} duplicates`,
        );
        assert.ok(
          rep.missingCount <= lag.messages,
          `${rep.missingCount} missing > the lag of ${lag.messages} at the kill`,
        );
        // The lag at this pace is a write cycle or two, not seconds of traffic.
        assert.ok(lag.ageSeconds < 0.5, `the lag at the kill was ${lag.ageSeconds} s old`);
      } finally {
        await teardown(r, async () => await tmp?.remove());
      }
    },
  });
}

Deno.test(
  "chaos: RELP input (rsyslogd omrelp) at 4,000 msg/s one message per send, sync always, collector SIGKILLed twice and the agent once: 0 missing",
  opts,
  async () => {
    let relay: RsyslogdProcess | undefined;
    const r = await rig("durable-pace-relp", {
      collectorConf: imrelpCollectorConf,
      collector: { protocol: "relp" },
      spool: { mode: "always", sync: "always" },
      input: { type: "relp" },
    });
    try {
      const tcpPort = await freePort();
      const relayDir = `${r.dir}/relay`;
      await Deno.mkdir(relayDir);
      relay = await startRsyslogd({
        conf: omrelpRelayConf({ tcpPort, relpPort: r.port, dir: relayDir }),
        dir: relayDir,
        readyPort: tcpPort,
      });
      const sending = sendSeqOnThread({
        port: tcpPort,
        count: TOTAL,
        size: SIZE,
        framing: "octet-counted",
        ratePerSec: RATE,
        perWrite: 1,
      });
      await killCollectorAt(r, TOTAL * 0.25);
      await killCollectorAt(r, TOTAL * 0.5);
      await waitFor(async () => (await status(r.agent)).counters.received >= TOTAL * 0.75, {
        timeoutMs: 30_000,
        what: "75% received before the agent's SIGKILL",
      });
      const lag = (await status(r.agent)).spool.lag;
      r.agent.signal("SIGKILL");
      await r.agent.status;
      await restartAgent(r);
      const sent = await sending;
      assert.equal(sent.sent, TOTAL);
      const rep = await settled(r, () => false);
      summary(
        "durable-pace-relp",
        `RELP in (omrelp), spool always + sync always, RELP collector SIGKILLed twice, the agent at 75%: sent ${
          fmt(TOTAL)
        } at ${fmt(RATE)}/s one per send; lag at the agent's SIGKILL ${
          fmt(lag.messages)
        } message(s) (not acknowledged, so resent); ${fmt(rep.unique)} delivered, ${
          fmt(rep.missingCount)
        } missing, ${fmt(rep.duplicates)} duplicates`,
      );
      assert.equal(rep.missingCount, 0);
    } finally {
      await relay?.stop().catch(() => {});
      await teardown(r);
    }
  },
);
