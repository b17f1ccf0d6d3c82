/**
 * Reads and validates the config file.
 *
 * @module
 */

import type { Config } from "./config.ts";
import { ConfigError } from "./config_error.ts";
import { parseConfig } from "./parse_config.ts";

/**
 * Reads the JSON config at `path` (see `configPath` to resolve it) and returns
 * it validated, with every default filled in.
 *
 * @throws {ConfigError} when the file cannot be read (one problem naming the
 *   path and the fix) or the config is invalid (one problem per line).
 */
export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new ConfigError([
      `config: ${path}: cannot read the config file (${reason}); ` +
      'create it ("{}" uses every default) or pass another path with --config PATH',
    ]);
  }
  return parseConfig(text, path);
}
