/**
 * Child processes whose output goes straight to a log file (the shell opens
 * the file and execs the program, so the pid is the program's own and no pipe
 * has to be pumped by the bench while it measures).
 *
 * @module
 */

import { deferCleanup } from "./lifecycle.ts";

/** A running child started by {@link spawnLogged}. */
export interface LoggedChild {
  /** Process id of the program itself (not of a wrapper shell). */
  readonly pid: number;
  /** File receiving the child's stdout and stderr. */
  readonly logPath: string;
  /** Resolves when the child has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Whether the child has exited. */
  exited(): boolean;
  /** Sends a signal; ignored once the child has exited. */
  signal(sig: Deno.Signal): void;
  /** SIGTERM, `graceMs` to exit, then SIGKILL; resolves with the exit status. Idempotent. */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
  /** The last `bytes` of the log file ("" if unreadable). */
  logTail(bytes?: number): Promise<string>;
}

/** Options for {@link spawnLogged}. */
export interface SpawnOptions {
  /** Program to run. */
  cmd: string;
  /** Its arguments. */
  args: string[];
  /** Where stdout and stderr are appended. */
  logPath: string;
  /** Extra environment variables. */
  env?: Record<string, string> | undefined;
}

/** Starts `cmd args` with output appended to `logPath`; registered for cleanup until it exits. */
export function spawnLogged(opts: SpawnOptions): LoggedChild {
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'log=$1; shift; exec "$@" >>"$log" 2>&1',
      "sh",
      opts.logPath,
      opts.cmd,
      ...opts.args,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    env: opts.env ?? {},
  }).spawn();
  let done = false;
  let unregister = (): void => {};
  const status = child.status.then((s) => {
    done = true;
    unregister();
    return s;
  });
  const signal = (sig: Deno.Signal): void => {
    if (done) return;
    try {
      child.kill(sig);
    } catch {
      // exited in between
    }
  };
  let stopping: Promise<Deno.CommandStatus> | undefined;
  const stop = (graceMs = 5_000): Promise<Deno.CommandStatus> => {
    stopping ??= (async () => {
      signal("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          signal("SIGKILL");
          resolve();
        }, graceMs);
      });
      await Promise.race([status, late]);
      clearTimeout(timer);
      return await status;
    })();
    return stopping;
  };
  unregister = deferCleanup(async () => {
    await stop(2_000);
  });
  return {
    pid: child.pid,
    logPath: opts.logPath,
    status,
    exited: () => done,
    signal,
    stop,
    logTail: (bytes = 2_000) => tailOf(opts.logPath, bytes),
  };
}

/** The last `bytes` bytes of a file as text, or "" when it cannot be read. */
export async function tailOf(path: string, bytes: number): Promise<string> {
  try {
    const data = await Deno.readFile(path);
    return new TextDecoder().decode(data.subarray(Math.max(0, data.length - bytes))).trim();
  } catch {
    return "";
  }
}

/** Runs a command to completion and returns its trimmed stdout (throws on failure). */
export async function capture(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: env ?? {},
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${cmd} ${args.join(" ")}: exit ${out.code}: ${err || text}`);
  }
  return text;
}
