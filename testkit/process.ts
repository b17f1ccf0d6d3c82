/**
 * Child processes whose output goes straight to a log file: the shell opens
 * the file and execs the program, so the pid is the program's own, its output
 * reaches the file even if this process dies, and no pipe has to be pumped
 * while a test or a benchmark measures. Every child is registered for cleanup
 * by pid (see `cleanup.ts`) until it exits.
 *
 * @module
 */

import { deferCleanup } from "./cleanup.ts";

/** Where `setsid` usually is (util-linux). */
const SETSID = ["/usr/bin/setsid", "/bin/setsid"];

/** A running child started by {@linkcode spawnLogged}. */
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
  /**
   * Sends `sig` (default SIGTERM), waits up to `graceMs` (default 5 s), then
   * SIGKILL; resolves with the exit status. Once it has exited, resolves at once.
   */
  stop(graceMs?: number, sig?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** The last `bytes` (default 2,000) of the log file ("" if unreadable). */
  logTail(bytes?: number): Promise<string>;
}

/** Options for {@linkcode spawnLogged}. */
export interface SpawnOptions {
  /** Program to run. */
  cmd: string;
  /** Its arguments. */
  args: string[];
  /** Where stdout and stderr are appended. */
  logPath: string;
  /** Extra environment variables (added to this process's environment). */
  env?: Record<string, string> | undefined;
  /**
   * Run it in a session of its own (with `setsid`, when installed), so that a
   * Ctrl-C at the terminal reaches only this process, which then stops its
   * children in order.
   */
  setsid?: boolean | undefined;
  /** Grace before SIGKILL when a cleanup stops it (default 2 s). */
  cleanupGraceMs?: number | undefined;
}

/**
 * Starts `cmd args` with output appended to `logPath`; registered for cleanup
 * (by pid) until it exits.
 *
 * @example
 * ```ts
 * import { spawnLogged } from "./process.ts";
 *
 * const child = spawnLogged({ cmd: "sleep", args: ["10"], logPath: "/tmp/sleep.log" });
 * await child.stop();
 * ```
 */
export function spawnLogged(opts: SpawnOptions): LoggedChild {
  const setsid = opts.setsid ? SETSID.find(isFileSync) : undefined;
  const shell = ["-c", 'log=$1; shift; exec "$@" >>"$log" 2>&1', "sh", opts.logPath, opts.cmd];
  const child = new Deno.Command(setsid ?? "/bin/sh", {
    args: [...(setsid === undefined ? shell : ["/bin/sh", ...shell]), ...opts.args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
    ...(opts.env === undefined ? {} : { env: opts.env }),
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
    } catch (err) {
      if (!done) throw err;
    }
  };
  const stop = async (graceMs = 5_000, sig: Deno.Signal = "SIGTERM") => {
    if (!done) {
      signal(sig);
      if (!(await settlesWithin(status, graceMs))) signal("SIGKILL");
    }
    return await status;
  };
  unregister = deferCleanup(async () => {
    await stop(opts.cleanupGraceMs ?? 2_000);
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

/** The last `bytes` bytes of a file as text, trimmed, or "" when it cannot be read. */
export async function tailOf(path: string, bytes: number): Promise<string> {
  try {
    const data = await Deno.readFile(path);
    return new TextDecoder().decode(data.subarray(Math.max(0, data.length - bytes))).trim();
  } catch {
    return "";
  }
}

/** The file's text, or "" if it cannot be read. */
export async function readOrEmpty(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/** Resolves true if `p` settles within `ms`, false otherwise; leaves no timer behind. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p.then(() => true, () => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The first of `names` (absolute paths, or names looked up in `$PATH`) that is a file. */
export async function findProgram(names: string[]): Promise<string | undefined> {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const name of names) {
    const hit = await firstFile(name.includes("/") ? [name] : dirs.map((d) => `${d}/${name}`));
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** Whether `path` is a file. */
function isFileSync(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** The first of `paths` that is a file. */
async function firstFile(paths: string[]): Promise<string | undefined> {
  for (const p of paths) {
    if ((await Deno.stat(p).catch(() => undefined))?.isFile) return p;
  }
  return undefined;
}
