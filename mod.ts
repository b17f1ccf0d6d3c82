/**
 * syslog-agent's public API: the parts of the agent, for embedding and tests.
 *
 * @example
 * ```ts
 * import { Agent, Logger, parseConfig } from "./mod.ts";
 * const config = parseConfig("{}", "inline");
 * const agent = await Agent.start(config, new Logger(config.log));
 * await agent.stop();
 * ```
 *
 * @module
 */

export { Agent } from "./cli/agent.ts";
export type { Config } from "./config/config.ts";
// The sections of a parsed Config.
export type {
  CollectorConfig,
  ControlConfig,
  InputConfig,
  LogConfig,
  ProbeConfig,
  RsyslogdConfig,
  SpoolConfig,
} from "./config/config.ts";
export { ConfigError } from "./config/config_error.ts";
export { parseConfig } from "./config/parse_config.ts";
export { loadConfig } from "./config/load_config.ts";
export { Logger } from "./control/logger.ts";
export { Spool } from "./spool/spool.ts";
export { StreamFramer } from "./relay/framer.ts";
export { Forwarder } from "./relay/forwarder.ts";
export { createLink, type Link, type LinkEvents } from "./relay/link.ts";
export { type RelpFrame, RelpFrameParser } from "./relay/relp_frame.ts";
export { RelpInput } from "./relay/relp_input.ts";
export { Queue } from "./relay/queue.ts";
export { type RotateResult, Watchdog, type WatchdogOptions } from "./watchdog/watchdog.ts";
export type { Status } from "./control/status.ts";
// Options of the Logger.
export type { Level, LoggerOptions } from "./control/logger.ts";
// What passes between inputs, queue, spool and links.
export type { Batch, SpoolPosition } from "./relay/batch.ts";
export type { SpoolMark, SpoolStats } from "./spool/spool.ts";
// The parts of Status, and the figures they are built from.
export type { RsyslogdStatus } from "./control/status.ts";
export type { CollectorStatus } from "./relay/forwarder.ts";
// What tests and embedders inject: time, processes, restart pacing.
export type { Clock } from "./relay/clock.ts";
export type { ExitInfo, RunResult, SpawnedProcess, Spawner } from "./watchdog/spawner.ts";
export type { RestartPolicyOptions } from "./watchdog/restart_policy.ts";
// What the constructors of StreamFramer and Forwarder take.
export { Counters } from "./relay/counters.ts";
export type { FrameSink } from "./relay/framer.ts";
export type { Dialer, ForwarderOptions } from "./relay/forwarder.ts";
