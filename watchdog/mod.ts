/**
 * The public face of `watchdog/`: what the other folders use of it.
 *
 * @module
 */

export type { RestartPolicyOptions } from "./restart_policy.ts";
export type { ExitInfo, RunResult, SpawnedProcess, Spawner } from "./spawner.ts";
export { Watchdog } from "./watchdog.ts";
export type { RotateResult, WatchdogOptions } from "./watchdog.ts";
export { type RsyslogdStatus, UNMANAGED } from "./rsyslogd_status.ts";
export { rsyslogdRunning } from "./rsyslogd_running.ts";
