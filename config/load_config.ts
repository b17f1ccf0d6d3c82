/**
 * Reads and validates the config file.
 *
 * @module
 */

import { stripJsonc } from "./strip_jsonc.ts";
import type { Config } from "./config.ts";
import { ConfigError } from "./config_error.ts";
import { parseConfig } from "./parse_config.ts";
import { insecurity } from "./_secure_path.ts";

/**
 * Reads the JSON config at `path` (see `configPath` to resolve it) and returns
 * it validated, with every default filled in. A config that makes the agent
 * run commands (`rsyslogd.mode` `"child"` or `"external"`, or one that names
 * `rsyslogd.command` or `rsyslogd.restartCommand`) must be one only root can
 * change, as sshd's StrictModes asks: the file (after symlinks) and every
 * directory above it owned by root (or by the agent's own user, when it does
 * not run as root) and not writable by group or others, but for sticky
 * directories such as /tmp.
 *
 * @throws {ConfigError} when the file cannot be read (one problem naming the
 *   path and the fix), the config is invalid (one problem per line), or it
 *   runs commands and others could change it (one problem naming the file or
 *   directory, its owner and mode, and the fix).
 */
export async function loadConfig(path: string): Promise<Config> {
  let real: string;
  let text: string;
  try {
    // Read through the resolved path: that is the file checked below.
    real = await Deno.realPath(path);
    text = await Deno.readTextFile(real);
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
  const config = parseConfig(text, path);
  if (runsCommands(config, text)) {
    const uid = Deno.uid() ?? 0;
    const problem = await insecurity(real, uid);
    if (problem !== undefined) {
      throw new ConfigError([
        `config: ${path}: refusing a config that makes the agent run commands (rsyslogd.command, rsyslogd.restartCommand) as uid ${uid} while others could change it: ${problem}`,
      ]);
    }
  }
  return config;
}

/** Whether the agent runs commands with `config`, or its `text` names one. */
function runsCommands(config: Config, text: string): boolean {
  if (config.rsyslogd.mode !== "off") return true;
  const rsyslogd = (JSON.parse(stripJsonc(text.replace(/^\uFEFF/, ""))) as {
    rsyslogd?: object;
  }).rsyslogd;
  return rsyslogd !== undefined && ("command" in rsyslogd || "restartCommand" in rsyslogd);
}
