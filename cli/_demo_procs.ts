/**
 * The processes `agent demo` starts, and finding what it left behind.
 *
 * @module
 */

/** Where `setsid` usually is (util-linux). */
const SETSID = ["/usr/bin/setsid", "/bin/setsid"];

/**
 * A long-running process of the demo (the collector, the agent), its stdout
 * and stderr appended to a log file. It runs in a session of its own, when
 * `setsid` is there, so that a Ctrl-C at the terminal reaches only the demo,
 * which then stops everything in order.
 */
export class DemoProcess {
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #exited = false;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.pid = child.pid;
    this.status = child.status.then((s) => {
      this.#exited = true;
      return s;
    });
  }

  /** Starts `argv` with its output appended to `log`; the pid is the program's own. */
  static async spawn(argv: string[], log: string): Promise<DemoProcess> {
    const setsid = await firstExisting(SETSID);
    const args = [
      "-c",
      'log=$1; shift; exec "$@" >>"$log" 2>&1',
      "sh",
      log,
      ...argv,
    ];
    const child = new Deno.Command(setsid ?? "/bin/sh", {
      args: setsid === undefined ? args : ["/bin/sh", ...args],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    return new DemoProcess(child);
  }

  /** Whether it has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Sends a signal; ignored once it has exited. */
  kill(signal: Deno.Signal): void {
    if (this.#exited) return;
    try {
      this.#child.kill(signal);
    } catch {
      // Exited meanwhile.
    }
  }

  /** Sends `signal`, waits up to `graceMs`, then SIGKILL; resolves once it has exited. */
  async stop(signal: Deno.Signal, graceMs: number): Promise<Deno.CommandStatus> {
    if (!this.#exited) {
      this.kill(signal);
      if (!(await settlesWithin(this.status, graceMs))) this.kill("SIGKILL");
    }
    return await this.status;
  }
}

/** A process found in /proc. */
export interface FoundProcess {
  pid: number;
  cmdline: string;
}

/** Live processes (not this one, not zombies) whose command line contains `text`. */
export async function processesUsing(text: string): Promise<FoundProcess[]> {
  const found: FoundProcess[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    const raw = await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "");
    if (!raw.includes(text)) continue;
    const stat = await Deno.readTextFile(`/proc/${e.name}/stat`).catch(() => "");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || stat === "") continue;
    found.push({ pid: Number(e.name), cmdline: raw.replaceAll("\0", " ").trim() });
  }
  return found;
}

/** SIGKILLs every process whose command line contains `text`; returns what it killed. */
export async function killLeftovers(text: string): Promise<FoundProcess[]> {
  const left = await processesUsing(text);
  for (const p of left) {
    try {
      Deno.kill(p.pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
  return left;
}

/** The first of `names` (absolute paths, or names looked up in `$PATH`) that is a file. */
export async function findProgram(names: string[]): Promise<string | undefined> {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const name of names) {
    const candidates = name.includes("/") ? [name] : dirs.map((d) => `${d}/${name}`);
    const hit = await firstExisting(candidates);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return listener.addr.port;
  } finally {
    listener.close();
  }
}

/** Whether 127.0.0.1:`port` accepts a TCP connection (closed again at once). */
export async function tcpOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

async function firstExisting(paths: string[]): Promise<string | undefined> {
  for (const p of paths) {
    const info = await Deno.stat(p).catch(() => undefined);
    if (info?.isFile) return p;
  }
  return undefined;
}

/** Whether `p` settles within `ms`; leaves no timer behind. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
