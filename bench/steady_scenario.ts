/**
 * `deno task bench --only steady`: every steady relay at every paced load
 * (bench/steady.ts), round by round, within a time budget; the figures for
 * BENCHMARKS.md's steady-state section.
 *
 * @module
 */

import { isInterrupted } from "../testkit/mod.ts";
import { type Machine, machineInfo } from "./machine_info.ts";
import { type RelayDeps, RelayUnavailable } from "./relays.ts";
import {
  failedSteadyRun,
  QUICK_STEADY_LOADS,
  runSteadyCase,
  STEADY_LABELS,
  STEADY_LOADS,
  STEADY_RELAYS,
  type SteadyLoad,
  type SteadyRelay,
  type SteadyRun,
} from "./steady.ts";

/** One relay at one load, and all its rounds. */
export interface SteadyEntry extends SteadyLoad {
  /** The relay. */
  relay: SteadyRelay;
  /** False when the relay could not run here. */
  available: boolean;
  /** Why not available. */
  reason: string | undefined;
  /** Every round. */
  runs: SteadyRun[];
}

/** The steady scenario's part of bench/results/latest.json. */
export interface SteadyResults {
  /** When and how it ran. */
  meta: {
    date: string;
    command: string;
    quick: boolean;
    rounds: number;
    warmupMs: number;
    measureMs: number;
    messageBytes: number;
    durationSeconds: number;
    /** /proc/loadavg (1-minute figure) before and after the scenario. */
    loadAverage: [number, number];
    machine: Machine;
    notes: string[];
  };
  /** The loads, in run order. */
  loads: SteadyLoad[];
  /** Every relay × load. */
  entries: SteadyEntry[];
}

/** How the scenario is to run. */
export interface SteadyOptions {
  /** Shorter windows and two loads. */
  quick: boolean;
  /** Rounds per configuration. */
  rounds: number;
  /** Relays to run (others are left out of the report). */
  relays: ReadonlySet<string>;
  /** These loads instead of the full (or quick) list. */
  loads?: SteadyLoad[];
  /** The warm-up instead of the default (quick 1 s, else 20 s). */
  warmupMs?: number;
  /** Configurations that would end after this many ms from the start are skipped. */
  budgetMs: number;
  /** Where each run gets a fresh directory. */
  baseDir: string;
  /** The command line, for the report. */
  command: string;
  /** `syslog-ng --version` or why it is not available, for the report. */
  syslogNgVersion: string;
  /** Progress lines. */
  log(line: string): void;
}

const SIZE = 256;

async function loadAverage(): Promise<number> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return Number(text.split(" ")[0] ?? NaN);
}

/** Runs the scenario; never throws for a failed run (the run records its problem). */
export async function runSteadyScenario(
  opts: SteadyOptions,
  deps: RelayDeps,
): Promise<SteadyResults> {
  const started = Date.now();
  const load0 = await loadAverage();
  // A host runs all day: the figures are of a warm relay (V8 optimizes the agent's hot paths
  // over its first seconds; with 2 s the agent measured up to 2x what it needs once warm).
  const warmupMs = opts.warmupMs ?? (opts.quick ? 1_000 : 20_000);
  const measureMs = opts.quick ? 3_000 : 8_000;
  const loads = opts.loads ?? (opts.quick ? QUICK_STEADY_LOADS : STEADY_LOADS);
  const relays = STEADY_RELAYS.filter((r) => opts.relays.has(r));
  const entries: SteadyEntry[] = loads.flatMap((l) =>
    relays.map((relay) => ({ ...l, relay, available: true, reason: undefined, runs: [] }))
  );
  const lastMs = new Map<SteadyRelay, number>();
  const everStarted = new Set<SteadyRelay>();
  let skipped = 0;
  let runNo = 0;
  for (let round = 1; round <= opts.rounds; round++) {
    for (const e of entries) {
      if (!e.available || isInterrupted()) continue;
      const expect = lastMs.get(e.relay) ?? warmupMs + measureMs + 5_000;
      if (Date.now() - started + expect > opts.budgetMs) {
        skipped++;
        continue;
      }
      const what = `round ${round}/${opts.rounds} steady ${e.relay} ${e.rate}/s × ${e.batch}`;
      const dir = `${opts.baseDir}/steady-${++runNo}`;
      const t0 = Date.now();
      try {
        const run = await runSteadyCase(
          { relay: e.relay, rate: e.rate, batch: e.batch, size: SIZE, warmupMs, measureMs },
          dir,
          deps,
        );
        everStarted.add(e.relay);
        e.runs.push(run);
        opts.log(`${what}: ${summary(run)}`);
      } catch (err) {
        const message = err instanceof Error ? err.message.split("\n")[0] ?? "" : String(err);
        if (err instanceof RelayUnavailable && !everStarted.has(e.relay)) {
          for (const x of entries.filter((x) => x.relay === e.relay)) {
            x.available = false;
            x.reason = message;
          }
          opts.log(`${what}: not available: ${message}`);
        } else {
          e.runs.push(failedSteadyRun(`run failed: ${message}`));
          opts.log(`${what}: run failed: ${message}`);
        }
      } finally {
        lastMs.set(e.relay, Date.now() - t0);
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    }
  }
  const load1 = await loadAverage();
  const notes = describeSteady(warmupMs, measureMs);
  if (skipped > 0) {
    notes.unshift(
      `${skipped} configuration(s) skipped: the steady scenario's time budget (${
        Math.round(opts.budgetMs / 1000)
      } s) ran out.`,
    );
  }
  return {
    meta: {
      date: new Date().toISOString(),
      command: opts.command,
      quick: opts.quick,
      rounds: opts.rounds,
      warmupMs,
      measureMs,
      messageBytes: SIZE,
      durationSeconds: (Date.now() - started) / 1000,
      loadAverage: [load0, load1],
      machine: await machineInfo(opts.syslogNgVersion),
      notes,
    },
    loads,
    entries,
  };
}

function summary(run: SteadyRun): string {
  const mib = (b: number | undefined) => b === undefined ? "—" : (b / 2 ** 20).toFixed(0);
  return `${run.cpuSecPerMillion?.toFixed(2) ?? "—"} CPU s/1M, ${
    run.cpuPercent?.toFixed(1) ?? "—"
  }% CPU, peak ${mib(run.peakRssBytes)} MiB, achieved ${
    run.achievedPerSec === undefined ? "—" : Math.round(run.achievedPerSec)
  }/s${run.problem ? ` (${run.problem})` : ""}${run.note ? ` [${run.note}]` : ""}`;
}

/** The method, for the report's notes. */
function describeSteady(warmupMs: number, measureMs: number): string[] {
  return [
    `Relays: ${
      STEADY_RELAYS.map((r) => `${STEADY_LABELS[r]} (\`${r}\`)`).join("; ")
    }. The first four as in the relay scenario (bench/relays.ts, same configurations); the minimal Deno relay is bench/min_relay.ts (\`deno run --allow-net=127.0.0.1\`: read → write of the bytes to one collector connection, no framing, no spool, no timers), this runtime's floor.`,
    "Sender: bench/steady_sender.ts as its own process, one connection, RFC 5424 messages of 256 bytes octet-counted; every socket write is exactly N messages and write k is due k × N / R s after the first (a late timer is caught up with further writes of N, never merged). Achieved rate = messages / (first write → last write returned + one interval).",
    "Sink: a TCP listener in the bench process that counts messages on every connection from the relay (octet-counted, or LF-terminated for syslog-ng) and discards them. After the sender has finished, the run waits until the count holds still; a run in which the sink counted fewer (or more) messages than were sent is reported as lost (duplicated) with no CPU figure.",
    `Window: ${warmupMs / 1000} s after the first message reaches the sink (warm-up), ${
      measureMs / 1000
    } s of measurement; the sender goes on for 1 s after it. CPU = the relay process's CPU time in the window, summed over its threads from /proc/PID/task/TID/schedstat (ns); clock ticks of /proc/PID/stat (utime + stime, 10 ms) are recorded beside it and used instead when the two differ by more than 20 ms + 5% (a thread that worked and exited inside the window is in the ticks only; idle worker threads that exit are harmless). CPU s / 1M msgs = that CPU / the messages the sink counted in the window × 10⁶; CPU % = CPU / window (100 = one core). Peak RSS: VmHWM at the end of the window (the process's lifetime peak, startup included); steady RSS: median of VmRSS sampled every 500 ms in the window.`,
    "Each configuration gets fresh processes (sink, relay, sender); configurations go load by load, all relays at one load before the next, round by round.",
  ];
}
