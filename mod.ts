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

export { Agent } from "./agent/mod.ts";
export type { Config } from "./config/mod.ts";
// The sections of a parsed Config.
export type {
  Address,
  AddressInputConfig,
  CollectorConfig,
  CollectorMembers,
  CollectorSettings,
  ControlConfig,
  Framing,
  InputConfig,
  InputSettings,
  LogConfig,
  ProbeConfig,
  ProbeTarget,
  RelpCollectorConfig,
  RsyslogdConfig,
  SpoolConfig,
  StreamCollectorConfig,
  TcpCollectorConfig,
  TlsCollectorConfig,
  UnixInputConfig,
} from "./config/mod.ts";
export { ConfigError } from "./config/mod.ts";
export { parseConfig } from "./config/mod.ts";
export { loadConfig } from "./config/mod.ts";
export { Logger } from "./ground/mod.ts";
export { Spool } from "./spool/mod.ts";
export { StreamFramer } from "./relay/mod.ts";
export { Forwarder } from "./relay/mod.ts";
export { createLink, type Link, type LinkEvents } from "./relay/mod.ts";
export { type RelpFrame, RelpFrameParser } from "./relay/mod.ts";
export { RelpInput } from "./relay/mod.ts";
export { TieredBuffer } from "./buffer/mod.ts";
export { type RotateResult, Watchdog, type WatchdogOptions } from "./watchdog/mod.ts";
export type { InputStatus, Status, TapLine, TapRequest, TapSession } from "./control/mod.ts";
// Options of the Logger.
export type { Level, LoggerOptions } from "./ground/mod.ts";
// What passes between inputs, buffer, spool and links.
export type { Batch, BatchSource, SpoolPosition } from "./ground/mod.ts";
export type { BufferStats, TieredBufferOptions } from "./buffer/mod.ts";
export type { SpoolMark, SpoolStats } from "./spool/mod.ts";
// The parts of Status, and the figures they are built from.
export type { RsyslogdStatus } from "./watchdog/mod.ts";
export type { CollectorStatus, MemberStatus } from "./relay/mod.ts";
// What tests and embedders inject: time, processes, restart pacing.
export type { Clock } from "./ground/mod.ts";
export type { ExitInfo, RunResult, SpawnedProcess, Spawner } from "./watchdog/mod.ts";
export type { RestartPolicyOptions } from "./watchdog/mod.ts";
// What the constructors of StreamFramer and Forwarder take.
export { Counters } from "./relay/mod.ts";
export type { FrameSink } from "./relay/mod.ts";
export type { Dialer, ForwarderOptions, Resolver, SrvTarget } from "./relay/mod.ts";
export type { EvidenceSource, TcpEvidence } from "./relay/mod.ts";
// What `agent tap` is made of.
export { Tap, Taps } from "./relay/mod.ts";
export type { TapEvent, TapFilter } from "./relay/mod.ts";
