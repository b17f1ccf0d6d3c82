/**
 * `agent run`: the agent in the foreground until SIGTERM or SIGINT.
 *
 * @module
 */

import { Agent } from "./agent.ts";
import { Logger } from "../control/logger.ts";
import { configPath } from "../config/config_path.ts";
import { devConfig } from "../config/dev_config.ts";
import { loadConfig } from "../config/load_config.ts";

/** Where `agent run --dev` keeps its spool and control socket. */
export const DEV_STATE_DIR = ".state";

/**
 * Runs the agent with the config at `path` (or, with `dev`, the embedded
 * development config under `./.state`) until SIGTERM or SIGINT, then stops it
 * cleanly. Resolves to the exit code; throws `ConfigError` for a bad config.
 */
export async function run(opts: { config?: string; dev?: boolean }): Promise<number> {
  const config = opts.dev
    ? devConfig(`${Deno.cwd()}/${DEV_STATE_DIR}`)
    : await loadConfig(configPath(opts.config));
  const log = new Logger(config.log);
  const agent = await Agent.start(config, log);
  const signal = await new Promise<Deno.Signal>((resolve) => {
    const on = (sig: Deno.Signal) => () => resolve(sig);
    Deno.addSignalListener("SIGTERM", on("SIGTERM"));
    Deno.addSignalListener("SIGINT", on("SIGINT"));
  });
  log.info(`agent: ${signal}: stopping`);
  await agent.stop();
  return 0;
}
