/**
 * The status document (`agent status --json`, the control socket's `status`).
 *
 * @module
 */

import type { CollectorStatus } from "../relay/forwarder.ts";
import type { Counters } from "../relay/counters.ts";
import type { SpoolStats } from "../spool/spool.ts";
import { VERSION } from "../cli/version.ts";

/** The `rsyslogd` block of the status (spec: Status). */
export interface RsyslogdStatus {
  mode: "off" | "child" | "external";
  state: "running" | "starting" | "restarting" | "down" | "failed" | "unmanaged";
  /** 0 when not running or not managed. */
  pid: number;
  restarts: number;
  /** How the last run ended (`exit code 1`, `signal SIGKILL`), "" if none. */
  lastExit: string;
  /** ISO 8601 UTC, "" if never. */
  lastRestartAt: string;
  /** ISO 8601 UTC, "" if never. */
  lastRotateAt: string;
  probe: { ok: boolean; lastOkAt: string; latencyMs: number };
}

/** The rsyslogd block when the agent does not manage rsyslogd. */
export const UNMANAGED: RsyslogdStatus = {
  mode: "off",
  state: "unmanaged",
  pid: 0,
  restarts: 0,
  lastExit: "",
  lastRestartAt: "",
  lastRotateAt: "",
  probe: { ok: false, lastOkAt: "", latencyMs: 0 },
};

/** The status document of the spec. */
export interface Status {
  state: "ok" | "degraded" | "critical";
  reasons: string[];
  agent: { version: string; pid: number; uptimeSeconds: number };
  rsyslogd: RsyslogdStatus;
  collectors: CollectorStatus[];
  spool: SpoolStats;
  counters: {
    received: number;
    forwarded: number;
    dropped: number;
    malformed: number;
    truncated: number;
  };
}

/** What {@linkcode buildStatus} is made from. */
export interface StatusInput {
  now: number;
  startedAt: number;
  collectors: CollectorStatus[];
  spool: SpoolStats;
  memory: { messages: number; bytes: number };
  counters: Counters;
  /** Messages dropped in the last minute. */
  droppedLastMinute: number;
  /** The watchdog's view, when rsyslogd is managed. */
  rsyslogd?: RsyslogdStatus;
}

/**
 * Builds the status and its overall state: `critical` when messages were dropped
 * in the last minute, `degraded` when a collector is down or the spool holds
 * messages, `ok` otherwise. Reasons come most severe first.
 */
export function buildStatus(s: StatusInput): Status {
  const critical: string[] = [];
  const degraded: string[] = [];
  if (s.droppedLastMinute > 0) {
    critical.push(`spool full: ${s.droppedLastMinute} message(s) dropped in the last minute`);
  }
  for (const c of s.collectors) {
    if (c.state === "up") continue;
    const secs = Math.round((s.now - Date.parse(c.since)) / 1000);
    const why = c.lastError ? `: ${c.lastError}` : "";
    degraded.push(`collector ${c.address} ${c.state} for ${secs}s${why}`);
  }
  if (s.spool.messages > 0) {
    degraded.push(
      `spooling: ${s.spool.messages} message(s) on disk, oldest ${s.spool.oldestAgeSeconds}s`,
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
    spool: s.spool,
    counters: {
      received: c.received,
      forwarded: c.forwarded,
      dropped: c.dropped,
      malformed: c.malformed,
      truncated: c.truncated,
    },
  };
}
