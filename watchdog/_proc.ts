/**
 * Finding rsyslogd and telling whether a process still lives, from /proc.
 *
 * @module
 */

/** A process, identified by its pid and its start time (so a reused pid is not mistaken for it). */
export interface ProcessId {
  pid: number;
  /** Field 22 of /proc/PID/stat: clock ticks after boot. */
  startTime: string;
}

/**
 * The process `pid` as it is now, or undefined when there is none (or only a
 * zombie).
 */
export async function processId(pid: number): Promise<ProcessId | undefined> {
  let stat: string;
  try {
    stat = await Deno.readTextFile(`/proc/${pid}/stat`);
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
export async function isAlive(p: ProcessId): Promise<boolean> {
  return (await processId(p.pid))?.startTime === p.startTime;
}

/**
 * rsyslogd: the pid in `pidFile` when that file exists (trusted even when
 * stale: then there is none), otherwise the process named `rsyslogd` in the
 * process list (the lowest pid when there are several).
 */
export async function findRsyslogd(pidFile: string): Promise<ProcessId | undefined> {
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(pidFile);
  } catch {
    text = undefined;
  }
  if (text !== undefined) {
    const pid = Number(text.trim());
    return Number.isSafeInteger(pid) && pid > 0 ? await processId(pid) : undefined;
  }
  const pids: number[] = [];
  try {
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const comm = await Deno.readTextFile(`/proc/${entry.name}/comm`).catch(() => "");
      if (comm.trim() === "rsyslogd") pids.push(Number(entry.name));
    }
  } catch {
    return undefined;
  }
  pids.sort((a, b) => a - b);
  for (const pid of pids) {
    const p = await processId(pid);
    if (p !== undefined) return p;
  }
  return undefined;
}
