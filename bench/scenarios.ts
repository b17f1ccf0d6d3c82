/**
 * The two measured scenarios, one run each: relaying with the collector up,
 * and accepting while the collector is down.
 *
 * @module
 */

import { cpuSeconds, diskUsage, freePort, peakRssBytes, sleep } from "../testkit/mod.ts";
import { startCollector } from "./collector.ts";
import { type LoadHandle, type LoadResult, nowMs, startDenoSender, startLoggen } from "./load.ts";
import {
  type AgentStatus,
  agentStatus,
  type Relay,
  type RelayDeps,
  type RelayKind,
  startRelay,
} from "./relays.ts";

/** Which load generator drives a relay run. */
export type LoadGen = "deno" | "loggen";

/** One relay run: what to measure. */
export interface RelayCase {
  /** The relay under test. */
  relay: RelayKind;
  /** The load generator. */
  loadgen: LoadGen;
  /** Sender connections. */
  connections: number;
  /** Messages in the run. */
  messages: number;
  /** Message size in bytes. */
  size: number;
  /** The run is abandoned after this many ms. */
  deadlineMs: number;
}

/** Figures of one relay run. */
export interface RelayRun {
  /** Messages per second, first byte sent → collector file holding all lines. */
  msgsPerSec: number | undefined;
  /** End-to-end ms. */
  elapsedMs: number | undefined;
  /** Relay CPU seconds (user + system) per million messages. */
  cpuSecPerMillion: number | undefined;
  /** Relay peak RSS (VmHWM) in bytes. */
  peakRssBytes: number | undefined;
  /** Lines in the collector file afterwards. */
  delivered: number;
  /** Messages the generator reported as sent. */
  sent: number;
  /** The agent's status at the end (agent relays only). */
  agent: AgentStatus | undefined;
  /** Why the figures are missing or suspect. */
  problem: string | undefined;
}

/** Runs one relay case in `dir` (created; left for the caller to remove). */
export async function runRelayCase(c: RelayCase, dir: string, deps: RelayDeps): Promise<RelayRun> {
  await Deno.mkdir(dir, { recursive: true });
  const collector = await startCollector(`${dir}/collector`);
  try {
    const relay = await startRelay(
      c.relay,
      { inputPort: await freePort(), collectorPort: collector.port, dir: `${dir}/relay` },
      deps,
    );
    try {
      const cpu0 = relay.pid === undefined ? undefined : await cpuSeconds(relay.pid);
      const load = startLoad(c.loadgen, deps, {
        port: relay.inputPort,
        count: c.messages,
        connections: c.connections,
        size: c.size,
        deadlineMs: c.deadlineMs,
        dir,
      });
      let result: LoadResult | undefined;
      load.result.then((r) => {
        result = r;
      });
      const giveUp = () => relay.exited() || (result !== undefined && result.error !== undefined);
      const { doneAtMs } = await collector.waitForLines(
        c.messages,
        nowMs() + c.deadlineMs,
        giveUp,
      );
      const cpu1 = relay.pid === undefined ? undefined : await cpuSeconds(relay.pid);
      const rss = relay.pid === undefined ? undefined : await peakRssBytes(relay.pid);
      if (doneAtMs === undefined) await load.stop();
      const res = await load.result;
      const agent = relay.controlSocket === undefined
        ? undefined
        : await agentStatus(relay.controlSocket).catch(() => undefined);
      const delivered = await collector.countLines();
      const elapsedMs = doneAtMs === undefined ? undefined : doneAtMs - res.startedAtMs;
      let problem: string | undefined;
      if (res.error !== undefined) problem = `load generator: ${res.error}`;
      else if (relay.exited()) problem = `relay exited during the run`;
      else if (doneAtMs === undefined) {
        problem = `deadline ${c.deadlineMs / 1000} s: ${delivered} of ${c.messages} delivered`;
      } else if (res.sent !== c.messages) {
        problem = `load generator sent ${res.sent} of ${c.messages}`;
      } else if (delivered !== c.messages) {
        problem = `collector holds ${delivered} lines for ${c.messages} messages`;
      }
      return {
        msgsPerSec: elapsedMs === undefined ? undefined : c.messages / (elapsedMs / 1000),
        elapsedMs,
        cpuSecPerMillion: cpu0 === undefined || cpu1 === undefined || doneAtMs === undefined
          ? undefined
          : (cpu1 - cpu0) / c.messages * 1e6,
        peakRssBytes: rss,
        delivered,
        sent: res.sent,
        agent,
        problem,
      };
    } finally {
      await relay.stop();
    }
  } finally {
    await collector.stop();
  }
}

function startLoad(
  gen: LoadGen,
  deps: RelayDeps,
  opts: {
    port: number;
    count: number;
    connections: number;
    size: number;
    deadlineMs: number;
    dir: string;
  },
): LoadHandle {
  if (gen === "deno") return startDenoSender(opts);
  if (deps.syslogNg === undefined) throw new Error("loggen is not available");
  return startLoggen(deps.syslogNg, opts);
}

/** One outage run: the collector port has no listener. */
export interface OutageCase {
  /** The relay under test. */
  relay: RelayKind;
  /** Messages offered over one connection. */
  messages: number;
  /** Message size in bytes. */
  size: number;
  /** The sender gives up (a stall) after this many ms. */
  sendDeadlineMs: number;
  /** Time allowed afterwards for everything accepted to reach the spool. */
  settleMs: number;
  /** Sender paced to this many msgs/s; unpaced (as fast as accepted) when absent. */
  rate?: number | undefined;
}

/** Figures of one outage run. */
export interface OutageRun {
  /** Messages the sender wrote. */
  accepted: number;
  /** Messages per second the sender managed to write. */
  acceptPerSec: number | undefined;
  /** The sender's longest single write wait (ms). */
  maxWriteWaitMs: number | undefined;
  /** Whether the sender hit its deadline. */
  stalled: boolean;
  /** Allocated bytes of the relay's queue/spool files once settled. */
  diskBytes: number;
  /** Sum of those files' sizes. */
  diskApparentBytes: number;
  /** diskBytes / (accepted × size). */
  diskPerMessageByte: number | undefined;
  /** Relay CPU seconds per million accepted messages. */
  cpuSecPerMillion: number | undefined;
  /** Relay peak RSS in bytes. */
  peakRssBytes: number | undefined;
  /** Agent status after settling (agent relays only). */
  agent: AgentStatus | undefined;
  /** Why the figures are missing or suspect. */
  problem: string | undefined;
}

/** Runs one outage case in `dir`. */
export async function runOutageCase(
  c: OutageCase,
  dir: string,
  deps: RelayDeps,
): Promise<OutageRun> {
  await Deno.mkdir(dir, { recursive: true });
  const deadPort = await freePort(); // nothing listens here: connections are refused
  const relay = await startRelay(
    c.relay,
    { inputPort: await freePort(), collectorPort: deadPort, dir: `${dir}/relay` },
    deps,
  );
  try {
    const pid = relay.pid;
    const cpu0 = pid === undefined ? undefined : await cpuSeconds(pid);
    const res = await startDenoSender({
      port: relay.inputPort,
      count: c.messages,
      connections: 1,
      size: c.size,
      deadlineMs: c.sendDeadlineMs,
      dir,
      rate: c.rate,
    }).result;
    const seconds = (res.stoppedAtMs - res.startedAtMs) / 1000;
    let problem: string | undefined = res.error === undefined ? undefined : `sender: ${res.error}`;
    if (res.stalled) {
      problem = `sender stalled: ${res.sent} of ${c.messages} written when stopped after ${
        c.sendDeadlineMs / 1000
      } s`;
    }

    const settled = await settleSpool(relay, res.sent, c.settleMs);
    const agent = settled.agent;
    problem ??= settled.problem;
    const disk = relay.spoolDir === undefined
      ? { allocated: 0, apparent: 0 }
      : await diskUsage(relay.spoolDir);
    const cpu1 = pid === undefined ? undefined : await cpuSeconds(pid);
    const rss = pid === undefined ? undefined : await peakRssBytes(pid);
    return {
      accepted: res.sent,
      acceptPerSec: seconds > 0 ? res.sent / seconds : undefined,
      maxWriteWaitMs: res.maxWriteWaitMs,
      stalled: res.stalled,
      diskBytes: disk.allocated,
      diskApparentBytes: disk.apparent,
      diskPerMessageByte: res.sent > 0 ? disk.allocated / (res.sent * c.size) : undefined,
      cpuSecPerMillion: cpu0 === undefined || cpu1 === undefined || res.sent === 0
        ? undefined
        : (cpu1 - cpu0) / res.sent * 1e6,
      peakRssBytes: rss,
      agent,
      problem,
    };
  } finally {
    await relay.stop();
  }
}

/**
 * Waits until what `relay` accepted has reached its spool: for the agent,
 * status `spool.messages + dropped >= sent`; then, for all, until the queue
 * dir's size has not changed for 1.5 s (at most `settleMs`, at least 5 s).
 */
export async function settleSpool(
  relay: Relay,
  sent: number,
  settleMs: number,
): Promise<{ agent: AgentStatus | undefined; problem: string | undefined }> {
  let problem: string | undefined;
  let agent: AgentStatus | undefined;
  const until = Date.now() + settleMs;
  if (relay.controlSocket !== undefined) {
    const socket = relay.controlSocket;
    for (;;) {
      agent = await agentStatus(socket).catch(() => agent);
      if (agent !== undefined && agent.spoolMessages + agent.dropped >= sent) break;
      if (Date.now() > until || relay.exited()) {
        problem ??= `agent status after ${settleMs / 1000} s: ${
          agent === undefined
            ? "unreachable"
            : `spool.messages ${agent.spoolMessages} + dropped ${agent.dropped} != ${sent}`
        }`;
        break;
      }
      await sleep(100);
    }
  }
  // then until the files stop changing (buffered appends, queue spill)
  if (relay.spoolDir !== undefined) {
    let last = -1;
    let stableSince = Date.now();
    const stableUntil = Math.max(until, Date.now() + 5_000);
    while (Date.now() < stableUntil) {
      const now = (await diskUsage(relay.spoolDir)).apparent;
      if (now !== last) {
        last = now;
        stableSince = Date.now();
      } else if (Date.now() - stableSince >= 1_500) break;
      await sleep(250);
    }
  }
  return { agent, problem };
}
