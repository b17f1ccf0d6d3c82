/**
 * The agent as a real process inside a network namespace: `startAgent`'s
 * process (`deno run … main.ts run --config <dir>/agent.json`, output to
 * `<dir>/agent.log`), started with `ip netns exec NAME`.
 *
 * @module
 */

import {
  agentArgv,
  type AgentProcess,
  agentReady,
  type StartAgentOptions,
} from "./agent_process.ts";
import { listensIn } from "./netns.ts";
import { spawnLogged } from "./process.ts";

/** Options of {@linkcode startNetnsAgent}. */
export interface StartNetnsAgentOptions extends StartAgentOptions {
  /** The network namespace (`ip netns` name) to run it in. */
  netns: string;
  /** How long to wait for `readyPort` (default 15 s; a fleet starting at once needs more). */
  readyTimeoutMs?: number | undefined;
}

/**
 * Starts the agent with `config` in `dir` inside network namespace `netns`
 * (its control socket is a file, so `statusJson` works from outside). The
 * config gets `startAgent`'s test defaults: `control.socket` =
 * `<dir>/agent.sock`, `control.metrics` = "" (off), `spool.dir` =
 * `<dir>/spool`, each only when absent. With `readyPort`, resolves once the
 * agent listens on that port in the namespace; if it exits first or the
 * deadline passes, it is killed and the error carries its log.
 *
 * @example
 * ```ts ignore
 * import { NetNs } from "./netns.ts";
 * import { startNetnsAgent } from "./netns_agent.ts";
 *
 * const ns = await NetNs.create();
 * const agent = await startNetnsAgent({
 *   netns: ns.name,
 *   dir: await Deno.makeTempDir(),
 *   config: { inputs: [{ type: "tcp", address: "127.0.0.1:5514" }] },
 *   readyPort: 5514,
 * });
 * await agent.stop();
 * await ns.remove();
 * ```
 */
export async function startNetnsAgent(opts: StartNetnsAgentOptions): Promise<AgentProcess> {
  await Deno.mkdir(opts.dir, { recursive: true });
  const configPath = `${opts.dir}/agent.json`;
  const logPath = `${opts.dir}/agent.log`;
  const config: Record<string, unknown> = { ...opts.config };
  const control = { ...section(config.control, "control") };
  control.socket ??= `${opts.dir}/agent.sock`;
  control.metrics ??= "";
  config.control = control;
  const spool = { ...section(config.spool, "spool") };
  spool.dir ??= `${opts.dir}/spool`;
  config.spool = spool;
  const socketPath = String(control.socket);
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2) + "\n");

  const argv = agentArgv(["run", "--config", configPath], opts.mainPath);
  const child = spawnLogged({
    cmd: "ip",
    args: ["netns", "exec", opts.netns, ...argv],
    logPath,
    env: opts.env,
  });
  const readyPort = opts.readyPort;
  return await agentReady(
    "startNetnsAgent",
    child,
    opts.dir,
    socketPath,
    readyPort === undefined ? undefined : {
      listening: () => listensIn(child.pid, readyPort, "127.0.0.1"),
      wait: {
        timeoutMs: opts.readyTimeoutMs ?? 15_000,
        what: `the agent to listen on 127.0.0.1:${readyPort} in netns ${opts.netns}`,
        intervalMs: 50,
      },
    },
  );
}

/** `value` as a plain object ({} when absent); throws for anything else. */
function section(value: unknown, key: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return value as Record<string, unknown>;
  }
  throw new TypeError(
    `startNetnsAgent: config.${key} must be an object, got ${JSON.stringify(value)}`,
  );
}
