/**
 * `agent check-config [PATH]`: validates a config file.
 *
 * @module
 */

import { ConfigError, configPath, loadConfig } from "../config/mod.ts";

/**
 * Validates the config at `path` (resolved with `configPath`, so `undefined`
 * means `SYSLOG_AGENT_CONFIG` or the default path). Writes `config: <path>: ok`
 * and returns 0 when it is valid; otherwise writes one line per problem and
 * returns 2. `out` receives whole lines without a newline (main.ts connects it
 * to stderr).
 */
export async function checkConfig(
  path: string | undefined,
  out: (line: string) => void,
): Promise<number> {
  const resolved = configPath(path);
  try {
    await loadConfig(resolved);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) out(problem);
    return 2;
  }
  out(`config: ${resolved}: ok`);
  return 0;
}
