/**
 * The `rsyslogd` block of the status, as the watchdog reports it.
 *
 * @module
 */

/** The `rsyslogd` block of the status (spec: Status). */
export interface RsyslogdStatus {
  /** How the agent supervises rsyslogd (`rsyslogd.mode` of the config). */
  mode: "off" | "child" | "external";
  /** Where the watchdog is with rsyslogd; `unmanaged` with mode `off`. */
  state: "running" | "starting" | "restarting" | "down" | "failed" | "unmanaged";
  /** 0 when not running or not managed. */
  pid: number;
  /** Restarts by the watchdog since the agent started. */
  restarts: number;
  /** How the last run ended (`pid 42 exited with code 1`, `pid 42 killed by SIGKILL`), "" if none. */
  lastExit: string;
  /** ISO 8601 UTC, "" if never. */
  lastRestartAt: string;
  /** ISO 8601 UTC, "" if never. */
  lastRotateAt: string;
  /** The canary: passing now, last pass (ISO 8601 UTC, "" if never), last round trip (ms). */
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
