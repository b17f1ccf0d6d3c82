/**
 * Scenarios 4 and 6 run the other engineers' scripts as children and parse
 * what they print: bench/watchdog_recovery.ts (rsyslogd SIGKILLed, time to a
 * passing probe) and bench/relp.ts (agent RELP output vs rsyslog omrelp).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { spawnLogged, tailOf } from "../testkit/mod.ts";

/** Reference figures for scenario 4: documented behaviour, not measured here. */
export const RECOVERY_REFERENCES: { name: string; ms: number; note: string }[] = [
  {
    name: "monit, default cycle (upstream)",
    ms: 30_000,
    note: "`set daemon 30`: a dead process is noticed at the next cycle, up to 30 s",
  },
  {
    name: "monit, default cycle (Debian package)",
    ms: 120_000,
    note: "Debian's /etc/monit/monitrc ships `set daemon 120`",
  },
  {
    name: "systemd Restart=on-failure, RestartSec=100ms",
    ms: 100,
    note: "restart attempted after 100 ms; no check that the new process handles messages",
  },
];

/** Figures of bench/watchdog_recovery.ts. */
export interface RecoveryRun {
  /** Kills asked for. */
  kills: number;
  /** SIGKILL → passing probe, ms, one per kill. */
  samplesMs: number[];
  /** Median of the samples. */
  medianMs: number | undefined;
  /** Worst sample. */
  worstMs: number | undefined;
  /** Best sample. */
  bestMs: number | undefined;
  /** Restarts counted by the agent. */
  restarts: number | undefined;
  /** Why the figures are missing or suspect. */
  problem: string | undefined;
}

/** One case of bench/relp.ts. */
export interface RelpCaseResult {
  /** The case as relp.ts names it. */
  name: string;
  /** Messages sent. */
  count: number;
  /** Seconds to the last message at the imrelp collector. */
  seconds: number;
  /** msgs/s. */
  perSecond: number;
  /** Duplicates at the collector. */
  duplicates: number;
}

/** Figures of bench/relp.ts. */
export interface RelpRun {
  /** Arguments relp.ts was run with. */
  args: string[];
  /** Its four cases, in order. */
  cases: RelpCaseResult[];
  /** Agent RELP out / rsyslog omrelp, both window 128 (case 2 / case 1). */
  ratioWindow128: number | undefined;
  /** omrelp(1024) → agent → imrelp over omrelp(1024) → imrelp (case 4 / case 3). */
  ratioThroughAgent: number | undefined;
  /** Why the figures are missing or suspect. */
  problem: string | undefined;
}

const WATCHDOG_TS = fileURLToPath(new URL("./watchdog_recovery.ts", import.meta.url));
const RELP_TS = fileURLToPath(new URL("./relp.ts", import.meta.url));

/** Runs `deno run -A --unstable-net SCRIPT args` with its output in `log`; kills it at `timeoutMs`. */
async function runScript(
  script: string,
  args: string[],
  log: string,
  timeoutMs: number,
): Promise<{ output: string; problem: string | undefined }> {
  const child = spawnLogged({
    cmd: Deno.execPath(),
    args: ["run", "-A", "--unstable-net", script, ...args],
    logPath: log,
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const outcome = await Promise.race([child.status, late]);
    const output = await tailOf(log, 64_000);
    if (outcome === "timeout") {
      return { output, problem: `did not finish within ${timeoutMs / 1000} s` };
    }
    return {
      output,
      problem: outcome.success
        ? undefined
        : `exited with code ${outcome.code}: ${output.split("\n").slice(-3).join(" | ")}`,
    };
  } finally {
    clearTimeout(timer);
    await child.stop(5_000);
  }
}

/** Runs bench/watchdog_recovery.ts with `--kills` and parses its summary. */
export async function runRecovery(kills: number, dir: string): Promise<RecoveryRun> {
  await Deno.mkdir(dir, { recursive: true });
  const { output, problem } = await runScript(
    WATCHDOG_TS,
    ["--kills", String(kills)],
    `${dir}/watchdog_recovery.log`,
    30_000 + kills * 12_000,
  );
  const each = /^\s*each:\s*(.+)$/m.exec(output)?.[1];
  const samplesMs = each === undefined
    ? []
    : each.split(",").map((s) => Number(s.trim())).filter(Number.isFinite);
  const summary = /median:\s*([\d.]+) ms\s+worst:\s*([\d.]+) ms\s+best:\s*([\d.]+) ms/.exec(output);
  const restarts = /restarts counted by the agent:\s*(\d+)/.exec(output)?.[1];
  return {
    kills,
    samplesMs,
    medianMs: summary?.[1] === undefined ? undefined : Number(summary[1]),
    worstMs: summary?.[2] === undefined ? undefined : Number(summary[2]),
    bestMs: summary?.[3] === undefined ? undefined : Number(summary[3]),
    restarts: restarts === undefined ? undefined : Number(restarts),
    problem: problem ??
      (summary === null ? `no summary in its output: ${output.slice(-300)}` : undefined),
  };
}

/** Runs bench/relp.ts with `--count` and `--baseline-count` and parses its four cases. */
export async function runRelp(
  count: number,
  baselineCount: number,
  dir: string,
): Promise<RelpRun> {
  await Deno.mkdir(dir, { recursive: true });
  const args = ["--count", String(count), "--baseline-count", String(baselineCount)];
  const { output, problem } = await runScript(RELP_TS, args, `${dir}/relp.log`, 240_000);
  const cases: RelpCaseResult[] = [];
  const re = /^([1-4] .+?)\s+(\d+) msgs\s+([\d.]+) s\s+(\d+) msg\/s\s+duplicates (\d+)\s*$/gm;
  for (const m of output.matchAll(re)) {
    cases.push({
      name: m[1]!.trim(),
      count: Number(m[2]),
      seconds: Number(m[3]),
      perSecond: Number(m[4]),
      duplicates: Number(m[5]),
    });
  }
  const ratio = (label: string) => {
    const m = new RegExp(`${label}\\): ([\\d.]+)×`).exec(output);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  };
  return {
    args,
    cases,
    ratioWindow128: ratio("\\(2/1"),
    ratioThroughAgent: ratio("\\(4/3"),
    problem: problem ??
      (cases.length !== 4 ? `parsed ${cases.length} of 4 cases: ${output.slice(-300)}` : undefined),
  };
}
