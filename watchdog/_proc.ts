/**
 * Telling processes apart, from /proc: a pid with its start time names one
 * process, whatever reuses the pid later.
 *
 * @module
 */

/** A process, identified by its pid and its start time (so a reused pid is not mistaken for it). */
export interface ProcessId {
  pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot. */
  startTime: string;
}

/** Clock ticks per second of /proc's times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/**
 * The process `pid` as it is now, or undefined when there is none (or only a
 * zombie).
 */
export function processId(pid: number): ProcessId | undefined {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // "PID (comm) STATE PPID …": comm may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const startTime = fields[19];
  if (state === "Z" || state === "X" || startTime === undefined) return undefined;
  return { pid, startTime };
}

/** Whether the process `p` still runs (same pid, same start time, not a zombie). */
export function isAlive(p: ProcessId): boolean {
  return processId(p.pid)?.startTime === p.startTime;
}

/** When `p` started, in ms since the epoch (to about 10 ms, as the wall clock is now). */
export function startedAt(p: ProcessId): number {
  const uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
  return Date.now() - (uptime - Number(p.startTime) / TICKS_PER_SECOND) * 1000;
}

/**
 * What runs as `pid`: the program (`/proc/PID/exe`, undefined where it may
 * not be read, as for a process of another user without CAP_SYS_PTRACE) and
 * its name (`/proc/PID/comm`, which a process can set itself).
 */
export function programOf(pid: number): { exe: string | undefined; comm: string } {
  let exe: string | undefined;
  try {
    exe = Deno.readLinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, "");
  } catch {
    exe = undefined;
  }
  let comm = "";
  try {
    comm = Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch {
    // Gone.
  }
  return { exe, comm };
}
