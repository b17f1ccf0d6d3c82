/**
 * Starting and signalling processes, behind an interface that unit tests replace.
 *
 * @module
 */

import { isAlive, processId } from "./_proc.ts";

/** How a process ended. */
export interface ExitInfo {
  /** Exit code (128 + signal number when killed by a signal). */
  code: number;
  /** The signal that killed it, or null. */
  signal: Deno.Signal | null;
}

/** A process started by a {@linkcode Spawner}. */
export interface SpawnedProcess {
  /** Its process id, as the kernel gave it. */
  readonly pid: number;
  /** Resolves once the process has exited (and was reaped). */
  readonly status: Promise<ExitInfo>;
  /** Sends a signal; ignored once the process has exited (and its pid is free for reuse). */
  kill(signal: Deno.Signal): void;
}

/** The output of a command run to completion by {@linkcode Spawner.run}. */
export interface RunResult extends ExitInfo {
  /** stdout and stderr together (the first 16 KiB), trimmed. */
  output: string;
  /** Whether it was killed because it ran longer than allowed. */
  timedOut: boolean;
}

/** Starts processes and signals them. */
export interface Spawner {
  /**
   * Starts `argv` with stdin from /dev/null; each line it writes to stdout or
   * stderr goes to `onLine`. Throws (`Deno.errors.NotFound`, `PermissionDenied`)
   * when it cannot be started.
   */
  spawn(argv: string[], onLine: (line: string) => void): SpawnedProcess;
  /**
   * Runs `argv` to completion, killed (SIGKILL) after `timeoutMs`. Its output
   * is collected until it exits; processes it leaves behind holding the pipes
   * are not waited for. Throws like {@linkcode Spawner.spawn}.
   */
  run(argv: string[], timeoutMs: number): Promise<RunResult>;
  /** Sends `signal` to any process; false when there is no such process. */
  signal(pid: number, signal: Deno.Signal): boolean;
}

const MAX_OUTPUT = 16 * 1024;

/**
 * What systemd gives the agent alone: a child that inherited them would send
 * its own sd_notify messages to the agent's unit (rsyslogd does, at every
 * start: systemd then logs "Got notification message from PID …, but
 * reception only permitted for main PID"), or take the agent's watchdog for
 * its own.
 */
const AGENT_ONLY_ENV = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/** The agent's environment without {@linkcode AGENT_ONLY_ENV}: what children get. */
export function childEnv(
  env: Record<string, string> = Deno.env.toObject(),
): Record<string, string> {
  const out = { ...env };
  for (const name of AGENT_ONLY_ENV) delete out[name];
  return out;
}

/** Starts `argv` (program first) with no stdin, its output piped, and {@linkcode childEnv}. */
function spawnChild(argv: string[]): Deno.ChildProcess {
  const [cmd, ...args] = argv;
  return new Deno.Command(cmd ?? "", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: childEnv(),
  }).spawn();
}

/**
 * The real {@linkcode Spawner}, on `Deno.Command` and `Deno.kill`. Children get
 * the agent's environment without its systemd notify socket and watchdog.
 */
export const processSpawner: Spawner = {
  spawn(argv, onLine) {
    const child = spawnChild(argv);
    pumpLines(child.stdout, onLine);
    pumpLines(child.stderr, onLine);
    // Its pid with its start time: a signal never reaches a process that reuses the pid.
    const id = processId(child.pid);
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return { code: s.code, signal: s.signal };
    });
    return {
      pid: child.pid,
      status,
      kill(signal) {
        if (exited || (id !== undefined && !isAlive(id))) return;
        try {
          child.kill(signal);
        } catch {
          // Exited meanwhile.
        }
      },
    };
  },

  async run(argv, timeoutMs) {
    const child = spawnChild(argv);
    const chunks: string[] = [];
    let size = 0;
    const collect = (line: string) => {
      if (size >= MAX_OUTPUT) return;
      chunks.push(line);
      size += line.length + 1;
    };
    const stop = new AbortController();
    const pumps = [
      pumpLines(child.stdout, collect, stop.signal),
      pumpLines(child.stderr, collect, stop.signal),
    ];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }, timeoutMs);
    const s = await child.status.finally(() => clearTimeout(timer));
    // A background process it started may hold the pipes open: do not wait for it.
    let grace: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(pumps),
      new Promise((r) => grace = setTimeout(r, 100)),
    ]);
    clearTimeout(grace);
    stop.abort();
    return { code: s.code, signal: s.signal, output: chunks.join("\n").trim(), timedOut };
  },

  signal(pid, signal) {
    try {
      Deno.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  },
};

/** Reads `stream` line by line into `onLine` until it ends, fails or `signal` aborts. */
async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<void> {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  const cancel = () => reader.cancel().catch(() => {});
  signal?.addEventListener("abort", cancel, { once: true });
  let rest = "";
  try {
    for (;;) {
      const { done, value: chunk } = await reader.read();
      if (done) break;
      rest += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, nl).trimEnd();
        rest = rest.slice(nl + 1);
        if (line !== "") onLine(line);
      }
      if (rest.length > MAX_OUTPUT) {
        onLine(rest);
        rest = "";
      }
    }
  } catch {
    // The process went away, or the reading was cancelled.
  } finally {
    signal?.removeEventListener("abort", cancel);
  }
  if (rest.trim() !== "") onLine(rest.trimEnd());
}
