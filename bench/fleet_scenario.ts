/**
 * One scenario of the fleet simulation with real processes: a private network
 * namespace, three rsyslogd collectors on 127.0.0.2-4:514 named by its hosts
 * file, N agents (each its own dir, spool and TCP input), one paced sender for
 * all of them, the planned kills, restores and hosts-file change, a sample of
 * every collector's inflow and connections and every agent's status each
 * second, then the drain and the count of what arrived.
 *
 * @module
 */

import {
  agentArgv,
  type AgentProcess,
  cpuSeconds,
  NetNs,
  NetnsCollector,
  peakRssBytes,
  rssBytes,
  spawnLogged,
  startNetnsAgent,
  TCP_ESTABLISHED,
  waitFor,
} from "../testkit/mod.ts";
import {
  addedHostsLine,
  agentTag,
  COLLECTOR_ADDRESSES,
  COLLECTOR_PORT,
  fleetHosts,
  type FleetTiming,
  type ScenarioKey,
  type ScenarioPlan,
} from "./fleet_plan.ts";
import {
  type Balance,
  balance,
  drainedAt,
  rebalanceSeconds,
  type ReturnPeak,
  returnPeak,
  spoolEmptyAfter,
  type StatusPoll,
} from "./fleet_metrics.ts";
import { fleetSenderArgv, type FleetSenderResult } from "./fleet_sender.ts";
import { FleetTally } from "./fleet_tally.ts";

/** How the fleet is made. */
export interface FleetSetup {
  /** Number of agents. */
  agents: number;
  /** Messages per second sent to each agent. */
  rate: number;
  /** Bytes per message. */
  size: number;
  /** The agents' `collectors` list. */
  collectors: unknown[];
  /** The agents' `spool.mode`. */
  spoolMode: "fallback" | "always";
  /** The scenarios' timing. */
  timing: FleetTiming;
  /** A directory for this run's files (removed by the caller). */
  baseDir: string;
  /** Agent i listens on basePort + i (inside the namespace; default 20001). */
  basePort?: number | undefined;
  /** Agents started at once (default 4). */
  startConcurrency?: number | undefined;
  /** Progress lines. */
  log(line: string): void;
}

/** An event as it happened. */
export interface EventResult {
  /** When it was planned, seconds after the load started. */
  atS: number;
  /** What it was, e.g. `kill c1`, `restore c1,c2`, `dns-add c3`. */
  what: string;
  /** When it was done (a restore: when every collector listened again). */
  doneAtS: number | undefined;
  /** Why it failed. */
  error: string | undefined;
  /** Seconds until every live collector got half its fair share for 3 s; null: never. */
  rebalanceS: number | null;
  /** The collectors that should take traffic after it, 0-based. */
  live: number[];
}

/** What one scenario measured. */
export interface ScenarioResult {
  /** 1-5. */
  number: number;
  /** Its name. */
  key: ScenarioKey;
  /** Its heading. */
  title: string;
  /** Seconds of load. */
  loadS: number;
  /** Messages the sender wrote (all agents). */
  sent: number;
  /** Distinct messages that reached a collector. */
  delivered: number;
  /** Messages sent that never reached a collector. */
  missing: number;
  /** Extra copies that arrived. */
  duplicates: number;
  /** First arrivals after a higher number of the same agent. */
  outOfOrder: number;
  /** Agents with something missing: tag and count. */
  missingByAgent: { tag: string; missing: number; first: number[] }[];
  /** Lines at the collectors without a known tag. */
  foreignLines: number;
  /** The longest single write wait of the sender, ms. */
  senderMaxWriteWaitMs: number;
  /** A balanced tier's per-second share of each collector: agents × rate / 3. */
  fairShare: number;
  /** Seconds after the load started at which each sample was taken (the end of its second). */
  sampleS: number[];
  /** Lines each collector wrote in each second: [collector][second]. */
  inflow: number[][];
  /** ESTABLISHED TCP connections to each collector at each sample: [collector][second]. */
  connections: number[][];
  /** Sum of every agent's `spool.messages` at each sample (undefined answers left out). */
  spooled: number[];
  /** Agents that did not answer `status`, at each sample. */
  unanswered: number[];
  /** The steady window before any event: seconds and balance. */
  before: { from: number; to: number; balance: Balance; connections: number[] };
  /** The window at the end of the load, after the last event. */
  after: { from: number; to: number; balance: Balance; connections: number[] } | undefined;
  /** The events as they happened. */
  events: EventResult[];
  /** Each returning (or added) collector's busiest second after it came. */
  returnPeaks: ReturnPeak[];
  /** Seconds from the (last) restore until every spool was empty; null: not within the run. */
  spoolEmptyAfterRestoreS: number | null | undefined;
  /** Seconds from the load's end until spools empty, everything received, counters still. */
  drainS: number | null;
  /** The most messages spooled at once (all agents). */
  spooledPeak: number;
  /** The agents' CPU seconds from the load's start to the end of the drain (all agents). */
  cpuSeconds: number;
  /** That window, seconds. */
  cpuWindowS: number;
  /** The agents' VmRSS summed, at its highest sample. */
  rssSumPeakBytes: number;
  /** The agents' VmRSS summed, at the last sample. */
  rssSumEndBytes: number;
  /** The largest VmHWM of one agent. */
  peakRssMaxBytes: number;
  /** The mean VmHWM of the agents. */
  peakRssMeanBytes: number;
  /** Seconds the fleet took to start (namespace, collectors, agents). */
  startS: number;
  /** What went wrong in the run (a failed restore, agents not answering, …). */
  problems: string[];
}

/** Sampling goes on this long after the load at most, waiting for the drain. */
const DRAIN_DEADLINE_S = 120;
/** After the drain, lines may still be on their way to the files for this long at most. */
const SETTLE_DEADLINE_S = 30;

/** A collectors entry's kind, for labels: `pool` (addresses/srv), `failover` (a list), `single`. */
export function collectorsLabel(collectors: unknown[]): string {
  if (collectors.length > 1) return "failover";
  const one = collectors[0];
  if (typeof one === "object" && one !== null && ("addresses" in one || "srv" in one)) {
    return "pool";
  }
  return "single";
}

/** The config of agent `i`. */
export function fleetAgentConfig(
  setup: Pick<FleetSetup, "collectors" | "spoolMode">,
  port: number,
): Record<string, unknown> {
  return {
    inputs: [{ type: "tcp", address: `127.0.0.1:${port}` }],
    collectors: setup.collectors,
    spool: { mode: setup.spoolMode },
  };
}

/**
 * `agent check-config` on an agent config with these collectors: undefined
 * when the agent accepts it, else its error lines.
 */
export async function checkFleetConfig(
  setup: Pick<FleetSetup, "collectors" | "spoolMode">,
  dir: string,
): Promise<string | undefined> {
  const path = `${dir}/check-config.json`;
  await Deno.writeTextFile(path, JSON.stringify(fleetAgentConfig(setup, 20001)));
  const [cmd, ...args] = agentArgv(["check-config", path]);
  const out = await new Deno.Command(cmd!, { args, stdout: "piped", stderr: "piped" }).output();
  if (out.success) return undefined;
  return (new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout)).trim();
}

/**
 * Runs scenario `plan` with a fleet made as `setup` says, from nothing to
 * nothing: every process it starts is stopped and the namespace deleted when
 * it returns or throws (and at an interrupt, through the cleanup registry).
 */
export async function runFleetScenario(
  plan: ScenarioPlan,
  setup: FleetSetup,
): Promise<ScenarioResult> {
  const dir = `${setup.baseDir}/s${plan.number}`;
  await Deno.mkdir(dir, { recursive: true });
  const started = performance.now();
  const n = setup.agents;
  const tags = Array.from({ length: n }, (_, i) => agentTag(i, n));
  const ports = tags.map((_, i) => (setup.basePort ?? 20001) + i);
  const problems: string[] = [];
  const log = (line: string) => setup.log(`scenario ${plan.number} (${plan.key}): ${line}`);

  const ns = await NetNs.create({
    prefix: "syslog-fleet-",
    hosts: fleetHosts(plan.startWithTwo ? 2 : 3),
  });
  const collectors: NetnsCollector[] = [];
  const agents: AgentProcess[] = [];
  let sender: ReturnType<typeof spawnLogged> | undefined;
  try {
    log(`netns ${ns.name}; starting 3 collectors and ${n} agents`);
    for (const [i, address] of COLLECTOR_ADDRESSES.entries()) {
      collectors.push(
        await NetnsCollector.start({
          netns: ns.name,
          dir: `${dir}/c${i + 1}`,
          address,
          port: COLLECTOR_PORT,
        }),
      );
    }
    await startAgents(ns, setup, dir, tags, ports, agents);
    const startS = (performance.now() - started) / 1000;
    log(`fleet up in ${startS.toFixed(1)} s; load ${plan.loadS} s at ${setup.rate}/s per agent`);

    const tally = new FleetTally(collectors.map((c) => c.file), tags);
    const out = `${dir}/sender.json`;
    const [cmd, ...args] = ns.argv(fleetSenderArgv({
      ports,
      tags,
      rate: setup.rate,
      seconds: plan.loadS,
      size: setup.size,
      out,
    }));
    sender = spawnLogged({ cmd: cmd!, args, logPath: `${dir}/sender.log` });
    const senderProc = sender;
    const t0 = await waitFor(async () => {
      if (senderProc.exited()) throw new Error(`the sender exited: ${await senderProc.logTail()}`);
      const text = await Deno.readTextFile(`${out}.start`).catch(() => "");
      return text === "" ? undefined : Number(JSON.parse(text).startedAtMs);
    }, { timeoutMs: 60_000, what: "the sender to start", intervalMs: 50 });
    const cpu0 = await Promise.all(agents.map((a) => cpuSeconds(a.pid)));

    const result = await sampleRun(plan, setup, {
      t0,
      ns,
      collectors,
      agents,
      tally,
      senderOut: out,
      senderLog: `${dir}/sender.log`,
      problems,
      log,
    });

    const cpu1 = await Promise.all(agents.map((a) => cpuSeconds(a.pid)));
    const cpu = cpu1.reduce<number>((sum, v, i) => sum + ((v ?? 0) - (cpu0[i] ?? 0)), 0);
    const hwm = (await Promise.all(agents.map((a) => peakRssBytes(a.pid)))).map((v) => v ?? 0);
    const sentTotal = result.sent.reduce((a, b) => a + b, 0);
    const missingByAgent: ScenarioResult["missingByAgent"] = [];
    let missing = 0;
    let duplicates = 0;
    let outOfOrder = 0;
    tags.forEach((tag, i) => {
      const t = tally.agents.get(tag);
      if (t === undefined) return;
      const m = t.missing(result.sent[i] ?? 0);
      missing += m.count;
      duplicates += t.duplicates;
      outOfOrder += t.outOfOrder;
      if (m.count > 0) missingByAgent.push({ tag, missing: m.count, first: m.first.slice(0, 5) });
    });
    const fairShare = n * setup.rate / 3;
    const windowOf = (w: [number, number], members?: number[]) => ({
      from: w[0],
      to: w[1],
      balance: balance(result.inflow, w[0], w[1], members),
      connections: result.connections.map((series) =>
        Math.round(median(series.slice(w[0], w[1])) ?? 0)
      ),
    });
    const poolAtStart = plan.startWithTwo ? [0, 1] : [0, 1, 2];
    const returnPeaks: ReturnPeak[] = [];
    for (const e of plan.events) {
      if (e.action === "kill") continue;
      const toS = e.action === "restore" ? e.atS + 15 : plan.loadS;
      for (const c of e.collectors) {
        returnPeaks.push(returnPeak(result.inflow, c, e.atS, toS, fairShare));
      }
    }
    const restores = plan.events.filter((e) => e.action === "restore");
    const lastRestore = restores[restores.length - 1];
    return {
      number: plan.number,
      key: plan.key,
      title: plan.title,
      loadS: plan.loadS,
      sent: sentTotal,
      delivered: tally.unique,
      missing,
      duplicates,
      outOfOrder,
      missingByAgent,
      foreignLines: tally.foreign.reduce((a, b) => a + b, 0),
      senderMaxWriteWaitMs: result.senderMaxWriteWaitMs,
      fairShare,
      sampleS: result.sampleS,
      inflow: result.inflow,
      connections: result.connections,
      spooled: result.spooled,
      unanswered: result.unanswered,
      before: windowOf(plan.before, poolAtStart),
      after: plan.after === undefined ? undefined : windowOf(plan.after),
      events: result.events,
      returnPeaks,
      spoolEmptyAfterRestoreS: lastRestore === undefined
        ? undefined
        : spoolEmptyAfter(result.polls, lastRestore.atS),
      drainS: result.drainS,
      spooledPeak: Math.max(0, ...result.spooled),
      cpuSeconds: cpu,
      cpuWindowS: result.endS,
      rssSumPeakBytes: Math.max(0, ...result.rssSum),
      rssSumEndBytes: result.rssSum[result.rssSum.length - 1] ?? 0,
      peakRssMaxBytes: Math.max(0, ...hwm),
      peakRssMeanBytes: hwm.reduce((a, b) => a + b, 0) / Math.max(1, hwm.length),
      startS,
      problems,
    };
  } finally {
    await sender?.stop(2_000);
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(collectors.map((c) => c.stop()));
    await ns.remove();
  }
}

/** Starts the agents, a few at a time (a fleet starting at once would starve two cores). */
async function startAgents(
  ns: NetNs,
  setup: FleetSetup,
  dir: string,
  tags: string[],
  ports: number[],
  into: AgentProcess[],
): Promise<void> {
  let next = 0;
  const slots = Math.max(1, setup.startConcurrency ?? 4);
  const started: (AgentProcess | undefined)[] = tags.map(() => undefined);
  let failure: unknown;
  const worker = async () => {
    while (next < tags.length && failure === undefined) {
      const i = next++;
      try {
        started[i] = await startNetnsAgent({
          netns: ns.name,
          dir: `${dir}/${tags[i]}`,
          config: fleetAgentConfig(setup, ports[i]!),
          readyPort: ports[i]!,
          readyTimeoutMs: 60_000,
        });
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: slots }, worker));
  for (const a of started) if (a !== undefined) into.push(a);
  if (failure !== undefined) throw failure;
}

interface SampleContext {
  t0: number;
  ns: NetNs;
  collectors: NetnsCollector[];
  agents: AgentProcess[];
  tally: FleetTally;
  senderOut: string;
  senderLog: string;
  problems: string[];
  log(line: string): void;
}

interface SampleResult {
  sampleS: number[];
  inflow: number[][];
  connections: number[][];
  spooled: number[];
  unanswered: number[];
  rssSum: number[];
  polls: StatusPoll[];
  events: EventResult[];
  sent: number[];
  senderMaxWriteWaitMs: number;
  drainS: number | null;
  endS: number;
}

/**
 * Samples every second (aligned on the load's start) until the fleet has
 * drained and the collectors' files hold still, firing the plan's events on
 * time.
 */
async function sampleRun(
  plan: ScenarioPlan,
  setup: FleetSetup,
  cx: SampleContext,
): Promise<SampleResult> {
  const nowS = () => (Date.now() - cx.t0) / 1000;
  const r: SampleResult = {
    sampleS: [],
    inflow: cx.collectors.map(() => []),
    connections: cx.collectors.map(() => []),
    spooled: [],
    unanswered: [],
    rssSum: [],
    polls: [],
    events: [],
    sent: cx.agents.map(() => 0),
    senderMaxWriteWaitMs: 0,
    drainS: null,
    endS: 0,
  };
  const pending = [...plan.events].sort((a, b) => a.atS - b.atS);
  const down = new Set<number>();
  const pool = new Set(plan.startWithTwo ? [0, 1] : [0, 1, 2]);
  const restoring: Promise<void>[] = [];
  let loadEndS: number | undefined;
  let senderResult: FleetSenderResult | undefined;
  let drainedAtS: number | undefined;
  let drainWatch: Promise<void> | undefined;
  let lastUnique = -1;
  let stillSince: number | undefined;
  const expected = () => r.sent.reduce((a, b) => a + b, 0);

  for (let k = 0;; k++) {
    const wait = cx.t0 + (k + 1) * 1000 - Date.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    // the second that just ended
    r.sampleS.push(nowS());
    for (const [c] of cx.collectors.entries()) r.inflow[c]!.push(await cx.tally.read(c));
    const sockets = await cx.ns.tcpSockets().catch(() => []);
    COLLECTOR_ADDRESSES.forEach((address, c) => {
      r.connections[c]!.push(
        sockets.filter((s) =>
          s.state === TCP_ESTABLISHED && s.localAddress === address &&
          s.localPort === COLLECTOR_PORT
        ).length,
      );
    });
    const poll = await pollStatuses(cx.agents, nowS);
    r.polls.push(poll);
    r.spooled.push(poll.spooled.reduce<number>((a, b) => a + (b ?? 0), 0));
    r.unanswered.push(poll.spooled.filter((v) => v === undefined).length);
    const rss = await Promise.all(cx.agents.map((a) => rssBytes(a.pid)));
    r.rssSum.push(rss.reduce<number>((a, b) => a + (b ?? 0), 0));

    // events due by the end of this second
    while (pending.length > 0 && pending[0]!.atS <= k + 1) {
      const e = pending.shift()!;
      const names = e.collectors.map((c) => `c${c + 1}`).join(",");
      const ev: EventResult = {
        atS: e.atS,
        what: `${e.action} ${names}`,
        doneAtS: undefined,
        error: undefined,
        rebalanceS: null,
        live: [],
      };
      r.events.push(ev);
      cx.log(`${nowS().toFixed(1)} s: ${ev.what}`);
      try {
        if (e.action === "kill") {
          await Promise.all(e.collectors.map((c) => cx.collectors[c]!.kill()));
          for (const c of e.collectors) down.add(c);
          ev.doneAtS = nowS();
        } else if (e.action === "restore") {
          for (const c of e.collectors) down.delete(c);
          restoring.push(
            Promise.all(e.collectors.map((c) => cx.collectors[c]!.restart())).then(() => {
              ev.doneAtS = nowS();
            }, (err) => {
              ev.error = err instanceof Error ? err.message.split("\n")[0] : String(err);
              cx.problems.push(`${ev.what}: ${ev.error}`);
            }),
          );
        } else {
          await cx.ns.appendHosts(addedHostsLine());
          for (const c of e.collectors) pool.add(c);
          ev.doneAtS = nowS();
        }
      } catch (err) {
        ev.error = err instanceof Error ? err.message.split("\n")[0] : String(err);
        cx.problems.push(`${ev.what}: ${ev.error}`);
      }
      ev.live = [...pool].filter((c) => !down.has(c)).sort();
    }

    // the load's end, then the drain, then the files holding still
    if (senderResult === undefined) {
      const text = await Deno.readTextFile(cx.senderOut).catch(() => "");
      if (text !== "") {
        senderResult = JSON.parse(text) as FleetSenderResult;
        r.sent = senderResult.sent;
        r.senderMaxWriteWaitMs = senderResult.maxWriteWaitMs;
        loadEndS = (senderResult.finishedAtMs - cx.t0) / 1000;
        for (const e of senderResult.errors) cx.problems.push(`sender: ${e}`);
        cx.log(`load done at ${loadEndS.toFixed(1)} s: ${expected()} messages sent; draining`);
      }
    }
    if (loadEndS !== undefined && drainWatch === undefined) {
      const end = loadEndS;
      drainWatch = watchDrain(cx.agents, r.sent, nowS, DRAIN_DEADLINE_S).then((at) => {
        if (at === undefined) return;
        drainedAtS = at;
        r.drainS = Math.max(0, at - end);
        cx.log(`drained ${r.drainS.toFixed(2)} s after the load`);
      });
    }
    const unique = cx.tally.unique;
    if (unique !== lastUnique) {
      lastUnique = unique;
      stillSince = nowS();
    }
    if (drainedAtS !== undefined) {
      const complete = unique >= expected();
      if (complete || nowS() - (stillSince ?? 0) >= 3 || nowS() - drainedAtS > SETTLE_DEADLINE_S) {
        break;
      }
    }
    if (loadEndS !== undefined && nowS() - loadEndS > DRAIN_DEADLINE_S) {
      cx.problems.push(`not drained ${DRAIN_DEADLINE_S} s after the load`);
      break;
    }
    if (loadEndS === undefined && nowS() > plan.loadS + 60) {
      cx.problems.push(`the sender did not finish: ${await readTail(cx.senderLog)}`);
      break;
    }
  }
  await Promise.all(restoring);
  await drainWatch;
  r.endS = nowS();
  // rebalance times, now that the series are complete
  const fair = (live: number[]) => setup.agents * setup.rate / Math.max(1, live.length);
  for (const ev of r.events) {
    if (ev.error !== undefined || ev.live.length === 0) continue;
    ev.rebalanceS = rebalanceSeconds(r.inflow, ev.atS, ev.live, fair(ev.live), plan.loadS);
  }
  const unanswered = Math.max(0, ...r.unanswered);
  if (unanswered > 0) cx.problems.push(`up to ${unanswered} agent(s) did not answer status`);
  return r;
}

/** Every agent's status at once: spool.messages, forwarded, received (undefined: no answer). */
async function pollStatuses(agents: AgentProcess[], nowS: () => number): Promise<StatusPoll> {
  const statuses = await Promise.all(agents.map((a) => a.statusJson().catch(() => undefined)));
  const poll: StatusPoll = { atS: nowS(), spooled: [], forwarded: [], received: [] };
  for (const s of statuses) {
    const spool = s?.spool as Record<string, unknown> | undefined;
    const counters = s?.counters as Record<string, unknown> | undefined;
    poll.spooled.push(numberOr(spool?.messages));
    poll.forwarded.push(numberOr(counters?.forwarded));
    poll.received.push(numberOr(counters?.received));
  }
  return poll;
}

/** Status polls this far apart while waiting for the drain. */
const DRAIN_POLL_MS = 250;

/**
 * Polls every agent's status every 250 ms until every spool is empty, every
 * agent has received what was sent to it and no `forwarded` counter moved
 * between two polls; resolves with the time (`nowS`) of the first of those two
 * polls, or undefined after `deadlineS`.
 */
async function watchDrain(
  agents: AgentProcess[],
  sent: number[],
  nowS: () => number,
  deadlineS: number,
): Promise<number | undefined> {
  const polls: StatusPoll[] = [];
  const start = nowS();
  while (nowS() - start < deadlineS) {
    polls.push(await pollStatuses(agents, nowS));
    if (drainedAt(polls, polls.length - 1, sent)) return polls[polls.length - 2]!.atS;
    await new Promise((res) => setTimeout(res, DRAIN_POLL_MS));
  }
  return undefined;
}

async function readTail(path: string): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.slice(-500).trim();
}

function numberOr(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function median(xs: number[]): number | undefined {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
