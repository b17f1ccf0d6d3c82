/**
 * The agent under test as a real process:
 * `deno run --allow-all --unstable-net main.ts run --config <dir>/agent.json`,
 * for tests and benchmarks.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { controlRequest } from "../control/mod.ts";
import { type LoggedChild, readOrEmpty, spawnLogged } from "./process.ts";
import { tcpReady } from "./tcp_ready.ts";
import { waitFor, type WaitForOptions } from "./wait_for.ts";

/** The repository's entry point, found relative to this file. */
const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));

/**
 * The command line of `agent ARGS`: the compiled binary itself, or
 * `deno run --allow-all --unstable-net main.ts ARGS` (`main` instead of the
 * repository's main.ts when given).
 *
 * @example
 * ```ts
 * import { agentArgv } from "./agent_process.ts";
 *
 * const [cmd, ...args] = agentArgv(["status", "--json"]);
 * ```
 */
export function agentArgv(args: string[], main?: string): string[] {
  if (Deno.build.standalone && main === undefined) return [Deno.execPath(), ...args];
  return [Deno.execPath(), "run", "--allow-all", "--unstable-net", main ?? MAIN_TS, ...args];
}

/** Longest path a unix socket address can hold on Linux (sun_path minus NUL). */
const MAX_SOCKET_PATH = 107;

/** A running agent started by {@link startAgent}. */
export interface AgentProcess {
  /** Process id of the agent (the deno process). */
  readonly pid: number;
  /** The test directory holding agent.json, agent.log, agent.sock and spool/. */
  readonly dir: string;
  /** Where the agent's stdout and stderr go. */
  readonly logPath: string;
  /** Sends a signal; ignored once the process has exited. */
  signal(sig: Deno.Signal): void;
  /** Sends `sig` (SIGTERM), waits up to 15 s, then SIGKILL; resolves with the exit status. */
  stop(sig?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** `status` over the control socket: the response's `result`; throws on `ok: false`. */
  statusJson(): Promise<Record<string, unknown>>;
  /** Everything the agent has written to stdout and stderr so far. */
  log(): Promise<string>;
}

/** Options for {@link startAgent}. */
export interface StartAgentOptions {
  /** Test directory (created if missing). */
  dir: string;
  /**
   * Agent config. Written to `<dir>/agent.json` with test-safe defaults
   * filled in: `control.socket` = `<dir>/agent.sock`, `control.metrics` = ""
   * (off), `spool.dir` = `<dir>/spool`, each only when absent.
   */
  config: Record<string, unknown>;
  /** When given, wait (15 s) until the agent listens on 127.0.0.1:readyPort. */
  readyPort?: number | undefined;
  /** Extra environment variables (added to this process's environment). */
  env?: Record<string, string> | undefined;
  /** Entry point to run instead of the repository's main.ts (to test this helper). */
  mainPath?: string | undefined;
}

/**
 * Starts the agent with `config` in `dir`, its output appended to
 * `<dir>/agent.log`. With `readyPort`, resolves only once the agent listens
 * there; if it exits first or 15 s pass, the process is killed and the error
 * carries the log.
 *
 * @example
 * ```ts ignore
 * import { startAgent } from "./agent_process.ts";
 *
 * const agent = await startAgent({
 *   dir: await Deno.makeTempDir(),
 *   config: { inputs: [{ type: "tcp", address: "127.0.0.1:5514" }] },
 *   readyPort: 5514,
 * });
 * console.log((await agent.statusJson()).state);
 * await agent.stop();
 * ```
 */
export async function startAgent(opts: StartAgentOptions): Promise<AgentProcess> {
  await Deno.mkdir(opts.dir, { recursive: true });
  const configPath = `${opts.dir}/agent.json`;
  const logPath = `${opts.dir}/agent.log`;
  const config = withTestDefaults(opts.config, opts.dir);
  const control = config.control as Record<string, unknown>;
  const socketPath = String(control.socket);
  if (new TextEncoder().encode(socketPath).length > MAX_SOCKET_PATH) {
    throw new Error(
      `startAgent: control socket path is longer than ${MAX_SOCKET_PATH} bytes: ${socketPath}; use a shorter dir`,
    );
  }
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2) + "\n");

  const [cmd, ...args] = agentArgv(["run", "--config", configPath], opts.mainPath);
  const child = spawnLogged({ cmd: cmd!, args, logPath, env: opts.env });
  const readyPort = opts.readyPort;
  return await agentReady(
    "startAgent",
    child,
    opts.dir,
    socketPath,
    readyPort === undefined ? undefined : {
      listening: () => tcpReady(readyPort, child.pid),
      wait: {
        timeoutMs: 15_000,
        what: `the agent to listen on 127.0.0.1:${readyPort}`,
        intervalMs: 20,
      },
    },
  );
}

/**
 * The {@linkcode AgentProcess} of `child`, once `ready.listening()` holds
 * (at once without `ready`). When the agent exits first, or the wait times
 * out, it is killed and `caller` throws with the reason and the agent's log.
 */
export async function agentReady(
  caller: string,
  child: LoggedChild,
  dir: string,
  socketPath: string,
  ready: { listening: () => Promise<boolean>; wait: WaitForOptions } | undefined,
): Promise<AgentProcess> {
  const logPath = child.logPath;
  const log = (): Promise<string> => readOrEmpty(logPath);
  const agent: AgentProcess = {
    pid: child.pid,
    dir,
    logPath,
    signal: child.signal,
    stop: (sig: Deno.Signal = "SIGTERM") => child.stop(15_000, sig),
    status: child.status,
    // A copy, so the typed answer reads as the loose record tests index into.
    statusJson: async () => ({ ...await controlRequest(socketPath, { command: "status" }, 5_000) }),
    log,
  };
  if (ready === undefined) return agent;
  let outcome: "ready" | "exited" | undefined;
  let failure: unknown;
  try {
    outcome = await waitFor(
      async () => child.exited() ? "exited" : (await ready.listening()) && "ready",
      ready.wait,
    );
  } catch (err) {
    failure = err;
  }
  if (outcome !== "ready") {
    const wasRunning = !child.exited();
    if (wasRunning) child.signal("SIGKILL");
    const s = await child.status;
    const why = wasRunning && failure instanceof Error
      ? failure.message
      : `the agent exited before it was ready (code ${s.code}, signal ${s.signal})`;
    throw new Error(`${caller}: ${why}\n--- ${logPath}:\n${await log()}`);
  }
  return agent;
}

/** A copy of `config` with the control socket, metrics and spool kept inside `dir`. */
function withTestDefaults(config: Record<string, unknown>, dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  const control = { ...asObject(config.control, "control") };
  if (!("socket" in control)) control.socket = `${dir}/agent.sock`;
  if (!("metrics" in control)) control.metrics = "";
  out.control = control;
  const spool = { ...asObject(config.spool, "spool") };
  if (!("dir" in spool)) spool.dir = `${dir}/spool`;
  out.spool = spool;
  return out;
}

/** `value` as a plain object ({} when absent); throws for anything else. */
function asObject(value: unknown, key: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return value as Record<string, unknown>;
  }
  throw new TypeError(`startAgent: config.${key} must be an object, got ${JSON.stringify(value)}`);
}
