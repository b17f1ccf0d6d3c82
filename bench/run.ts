/**
 * `deno task bench`: the agent side by side with rsyslogd and syslog-ng, in
 * one run. Writes bench/results/latest.json and BENCHMARKS.md.
 *
 * ```
 * deno task bench [--quick] [--rounds N] [--only SCENARIO] [--relays a,b]
 * deno task bench --only durability [--label before|after] [--agent-main PATH]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { installSignalCleanup, isInterrupted, runCleanups, tempDir } from "../testkit/mod.ts";
import { loggenArgs } from "./load.ts";
import {
  AGENT_MAIN,
  agentConfig,
  RELAY_KINDS,
  RELAY_LABELS,
  type RelayDeps,
  type RelayKind,
  RelayUnavailable,
  rsyslogRelayConf,
  syslogNgRelayConf,
} from "./relays.ts";
import {
  type DrainRun,
  type FootprintRun,
  runDrainCase,
  runFootprintCase,
} from "./drain_footprint.ts";
import { type RecoveryRun, type RelpRun, runRecovery, runRelp } from "./external.ts";
import { machineInfo } from "./machine_info.ts";
import {
  type DrainEntry,
  type OutageEntry,
  type RelayEntry,
  type Results,
  writeReports,
} from "./report.ts";
import {
  type LoadGen,
  type OutageRun,
  type RelayRun,
  runOutageCase,
  runRelayCase,
} from "./scenarios.ts";
import { ensureSyslogNg, type SyslogNgResult } from "./syslog_ng.ts";
import { STEADY_RELAYS } from "./steady.ts";
import { runSteadyScenario, type SteadyResults } from "./steady_scenario.ts";
import {
  DURABILITY_DISKS,
  type DurabilityDisk,
  type DurabilityLabel,
  type DurabilityLabelRun,
  type DurabilityLoad,
  runDurabilityScenario,
} from "./durability.ts";

const SCENARIOS = [
  "relay",
  "outage",
  "drain",
  "recovery",
  "footprint",
  "relp",
  "steady",
  "durability",
] as const;
type Scenario = typeof SCENARIOS[number];

const RELAY_SCENARIO_RELAYS: RelayKind[] = [
  "direct",
  "rsyslogd",
  "syslog-ng",
  "agent-fallback",
  "agent-always",
];
const OUTAGE_RELAYS: RelayKind[] = [
  "rsyslogd",
  "rsyslogd-noqueue",
  "syslog-ng",
  "agent-fallback",
  "agent-always",
];
const DRAIN_RELAYS: RelayKind[] = ["rsyslogd", "agent-fallback", "agent-always"];
const AGENT_KINDS: RelayKind[] = ["agent-fallback", "agent-always"];
const LOADGENS: LoadGen[] = ["deno", "loggen"];
const CONNECTIONS = [1, 4];
const SIZE = 256;
/** The incident configuration's sender is stopped after this long (--quick: 5 s). */
const STALL_CAP_MS = 20_000;
const QUICK_STALL_CAP_MS = 5_000;
/** Scenario 2's paced sender, about half of the agent's measured accept rate. */
const PACED_RATE = 200_000;
/** Scenario 3's live stream during the drain. */
const LIVE_RATE = 1_000;
/** Scenario 5's paced load. */
const FOOTPRINT_RATE = 50_000;
/** The steady scenario's own time budget (it runs after the others). */
const STEADY_BUDGET_MS = 40 * 60_000;
const QUICK_STEADY_BUDGET_MS = 60_000;
/** The durability scenario's own time budget per label (it runs last). */
const DURABILITY_BUDGET_MS = 10 * 60_000;
const QUICK_DURABILITY_BUDGET_MS = 2 * 60_000;

const USAGE =
  `usage: deno task bench [--quick] [--rounds N] [--only relay|outage] [--relays KIND,...]

  --quick        1 round of 200,000 messages, deno sender with 1 connection only
                 (default: 3 rounds of 1,000,000, deno and loggen, 1 and 4 connections)
  --rounds N     rounds per configuration (medians and min–max are reported)
  --only S       run one scenario: relay (collector up), outage (collector down),
                 drain (collector back), recovery (rsyslogd killed), footprint, relp,
                 steady (paced loads, CPU per message; 1 round unless --rounds, about
                 30 minutes; --quick: 2 loads, under a minute), durability (the
                 spool's durability lag at paced loads, sync always and interval, on
                 this disk and a throttled loop device; about 6 minutes a label)
  --relays K,..  only these relays: ${RELAY_KINDS.join(", ")}, deno-min (steady only)
  --messages N   messages per run instead (a multiple of 4)
  --steady-loads RATExBATCH,...  steady: only these loads (e.g. 2000x20,20000x200)
  --steady-warmup S              steady: warm-up seconds before the window (default 20)
  --agent-main PATH  run this main.ts as the agent (another checkout's) instead of this repo's
  --label L          durability: file the results as before or after (default after); the
                     other label's results are kept, BENCHMARKS.md shows both side by side
  --durability-loads RATExN,...  durability: only these loads (N messages per write)
  --durability-disks D,...       durability: only these disks (local, slow)

Writes bench/results/latest.json and BENCHMARKS.md.`;

interface Options {
  quick: boolean;
  rounds: number;
  messages: number;
  scenarios: Scenario[];
  relays: Set<RelayKind>;
  /** The steady scenario's relays (it has deno-min besides the RelayKinds). */
  steadyRelays: Set<string>;
  /** The steady scenario's rounds: 1 unless --rounds is given. */
  steadyRounds: number;
  /** The steady scenario's loads, when --steady-loads picks them. */
  steadyLoads?: { rate: number; batch: number }[];
  /** The steady scenario's warm-up, when --steady-warmup sets it. */
  steadyWarmupMs?: number;
  /** The agent's main.ts (--agent-main, default this repository's). */
  agentMain: string;
  /** The durability scenario's label. */
  label: DurabilityLabel;
  /** The durability scenario's loads, when --durability-loads picks them. */
  durabilityLoads?: DurabilityLoad[];
  /** The durability scenario's disks, when --durability-disks picks them. */
  durabilityDisks?: DurabilityDisk[];
  command: string;
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      rounds: { type: "string" },
      only: { type: "string" },
      relays: { type: "string" },
      messages: { type: "string" },
      "steady-loads": { type: "string" },
      "steady-warmup": { type: "string" },
      "agent-main": { type: "string" },
      label: { type: "string" },
      "durability-loads": { type: "string" },
      "durability-disks": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const fail = (msg: string): never => {
    console.error(`bench: ${msg}\n\n${USAGE}`);
    Deno.exit(2);
  };
  const quick = values.quick ?? false;
  const rounds = values.rounds === undefined ? (quick ? 1 : 3) : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
    fail(`--rounds: expected 1..20, got ${values.rounds}`);
  }
  let scenarios: Scenario[] = [...SCENARIOS];
  if (values.only !== undefined) {
    if (!(SCENARIOS as readonly string[]).includes(values.only)) {
      fail(`--only: expected one of ${SCENARIOS.join(", ")}, got ${values.only}`);
    }
    scenarios = [values.only as Scenario];
  }
  const relays = new Set<RelayKind>(RELAY_KINDS);
  const steadyRelays = new Set<string>(STEADY_RELAYS);
  if (values.relays !== undefined) {
    relays.clear();
    steadyRelays.clear();
    for (const k of values.relays.split(",").map((s) => s.trim()).filter((s) => s)) {
      const steady = (STEADY_RELAYS as readonly string[]).includes(k);
      if (!(RELAY_KINDS as readonly string[]).includes(k) && !steady) {
        fail(`--relays: unknown relay ${k}`);
      }
      if (k !== "deno-min") relays.add(k as RelayKind);
      if (steady) steadyRelays.add(k);
    }
  }
  const messages = values.messages === undefined
    ? (quick ? 200_000 : 1_000_000)
    : Number(values.messages);
  if (!Number.isInteger(messages) || messages < 4 || messages % 4 !== 0) {
    fail(`--messages: expected a positive multiple of 4, got ${values.messages}`);
  }
  const steadyLoads = values["steady-loads"]?.split(",").map((l) => {
    const m = /^(\d+)x(\d+)$/.exec(l.trim());
    if (!m) fail(`--steady-loads: expected RATExBATCH like 2000x20, got ${l}`);
    return { rate: Number(m![1]), batch: Number(m![2]) };
  });
  const warmup = values["steady-warmup"];
  const steadyWarmupMs = warmup === undefined ? undefined : Number(warmup) * 1000;
  if (steadyWarmupMs !== undefined && !(steadyWarmupMs >= 0)) {
    fail(`--steady-warmup: expected seconds, got ${warmup}`);
  }
  const label = values.label ?? "after";
  if (label !== "before" && label !== "after") {
    fail(`--label: expected before or after, got ${label}`);
  }
  let agentMain = AGENT_MAIN;
  if (values["agent-main"] !== undefined) {
    agentMain = values["agent-main"].startsWith("/")
      ? values["agent-main"]
      : `${Deno.cwd()}/${values["agent-main"]}`;
    try {
      if (!Deno.statSync(agentMain).isFile) fail(`--agent-main: not a file: ${agentMain}`);
    } catch {
      fail(`--agent-main: no such file: ${agentMain}`);
    }
  }
  const durabilityLoads = values["durability-loads"]?.split(",").map((l) => {
    const m = /^(\d+)x(\d+)$/.exec(l.trim());
    if (!m) fail(`--durability-loads: expected RATExN like 4000x1, got ${l}`);
    return { rate: Number(m![1]), perWrite: Number(m![2]) };
  });
  const durabilityDisks = values["durability-disks"]?.split(",").map((d) => {
    const disk = d.trim();
    if (!(DURABILITY_DISKS as readonly string[]).includes(disk)) {
      fail(`--durability-disks: expected ${DURABILITY_DISKS.join(", ")}, got ${d}`);
    }
    return disk as DurabilityDisk;
  });
  return {
    quick,
    rounds,
    messages,
    scenarios,
    relays,
    steadyRelays,
    ...(steadyLoads === undefined ? {} : { steadyLoads }),
    ...(steadyWarmupMs === undefined ? {} : { steadyWarmupMs }),
    steadyRounds: values.rounds === undefined ? 1 : rounds,
    agentMain,
    label: label as DurabilityLabel,
    ...(durabilityLoads === undefined ? {} : { durabilityLoads }),
    ...(durabilityDisks === undefined ? {} : { durabilityDisks }),
    command: ["deno task bench", ...args].join(" "),
  };
}

async function main(): Promise<void> {
  const opts = parseOptions(Deno.args);
  const started = Date.now();
  // relay and outage get what the four single-run scenarios after them leave
  const hardBudgetMs = opts.quick ? 118_000 : 14.5 * 60_000;
  // (measured: rsyslogd's drain alone waits about 25 s for its own retry before reconnecting)
  const laterMs = (opts.scenarios.includes("drain") ? (opts.quick ? 40_000 : 100_000) : 0) +
    (opts.scenarios.includes("recovery") ? (opts.quick ? 4_000 : 12_000) : 0) +
    (opts.scenarios.includes("footprint") ? (opts.quick ? 12_000 : 35_000) : 0) +
    (opts.scenarios.includes("relp") ? (opts.quick ? 8_000 : 30_000) : 0);
  const budgetMs = hardBudgetMs - laterMs;
  const stallCapMs = opts.quick ? QUICK_STALL_CAP_MS : STALL_CAP_MS;
  const runDeadlineMs = opts.quick ? 20_000 : 60_000;
  const settleMs = opts.quick ? 15_000 : 30_000;
  const removeSignals = installSignalCleanup("bench");
  const log = (line: string) =>
    console.error(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);

  const cacheDir = fileURLToPath(new URL("./.cache", import.meta.url));
  // the durability scenario alone runs no peer: no syslog-ng to prepare
  const durabilityOnly = opts.scenarios.every((s) => s === "durability");
  let sng: SyslogNgResult = { ok: false, reason: "not needed by the durability scenario" };
  if (!durabilityOnly) {
    log("preparing syslog-ng (apt-get download + dpkg -x into bench/.cache on first use)…");
    sng = await ensureSyslogNg(cacheDir);
  }
  const deps: RelayDeps = {
    syslogNg: sng.ok ? sng.install : undefined,
    syslogNgReason: sng.ok ? undefined : sng.reason,
    agentMain: opts.agentMain,
  };
  if (!sng.ok && !durabilityOnly) log(`syslog-ng not available: ${sng.reason}`);

  const relayEntries: RelayEntry[] = [];
  if (opts.scenarios.includes("relay")) {
    for (const loadgen of opts.quick ? LOADGENS.slice(0, 1) : LOADGENS) {
      for (const connections of opts.quick ? CONNECTIONS.slice(0, 1) : CONNECTIONS) {
        for (const relay of RELAY_SCENARIO_RELAYS) {
          if (!opts.relays.has(relay)) continue;
          const noLoggen = loadgen === "loggen" && !sng.ok;
          relayEntries.push({
            relay,
            loadgen,
            connections,
            available: !noLoggen,
            reason: noLoggen ? `loggen not available: ${sng.ok ? "" : sng.reason}` : undefined,
            runs: [],
          });
        }
      }
    }
  }
  const outageEntries: OutageEntry[] = [];
  if (opts.scenarios.includes("outage")) {
    for (const relay of OUTAGE_RELAYS) {
      if (opts.relays.has(relay)) {
        outageEntries.push({
          relay,
          pacedRate: undefined,
          available: true,
          reason: undefined,
          runs: [],
        });
      }
    }
    for (const relay of AGENT_KINDS) {
      if (opts.relays.has(relay)) {
        outageEntries.push({
          relay,
          pacedRate: PACED_RATE,
          available: true,
          reason: undefined,
          runs: [],
        });
      }
    }
  }
  const drainEntries: DrainEntry[] = [];
  if (opts.scenarios.includes("drain")) {
    for (const relay of DRAIN_RELAYS) {
      if (opts.relays.has(relay)) {
        drainEntries.push({ relay, available: true, reason: undefined, runs: [] });
      }
    }
  }
  let footprint: FootprintRun | undefined;
  let recovery: RecoveryRun | undefined;
  let relp: RelpRun | undefined;
  let steady: SteadyResults | undefined;
  let durability: DurabilityLabelRun | undefined;

  // A relay that never started is "not available" and not tried again. One
  // that has run before and then fails to start (the agent is work in
  // progress) gets a failed run; after 2 such failures it is given up.
  const given = new Map<RelayKind, string>();
  const everStarted = new Set<RelayKind>();
  const startFailures = new Map<RelayKind, number>();
  const notStarted = (relay: RelayKind, reason: string): string | undefined => {
    if (!everStarted.has(relay)) {
      given.set(relay, reason);
      for (const e of [...relayEntries, ...outageEntries, ...drainEntries]) {
        if (e.relay === relay) {
          e.available = false;
          e.reason = reason;
        }
      }
      return undefined;
    }
    const n = (startFailures.get(relay) ?? 0) + 1;
    startFailures.set(relay, n);
    if (n >= 2) given.set(relay, reason);
    return `did not start: ${reason}`;
  };

  const base = await tempDir("syslog-bench-");
  let skipped = 0;
  let runNo = 0;
  // runs go round by round; a run is skipped when it would not fit the budget
  const lastMs = new Map<object, number>();
  const attempt = async <T extends { problem: string | undefined }>(
    e: { relay: RelayKind; available: boolean; runs: T[] },
    what: string,
    body: (dir: string) => Promise<T>,
    failed: (problem: string) => T,
    summary: (run: T) => string,
    budget = budgetMs,
  ): Promise<void> => {
    if (!e.available || given.has(e.relay) || isInterrupted()) return;
    if (Date.now() - started + (lastMs.get(e) ?? 15_000) > budget) {
      skipped++;
      return;
    }
    const dir = `${base.path}/run-${++runNo}`;
    const t0 = Date.now();
    try {
      const run = await body(dir);
      everStarted.add(e.relay);
      startFailures.delete(e.relay);
      e.runs.push(run);
      log(`${what}: ${summary(run)}${run.problem ? ` (${run.problem})` : ""}`);
    } catch (err) {
      if (err instanceof RelayUnavailable) {
        const problem = notStarted(e.relay, err.message);
        if (problem !== undefined) e.runs.push(failed(problem));
        log(`${what}: ${problem ?? `not available: ${err.message}`}`);
      } else {
        const problem = `run failed: ${err instanceof Error ? err.message.split("\n")[0] : err}`;
        e.runs.push(failed(problem));
        log(`${what}: ${problem}`);
      }
    } finally {
      lastMs.set(e, Date.now() - t0);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  };

  try {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const e of relayEntries) {
        // the no-relay baseline is a reference ceiling, not a compared figure: once is enough
        if (e.relay === "direct" && round > 1) continue;
        await attempt(
          e,
          `round ${round}/${opts.rounds} relay ${e.relay} ← ${e.loadgen} ×${e.connections}`,
          (dir) =>
            runRelayCase(
              {
                relay: e.relay,
                loadgen: e.loadgen,
                connections: e.connections,
                messages: opts.messages,
                size: SIZE,
                deadlineMs: runDeadlineMs,
              },
              dir,
              deps,
            ),
          failedRelayRun,
          (run) =>
            `${run.msgsPerSec === undefined ? "—" : Math.round(run.msgsPerSec)} msgs/s, ${
              run.cpuSecPerMillion?.toFixed(2) ?? "—"
            } CPU s/1M`,
        );
      }
      for (const e of outageEntries) {
        // the incident configuration only measures its own stall cap: once is enough
        if (e.relay === "rsyslogd-noqueue" && round > 1) continue;
        await attempt(
          e,
          `round ${round}/${opts.rounds} outage ${e.relay}${
            e.pacedRate === undefined ? "" : ` paced ${e.pacedRate}/s`
          }`,
          (dir) =>
            runOutageCase(
              {
                relay: e.relay,
                messages: opts.messages,
                size: SIZE,
                sendDeadlineMs: e.relay === "rsyslogd-noqueue" ? stallCapMs : runDeadlineMs,
                settleMs,
                rate: e.pacedRate,
              },
              dir,
              deps,
            ),
          failedOutageRun,
          (run) =>
            `${
              run.acceptPerSec === undefined ? "—" : Math.round(run.acceptPerSec)
            } msgs/s accepted, worst write ${run.maxWriteWaitMs?.toFixed(1) ?? "—"} ms, disk ${
              run.diskPerMessageByte?.toFixed(3) ?? "—"
            } B/B`,
        );
      }
    }

    // scenarios 3–6: one run each (their own figures are medians/worst over many samples)
    for (const e of drainEntries) {
      await attempt(
        e,
        `drain ${e.relay}`,
        (dir) =>
          runDrainCase(
            {
              relay: e.relay,
              messages: opts.messages,
              size: SIZE,
              liveRate: LIVE_RATE,
              deadlineMs: opts.quick ? 40_000 : 90_000,
              settleMs,
            },
            dir,
            deps,
          ),
        failedDrainRun,
        (run) =>
          `${run.spooled} spooled, drained at ${
            run.drainPerSec === undefined ? "—" : Math.round(run.drainPerSec)
          } msgs/s (first line after ${
            run.firstLineMs?.toFixed(0) ?? "—"
          } ms), live latency median ${run.liveMedianMs?.toFixed(1) ?? "—"} ms, max ${
            run.liveMaxMs?.toFixed(1) ?? "—"
          } ms`,
        hardBudgetMs,
      );
    }
    const single = async <T>(
      what: string,
      body: (dir: string) => Promise<T>,
      summary: (r: T) => string,
    ): Promise<T | undefined> => {
      if (isInterrupted()) return undefined;
      const dir = `${base.path}/run-${++runNo}`;
      try {
        const r = await body(dir);
        log(`${what}: ${summary(r)}`);
        return r;
      } catch (err) {
        log(`${what}: failed: ${err instanceof Error ? err.message.split("\n")[0] : err}`);
        throw err;
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    };
    const problemText = (err: unknown) =>
      `run failed: ${err instanceof Error ? err.message.split("\n")[0] : err}`;
    if (opts.scenarios.includes("recovery")) {
      const kills = opts.quick ? 5 : 20;
      recovery = await single(
        `recovery: rsyslogd SIGKILLed ${kills}×`,
        (dir) => runRecovery(kills, dir),
        (r) =>
          `median ${r.medianMs ?? "—"} ms, worst ${r.worstMs ?? "—"} ms${
            r.problem ? ` (${r.problem})` : ""
          }`,
      ).catch((err): RecoveryRun => ({
        kills,
        samplesMs: [],
        medianMs: undefined,
        worstMs: undefined,
        bestMs: undefined,
        restarts: undefined,
        problem: problemText(err),
      }));
    }
    if (opts.scenarios.includes("footprint")) {
      const windowMs = opts.quick ? 3_000 : 10_000;
      footprint = await single(
        `footprint agent-fallback`,
        (dir) =>
          runFootprintCase(
            {
              relay: "agent-fallback",
              idleMs: windowMs,
              loadMs: windowMs,
              rate: FOOTPRINT_RATE,
              size: SIZE,
            },
            dir,
            deps,
          ),
        (r) =>
          [r.idle, r.load, r.spooling].map((p) =>
            p === undefined
              ? "—"
              : `${((p.rssBytes ?? 0) / 2 ** 20).toFixed(0)} MiB ${
                p.cpuPercent?.toFixed(1) ?? "—"
              }% CPU`
          ).join(" / ") + (r.problem ? ` (${r.problem})` : ""),
      ).catch((err): FootprintRun => ({
        idle: undefined,
        load: undefined,
        spooling: undefined,
        problem: problemText(err),
      }));
    }
    if (opts.scenarios.includes("relp")) {
      const [count, baseline] = opts.quick ? [20_000, 2_000] : [100_000, 10_000];
      relp = await single(
        "relp",
        (dir) => runRelp(count, baseline, dir),
        (r) =>
          `agent/omrelp (window 128) ${r.ratioWindow128 ?? "—"}×, through agent ${
            r.ratioThroughAgent ?? "—"
          }×${r.problem ? ` (${r.problem})` : ""}`,
      ).catch((err): RelpRun => ({
        args: [],
        cases: [],
        ratioWindow128: undefined,
        ratioThroughAgent: undefined,
        problem: problemText(err),
      }));
    }

    if (opts.scenarios.includes("steady") && !isInterrupted()) {
      steady = await runSteadyScenario({
        quick: opts.quick,
        rounds: opts.steadyRounds,
        relays: opts.steadyRelays,
        ...(opts.steadyLoads === undefined ? {} : { loads: opts.steadyLoads }),
        ...(opts.steadyWarmupMs === undefined ? {} : { warmupMs: opts.steadyWarmupMs }),
        budgetMs: opts.quick ? QUICK_STEADY_BUDGET_MS : STEADY_BUDGET_MS,
        baseDir: base.path,
        command: opts.command,
        syslogNgVersion: sng.ok ? sng.install.version : `not available: ${sng.reason}`,
        log,
      }, deps);
    }

    if (opts.scenarios.includes("durability") && !isInterrupted()) {
      durability = await runDurabilityScenario({
        label: opts.label,
        agentMain: opts.agentMain,
        quick: opts.quick,
        loads: opts.durabilityLoads,
        disks: opts.durabilityDisks,
        budgetMs: opts.quick ? QUICK_DURABILITY_BUDGET_MS : DURABILITY_BUDGET_MS,
        baseDir: base.path,
        command: opts.command,
        log,
      });
    }

    if (isInterrupted()) return; // the signal handler cleans up and exits
    const notes = describe(opts, deps, sng.ok ? undefined : sng.reason);
    for (const [relay, reason] of given) {
      if (everStarted.has(relay)) {
        notes.unshift(
          `${relay}: ran, then failed to start twice; its later runs were not tried: ${reason}`,
        );
      }
    }
    if (skipped > 0) {
      notes.unshift(
        `${skipped} run(s) skipped: the bench's time budget (${budgetMs / 1000} s) ran out.`,
      );
    }
    const results: Results = {
      meta: {
        date: new Date().toISOString(),
        command: opts.command,
        quick: opts.quick,
        rounds: opts.rounds,
        messages: opts.messages,
        messageBytes: SIZE,
        outageSendCapSeconds: stallCapMs / 1000,
        pacedRate: PACED_RATE,
        liveRate: LIVE_RATE,
        footprintRate: FOOTPRINT_RATE,
        durationSeconds: (Date.now() - started) / 1000,
        machine: await machineInfo(sng.ok ? sng.install.version : `not available: ${sng.reason}`),
        loggen: `loggen ${
          loggenArgs({ port: 0, count: opts.messages, connections: 1, size: SIZE, deadlineMs: 0 })
            .join(" ")
        }`
          .replace(/ 127\.0\.0\.1 0$/, " 127.0.0.1 PORT"),
        notes,
      },
      relay: relayEntries,
      outage: outageEntries,
      drain: drainEntries,
      recovery,
      footprint,
      relp,
      steady,
      durability: undefined, // writeReports files this run's label beside the other's
    };
    const json = fileURLToPath(new URL("./results/latest.json", import.meta.url));
    const markdown = fileURLToPath(new URL("../BENCHMARKS.md", import.meta.url));
    await writeReports(results, { json, markdown }, {
      main: opts.scenarios.some((s) => s !== "steady" && s !== "durability"),
      steady: steady !== undefined,
      durability,
    });
    log(`wrote ${json} and ${markdown}`);
  } finally {
    await runCleanups();
    removeSignals();
  }
}

function failedRelayRun(problem: string): RelayRun {
  return {
    msgsPerSec: undefined,
    elapsedMs: undefined,
    cpuSecPerMillion: undefined,
    peakRssBytes: undefined,
    delivered: 0,
    sent: 0,
    agent: undefined,
    problem,
  };
}

function failedOutageRun(problem: string): OutageRun {
  return {
    accepted: 0,
    acceptPerSec: undefined,
    maxWriteWaitMs: undefined,
    stalled: false,
    diskBytes: 0,
    diskApparentBytes: 0,
    diskPerMessageByte: undefined,
    cpuSecPerMillion: undefined,
    peakRssBytes: undefined,
    agent: undefined,
    problem,
  };
}

function failedDrainRun(problem: string): DrainRun {
  return {
    spooled: 0,
    firstLineMs: undefined,
    drainMs: undefined,
    drainPerSec: undefined,
    drainConnectedPerSec: undefined,
    liveSent: 0,
    liveDuringDrain: 0,
    liveDuringDrainSeen: 0,
    liveMedianMs: undefined,
    liveMaxMs: undefined,
    liveMaxAllMs: undefined,
    problem,
  };
}

/** The "How it is measured" bullets: every peer's configuration and every method. */
function describe(opts: Options, deps: RelayDeps, syslogNgReason: string | undefined): string[] {
  const squash = (s: string) => s.replace(/#.*\n/g, "").replace(/\s+/g, " ").trim();
  const rsyslogAction = (queue: boolean) =>
    squash(
      /action\([^)]*\)/.exec(
        rsyslogRelayConf({ inputPort: 0, collectorPort: 0, workDir: "SPOOL", queue }),
      )?.[0] ?? "",
    ).replace(/port="0"/, 'port="CPORT"');
  const sngConf = squash(
    syslogNgRelayConf({ inputPort: 0, collectorPort: 0, spoolDir: "SPOOL" }).replace(
      /^@version.*\n/,
      "",
    ),
  ).replace(/port\(0\)/g, "port(PORT)");
  return [
    `Relays (${RELAY_LABELS.rsyslogd}): \`rsyslogd -n -iNONE\`, imtcp on 127.0.0.1 → \`${
      rsyslogAction(true)
    }\`.`,
    `Relays (${RELAY_LABELS["rsyslogd-noqueue"]}, outage only): \`${rsyslogAction(false)}\`.`,
    deps.syslogNg === undefined
      ? `syslog-ng: not available (${syslogNgReason ?? "unknown"}).`
      : `Relays (${
        RELAY_LABELS["syslog-ng"]
      }): Debian's syslog-ng-core unpacked into bench/.cache (not installed: it conflicts with rsyslog), \`syslog-ng -F --no-caps\` with \`${sngConf}\`. It forwards LF-framed: its octet-counted \`syslog()\` destination always prepends its own RFC 5424 header, the \`network()\` destination with \`$MSG\\n\` passes the message unchanged.`,
    `Relays (agent): \`deno run --allow-all --unstable-net main.ts run --config FILE\` with \`${
      JSON.stringify(agentConfig({ inputPort: 0, collectorPort: 0, dir: "DIR", mode: "fallback" }))
        .replace(/127\.0\.0\.1:0/g, "127.0.0.1:PORT")
    }\` (\`"mode": "always"\` for the second column); the measured PID is deno's own.`,
    "Collector: rsyslogd with tests/_helpers/rsyslogd.ts's `collectorConf` (imtcp on 127.0.0.1, every message to a file as `%rawmsg%\\n`, flushed per batch). The end of a run is when the file's size reaches N × the first line's length; afterwards its LF count is checked against N.",
    "Deno sender (bench/load.ts, a separate process): RFC 5424 messages of exactly 256 bytes with a 10-digit sequence number, octet-counted (`256 <14>1 …`), 512 frames per socket write, N split evenly over the connections; every `write()` is timed (worst wait).",
    `loggen (syslog-ng's, from the same package): \`loggen --inet --stream --syslog-proto --size 256 --number N/C --active-connections C --rate 1000000000 --interval DEADLINE 127.0.0.1 PORT\` (\`--interval\` because loggen otherwise stops after 10 s, before \`--number\` is reached). With \`--syslog-proto\` loggen frames octet-counted (\`256 <38>1 …\`; the 256 counted bytes end in an LF, which rsyslogd drops on reception); without it, it would send LF-terminated RFC 3164 lines. \`--number\` is per connection. loggen only reports at 0.5 s ticks, so its start is taken as its spawn time and its end from the collector file.`,
    "CPU: utime + stime of /proc/PID/stat (all threads) of the relay process, taken just before the load starts and when the collector holds everything (outage: once the spool has settled), divided by `getconf CLK_TCK`. RSS: VmHWM of /proc/PID/status.",
    `Outage: the collector port is a free port with no listener (connections refused). One connection, N messages. Accepted = the sender finished writing (data still in the kernel's socket buffers counts as accepted). For the agent, the bench then waits for status \`spool.messages + counters.dropped == N\`; for the others until the queue dir's size has not changed for 1.5 s (at most ${
      opts.quick ? 15 : 30
    } s). Disk = allocated blocks (st_blocks × 512) of the files under the relay's queue/spool dir, divided by N × 256. rsyslogd's disk-assisted queue keeps up to 80,000 messages in RAM before it spills, so with N = ${
      opts.messages.toLocaleString("en-US")
    } its disk figure covers ${
      Math.max(0, Math.round((1 - 80_000 / opts.messages) * 100))
    }% of the data at most.`,
    'Why rsyslogd\'s queue has explicit size and watermarks: with only (`queue.type="LinkedList" queue.filename=… queue.saveOnShutdown="on" action.resumeRetryCount="-1"`, so the default action queue of 1000 messages and high watermark 900), rsyslogd 8.2302 never went to disk while the collector was down: impstats showed the action queue full at 1000, `discarded.full` growing, the DA queue empty, and the sender stalled (about 84,000 of 200,000 messages written in 15 s). With `queue.highWatermark` below the full mark it spills as intended.',
    `Time bounds: each relay run is abandoned after ${
      opts.quick ? 20 : 60
    } s; the incident configuration's sender is stopped after ${
      (opts.quick ? QUICK_STALL_CAP_MS : STALL_CAP_MS) / 1000
    } s (and it runs in the first round only: its figures are its stall cap); every process is killed at the end of its run (and on Ctrl-C). Runs go round by round, so spread includes drift; the no-relay baseline runs in the first round only.`,
    `Outage, paced: the agents once more with the sender paced to ${
      PACED_RATE.toLocaleString("en-US")
    } msgs/s (about half their unpaced accept rate; batches of about 1 ms worth), so the worst write wait shows waiting on the relay rather than two cores saturated by sender, agent and spool writes.`,
    `Drain (scenario 3): the relay first takes N messages with nothing on its collector port (as in the outage scenario, then settled), then an rsyslogd collector starts on that port. Drain time: collector listening → its file holds all N spooled lines (all lines are 257 bytes; the file is read incrementally every 5 ms). "First line" is the reconnect delay inside that time; "connected rate" leaves it out. Meanwhile the bench sends a live stream of ${LIVE_RATE} msgs/s into the relay over its own connection (PRI <13>, a sequence number and the send time in each message); latency = poll time at which a live line is in the collector file − its send time. Live latency median/max covers the live messages sent during the drain proper (first spooled line at the collector → all in); "max incl. reconnect" covers every live message since the collector came up. rsyslogd keeps its scenario-2 configuration (action.resumeInterval at its default), so its reconnect delay is its own retry timing.`,
    `Recovery (scenario 4): \`deno run -A --unstable-net bench/watchdog_recovery.ts --kills K\` (K = ${
      opts.quick ? 5 : 20
    }) as a child; its printed samples are parsed. monit and systemd figures are their documented timings, not measured here.`,
    `Footprint (scenario 5): the agent (spool fallback, the default) as a process; VmRSS from /proc/PID/status at the end of each window and its maximum sampled every 200 ms; CPU% = utime+stime over the window (100% = one core). Windows: idle (after 1 s settling, collector up), then the Deno sender paced at ${
      FOOTPRINT_RATE.toLocaleString("en-US")
    } msgs/s with the collector up, then the same with the collector stopped (spooling); ${
      opts.quick ? 3 : 10
    } s each.`,
    `RELP (scenario 6): \`deno run -A --unstable-net bench/relp.ts ${
      opts.quick ? "--count 20000 --baseline-count 2000" : "--count 100000 --baseline-count 10000"
    }\` as a child; its four cases are parsed. As that file documents, librelp's client (omrelp) stalls about 200 ms each time its window of 128 fills on loopback, so case 1 runs fewer messages and the 2/1 ratio mostly measures that stall; 4/3 (omrelp window 1024, with and without the agent in between) is the fairer comparison.`,
  ];
}

if (import.meta.main) {
  await main();
}
