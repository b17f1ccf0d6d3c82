/**
 * The public face of `config/`: what the other folders use of it.
 *
 * @module
 */

export { parseAddress } from "./address.ts";
export type {
  CollectorConfig,
  Config,
  ControlConfig,
  InputConfig,
  LogConfig,
  ProbeConfig,
  RsyslogdConfig,
  SpoolConfig,
} from "./config.ts";
export { ConfigError } from "./config_error.ts";
export { configPath } from "./config_path.ts";
export { devConfig } from "./dev_config.ts";
export { loadConfig } from "./load_config.ts";
export { parseConfig } from "./parse_config.ts";
