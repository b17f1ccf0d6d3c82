/**
 * The agent under test as a real process:
 * `deno run --allow-all --unstable-net main.ts run --config <dir>/agent.json`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { tcpReady } from "./tcp_ready.ts";
import { waitFor } from "./wait_for.ts";

/** The repository's entry point, found relative to this file. */
const MAIN_TS = fileURLToPath(new URL("../../main.ts", import.meta.url));

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

  // The shell opens the log and becomes deno (exec): the pid is the agent's,
  // and its output reaches the file even if this test process dies.
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'log=$1; shift; exec "$@" >>"$log" 2>&1',
      "sh",
      logPath,
      Deno.execPath(),
      "run",
      "--allow-all",
      "--unstable-net",
      opts.mainPath ?? MAIN_TS,
      "run",
      "--config",
      configPath,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    ...(opts.env === undefined ? {} : { env: opts.env }),
  }).spawn();

  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  const signal = (sig: Deno.Signal): void => {
    if (exited) return;
    try {
      child.kill(sig);
    } catch (err) {
      if (!exited) throw err;
    }
  };

  const stop = async (sig: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> => {
    if (!exited) {
      signal(sig);
      if (!(await exitsWithin(status, 15_000))) signal("SIGKILL");
    }
    return await status;
  };

  const log = (): Promise<string> => readOrEmpty(logPath);

  const agent: AgentProcess = {
    pid: child.pid,
    dir: opts.dir,
    logPath,
    signal,
    stop,
    status,
    statusJson: () => controlStatus(socketPath),
    log,
  };

  const readyPort = opts.readyPort;
  if (readyPort !== undefined) {
    let outcome: "ready" | "exited" | undefined;
    let failure: unknown;
    try {
      outcome = await waitFor(
        async () => exited ? "exited" : (await tcpReady(readyPort, child.pid)) && "ready",
        {
          timeoutMs: 15_000,
          what: `the agent to listen on 127.0.0.1:${readyPort}`,
          intervalMs: 20,
        },
      );
    } catch (err) {
      failure = err;
    }
    if (outcome !== "ready") {
      const wasRunning = !exited;
      if (wasRunning) {
        signal("SIGKILL");
      }
      const s = await status;
      const why = wasRunning && failure instanceof Error
        ? failure.message
        : `the agent exited before it was ready (code ${s.code}, signal ${s.signal})`;
      throw new Error(`startAgent: ${why}\n--- ${logPath}:\n${await log()}`);
    }
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

/**
 * Sends `{"command":"status"}` on the control socket and returns `result`
 * of the one-line JSON reply. Gives up after 5 s.
 */
async function controlStatus(socketPath: string): Promise<Record<string, unknown>> {
  const conn = await Deno.connect({ transport: "unix", path: socketPath });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch {
      // already closed
    }
  }, 5_000);
  let line: string;
  try {
    await writeAll(conn, new TextEncoder().encode('{"command":"status"}\n'));
    line = await readLine(conn);
  } catch (err) {
    if (timedOut) throw new Error(`statusJson: no reply on ${socketPath} within 5 s`);
    throw err;
  } finally {
    clearTimeout(timer);
    if (!timedOut) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }
  let reply: unknown;
  try {
    reply = JSON.parse(line);
  } catch {
    throw new Error(`statusJson: reply on ${socketPath} is not JSON: ${JSON.stringify(line)}`);
  }
  const r = reply as { ok?: unknown; result?: unknown; error?: unknown };
  if (r.ok === true && typeof r.result === "object" && r.result !== null) {
    return r.result as Record<string, unknown>;
  }
  if (r.ok === false) throw new Error(`statusJson: agent answered error: ${String(r.error)}`);
  throw new Error(`statusJson: unexpected reply on ${socketPath}: ${line}`);
}

/** Reads up to the first `\n` (excluded); throws if the peer closes first. */
async function readLine(conn: Deno.Conn): Promise<string> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  while (true) {
    const n = await conn.read(buf);
    if (n === null) {
      throw new Error("statusJson: control socket closed before a full reply line");
    }
    const chunk = buf.slice(0, n);
    const nl = chunk.indexOf(10);
    if (nl >= 0) {
      parts.push(chunk.subarray(0, nl));
      break;
    }
    parts.push(chunk);
  }
  const total = parts.reduce((sum, p) => sum + p.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return new TextDecoder().decode(all);
}

/** Writes all of `data`. */
async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Resolves true if `status` settles within `ms`, false otherwise; leaves no timer behind. */
async function exitsWithin(status: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([status.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The file's text, or "" if it cannot be read. */
async function readOrEmpty(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}
