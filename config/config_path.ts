/**
 * Where the config file is.
 *
 * @module
 */

/** The config path when neither `--config` nor `SYSLOG_AGENT_CONFIG` is given. */
const DEFAULT_PATH = "/etc/syslog-agent/agent.json";

/**
 * Resolves the config path: `explicit` (from `--config PATH` or
 * `check-config PATH`) when given, else a non-empty `SYSLOG_AGENT_CONFIG`,
 * else `/etc/syslog-agent/agent.json`.
 */
export function configPath(explicit?: string): string {
  if (explicit !== undefined) return explicit;
  const fromEnv = Deno.env.get("SYSLOG_AGENT_CONFIG");
  return fromEnv !== undefined && fromEnv !== "" ? fromEnv : DEFAULT_PATH;
}
