/**
 * `agent run`: the agent in the foreground until SIGTERM or SIGINT.
 *
 * @module
 */

import { Agent } from "../agent/mod.ts";
import { Logger } from "../ground/mod.ts";
import { configPath, devConfig, loadConfig, STOP_DEADLINE_MS } from "../config/mod.ts";

/** Where `agent run --dev` keeps its spool and control socket. */
export const DEV_STATE_DIR = ".state";

/**
 * Runs the agent with the config at `path` (or, with `dev`, the embedded
 * development config under `./.state`) until SIGTERM or SIGINT, then stops it
 * cleanly within {@linkcode STOP_DEADLINE_MS}. SIGHUP reloads the config.
 * Resolves to the exit code; throws `ConfigError` for a bad config.
 */
export async function run(opts: { config?: string; dev?: boolean }): Promise<number> {
  const stateDir = `${Deno.cwd()}/${DEV_STATE_DIR}`;
  const path = configPath(opts.config);
  const load = () => opts.dev ? Promise.resolve(devConfig(stateDir)) : loadConfig(path);
  const config = await load();
  const log = new Logger(config.log);
  const agent = await Agent.start(config, log, { load });
  Deno.addSignalListener("SIGHUP", () => {
    log.info("agent: SIGHUP: reloading");
    agent.reload().catch(() => {
      // Logged by the agent; the running config stays.
    });
  });
  const signal = await new Promise<Deno.Signal>((resolve) => {
    const on = (sig: Deno.Signal) => () => resolve(sig);
    Deno.addSignalListener("SIGTERM", on("SIGTERM"));
    Deno.addSignalListener("SIGINT", on("SIGINT"));
  });
  log.info(`agent: ${signal}: stopping`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<number>((resolve) => {
    timer = setTimeout(() => {
      log.error(`agent: stop took longer than ${STOP_DEADLINE_MS} ms; exiting anyway`);
      resolve(1);
    }, STOP_DEADLINE_MS);
  });
  const code = await Promise.race([agent.stop().then(() => 0), deadline]);
  clearTimeout(timer);
  return code;
}
