/**
 * The status document (`agent status --json`, the control socket's `status`).
 *
 * @module
 */

import type { CollectorStatus, Counters } from "../relay/mod.ts";
import type { SpoolStats } from "../spool/mod.ts";
import { VERSION } from "../ground/mod.ts";
import {
  DURABILITY_LAG_DEGRADED_MS,
  NOTHING_RECEIVED_MS,
  RECENT_RESTART_MS,
} from "../config/mod.ts";
import { type RsyslogdStatus, UNMANAGED } from "../watchdog/mod.ts";

/** The status document of the spec. */
export interface Status {
  /** The overall verdict (see {@linkcode buildStatus} for what makes each). */
  state: "ok" | "degraded" | "critical";
  /** One sentence per problem, most severe first; empty when `ok`. */
  reasons: string[];
  /** The agent process: its version, pid, and seconds since it started. */
  agent: { version: string; pid: number; uptimeSeconds: number };
  /** The supervised rsyslogd (mode `off`, state `unmanaged` when not supervised). */
  rsyslogd: RsyslogdStatus;
  /** Every configured collector, in order of preference. */
  collectors: CollectorStatus[];
  /** Every input: whether it listens, and when it last received something. */
  inputs: InputStatus[];
  /** The on-disk queue. */
  spool: SpoolStats;
  /** Message counts since the agent started (see `Counters`). */
  counters: {
    received: number;
    forwarded: number;
    dropped: number;
    malformed: number;
    truncated: number;
    /** The watchdog's canaries that came back and were consumed (not forwarded). */
    canaries: number;
  };
}

/** An input as status reports it. */
export interface InputStatus {
  /** What it listens on: `tcp:127.0.0.1:5514`, `unix:/dev/log`, … */
  name: string;
  /** Whether it accepts. */
  listening: boolean;
  /** Why it does not listen, `""` while it does. */
  problem: string;
  /** When it last received a message (ISO 8601 UTC), `""`: nothing since the agent started. */
  lastReceivedAt: string;
}

/** What {@linkcode buildStatus} is made from. */
export interface StatusInput {
  now: number;
  startedAt: number;
  collectors: CollectorStatus[];
  spool: SpoolStats;
  counters: Counters;
  /** Messages dropped in the last minute. */
  droppedLastMinute: number;
  /** What is wrong with the spool (unusable, disk full, files removed), if anything. */
  spoolProblem?: { text: string; critical: boolean } | undefined;
  /** The watchdog's view, when rsyslogd is managed. */
  rsyslogd?: RsyslogdStatus;
  /** Why rsyslogd is failed, down, restarting or failing its probe; "" or absent when fine. */
  rsyslogdProblem?: string;
  /** Messages set aside as dead letters in the last minute, and the file they went to. */
  deadLetters?: { lastMinute: number; path: string };
  /**
   * Every input: why it is not listening (`""` while it is) and when it last
   * received something (clock ms, 0: never).
   */
  inputs?: { name: string; problem: string; lastReceivedAt: number }[];
  /** Whether an rsyslogd runs on the host (asked only when no input has received for long). */
  rsyslogdRunning?: () => boolean;
}

/**
 * Builds the status and its overall state: `critical` when messages were dropped
 * in the last minute, the spool is unusable or cannot write, an input is not
 * listening, or a managed rsyslogd is down or failed, `degraded` when a
 * collector is down (or a member of a pool that is up), the spool holds messages,
 * no input has received anything for `NOTHING_RECEIVED_MS` while no rsyslogd
 * runs (nothing feeds the agent), the oldest message not yet
 * durable is older than `DURABILITY_LAG_DEGRADED_MS` (the disk is behind),
 * messages were set aside as dead letters in the last minute, or rsyslogd is restarting, fails its probe or
 * restarted in the last 5 minutes; `ok` otherwise. Reasons come
 * most severe first.
 */
export function buildStatus(s: StatusInput): Status {
  const critical: string[] = [];
  const degraded: string[] = [];
  const problem = s.spoolProblem;
  if (problem !== undefined) (problem.critical ? critical : degraded).push(problem.text);
  if (s.droppedLastMinute > 0) {
    critical.push(
      problem === undefined
        ? `spool full: ${s.droppedLastMinute} message(s) dropped in the last minute`
        : `${s.droppedLastMinute} message(s) dropped in the last minute`,
    );
  }
  for (const c of s.collectors) {
    if (c.state !== "up") {
      const secs = Math.round((s.now - Date.parse(c.since)) / 1000);
      const why = c.lastError ? `: ${c.lastError}` : "";
      degraded.push(`collector ${c.address} ${c.state} for ${secs}s${why}`);
      continue;
    }
    // A pool that is up with members down carries on with less room: degraded.
    for (const m of c.members ?? []) {
      if (m.state === "up") continue;
      const secs = Math.round((s.now - Date.parse(m.since)) / 1000);
      const why = m.lastError ? `: ${m.lastError}` : "";
      degraded.push(`pool ${c.address}: member ${m.address} ${m.state} for ${secs}s${why}`);
    }
  }
  const lag = s.spool.lag;
  if (lag.ageSeconds * 1000 > DURABILITY_LAG_DEGRADED_MS) {
    degraded.push(
      `the disk is behind: ${
        lag.ageSeconds.toFixed(1)
      } s of messages not yet durable (${lag.messages} message(s), ${lag.bytes} bytes; a kill -9 now would lose them)`,
    );
  }
  if (s.spool.messages > 0) {
    degraded.push(
      `spooling: ${s.spool.messages} message(s) on disk, oldest ${s.spool.oldestAgeSeconds}s`,
    );
  }
  const inputs = s.inputs ?? [];
  for (const i of inputs) {
    if (i.problem !== "") critical.push(`input ${i.name} not listening: ${i.problem}`);
  }
  const last = Math.max(s.startedAt, ...inputs.map((i) => i.lastReceivedAt));
  if (
    inputs.length > 0 && s.now - last >= NOTHING_RECEIVED_MS && s.rsyslogdRunning !== undefined &&
    !s.rsyslogdRunning()
  ) {
    const minutes = Math.floor((s.now - last) / 60_000);
    degraded.push(
      `no input has received a message in ${minutes} min and rsyslogd is not running: nothing feeds the agent (install rsyslog, or point senders at its inputs)`,
    );
  }
  rsyslogdReasons(s, critical, degraded);
  const dead = s.deadLetters;
  if (dead !== undefined && dead.lastMinute > 0) {
    degraded.push(
      `${dead.lastMinute} message(s) refused by a collector in the last minute, set aside in ${dead.path}`,
    );
  }
  const c = s.counters;
  return {
    state: critical.length > 0 ? "critical" : degraded.length > 0 ? "degraded" : "ok",
    reasons: [...critical, ...degraded],
    agent: {
      version: VERSION,
      pid: Deno.pid,
      uptimeSeconds: Math.floor((s.now - s.startedAt) / 1000),
    },
    rsyslogd: s.rsyslogd ?? UNMANAGED,
    collectors: s.collectors,
    inputs: inputs.map((i) => ({
      name: i.name,
      listening: i.problem === "",
      problem: i.problem,
      lastReceivedAt: i.lastReceivedAt === 0 ? "" : new Date(i.lastReceivedAt).toISOString(),
    })),
    spool: s.spool,
    counters: {
      received: c.received,
      forwarded: c.forwarded,
      dropped: c.dropped,
      malformed: c.malformed,
      truncated: c.truncated,
      canaries: c.canaries,
    },
  };
}

/**
 * A managed rsyslogd that is down or failed is critical; one that is
 * restarting, fails its probe or restarted in the last 5 minutes is degraded.
 */
function rsyslogdReasons(s: StatusInput, critical: string[], degraded: string[]): void {
  const r = s.rsyslogd;
  if (r === undefined || r.mode === "off") return;
  const why = s.rsyslogdProblem ? `: ${s.rsyslogdProblem}` : "";
  if (r.state === "down" || r.state === "failed") critical.push(`rsyslogd ${r.state}${why}`);
  else if (r.state === "restarting") degraded.push(`rsyslogd restarting${why}`);
  else if (why !== "") degraded.push(`rsyslogd probe failing${why}`);
  if (r.lastRestartAt !== "") {
    const ago = s.now - Date.parse(r.lastRestartAt);
    if (ago < RECENT_RESTART_MS) {
      degraded.push(
        `rsyslogd restarted ${
          Math.max(0, Math.round(ago / 1000))
        }s ago (${r.restarts} restart(s); last exit: ${r.lastExit})`,
      );
    }
  }
}
