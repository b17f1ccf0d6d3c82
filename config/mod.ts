/**
 * The public face of `config/`: what the other folders use of it.
 *
 * @module
 */

export { parseAddress } from "./address.ts";
export type {
  Address,
  AddressInputConfig,
  CollectorConfig,
  CollectorMembers,
  CollectorSettings,
  Config,
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
} from "./config.ts";
export { ConfigError } from "./config_error.ts";
export { configPath } from "./config_path.ts";
export { devConfig } from "./dev_config.ts";
export { loadConfig } from "./load_config.ts";
export { parseConfig } from "./parse_config.ts";
export { probeTargetText } from "./probe_target.ts";
export { stripJsonc } from "./strip_jsonc.ts";
export {
  BACKOFF_BASE_MS,
  BACKOFF_CAP_MS,
  DEAD_LETTER_MAX_BYTES,
  DRAIN_AUTO_FACTOR,
  DRAIN_AUTO_FLOOR,
  DRAIN_AUTO_MIN,
  DRAIN_BACKLOG_MIN,
  DRAIN_HISTORY_MS,
  DRAIN_MAX_MS,
  DRAIN_QUIET_MS,
  DURABILITY_LAG_DEGRADED_MS,
  END_WAIT_MS,
  FAILBACK_AFTER_MS,
  FORWARDER_STOP_WAIT_MS,
  MEMORY_TIER_BYTES,
  MEMORY_TRIM_MS,
  NOTHING_RECEIVED_MS,
  POISON_REFUSALS,
  POOL_RAMP_MS,
  RECENT_RESTART_MS,
  REPLAY_MAX_BYTES,
  REPLAY_MIN_AGE_MS,
  ROTATE_RECOVER_MS,
  RSYSLOGD_KILL_DEADLINE_MS,
  RSYSLOGD_RESTART_COMMAND_TIMEOUT_MS,
  SESSION_STABLE_MS,
  SPOOL_BACKLOG_HIGH_BYTES,
  SPOOL_BACKLOG_LOW_BYTES,
  SPOOL_FILES_CHECK_MS,
  STOP_DEADLINE_MS,
  STUCK_GRACE_MS,
} from "./tunables.ts";
