/**
 * Whether any rsyslogd runs on the host, managed or not.
 *
 * @module
 */

/**
 * Whether a process named `rsyslogd` runs on this host (`/proc/PID/comm`): for
 * status, to tell a host whose syslog(3) reaches nothing that feeds the agent.
 * False where `/proc` cannot be read.
 *
 * @example
 * ```ts
 * import { rsyslogdRunning } from "./rsyslogd_running.ts";
 * console.log(rsyslogdRunning() ? "rsyslogd runs" : "no rsyslogd");
 * ```
 */
export function rsyslogdRunning(): boolean {
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        if (Deno.readTextFileSync(`/proc/${e.name}/comm`).trim() === "rsyslogd") return true;
      } catch {
        // Gone meanwhile.
      }
    }
  } catch {
    return false;
  }
  return false;
}
