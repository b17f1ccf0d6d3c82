/**
 * What /proc says about a process: its state and parent (`/proc/PID/stat`),
 * the CPU time it used, and its resident memory (`/proc/PID/status`).
 *
 * @module
 */

import { capture } from "./capture.ts";

/** The fields of `/proc/PID/stat` that tests and benchmarks read. */
export interface ProcStat {
  /** One letter: R running, S sleeping, D disk wait, T stopped, Z zombie, … */
  state: string;
  /** Parent process id. */
  ppid: number;
  /** User-mode CPU time, in clock ticks (field 14). */
  utimeTicks: number;
  /** Kernel-mode CPU time, in clock ticks (field 15). */
  stimeTicks: number;
}

/**
 * Parses the text of `/proc/PID/stat`; `undefined` when it is not one. The
 * command name in parentheses may hold spaces and parentheses, so fields are
 * counted after the last `)`.
 *
 * @example
 * ```ts
 * import { parseProcStat } from "./proc_stat.ts";
 *
 * const s = parseProcStat("42 (my (odd) prog) S 1 42 42 0 -1 0 0 0 0 0 7 3 0 0");
 * // s: { state: "S", ppid: 1, utimeTicks: 7, stimeTicks: 3 }
 * ```
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(" ");
  const state = fields[0];
  const ppid = Number(fields[1]);
  const utimeTicks = Number(fields[11]);
  const stimeTicks = Number(fields[12]);
  if (state === undefined || state === "" || !Number.isInteger(ppid)) return undefined;
  return { state, ppid, utimeTicks, stimeTicks };
}

/** `/proc/PID/stat` of `pid`, parsed; `undefined` once it is gone. */
export async function procStat(pid: number): Promise<ProcStat | undefined> {
  const text = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  return parseProcStat(text);
}

/** Whether process `pid` is alive (and not a zombie). */
export async function alive(pid: number): Promise<boolean> {
  const s = await procStat(pid);
  return s !== undefined && s.state !== "Z";
}

let ticks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`), the unit of /proc/PID/stat times. */
export async function clockTicksPerSecond(): Promise<number> {
  ticks ??= Number(await capture("getconf", ["CLK_TCK"]));
  if (!Number.isFinite(ticks) || ticks <= 0) {
    throw new Error(`getconf CLK_TCK: bad value ${ticks}; expected a positive number`);
  }
  return ticks;
}

/**
 * CPU seconds (user + system, all threads) that process `pid` has used so
 * far, from fields 14 and 15 of /proc/PID/stat; `undefined` once it is gone.
 */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  const s = await procStat(pid);
  if (s === undefined || !Number.isFinite(s.utimeTicks) || !Number.isFinite(s.stimeTicks)) {
    return undefined;
  }
  return (s.utimeTicks + s.stimeTicks) / await clockTicksPerSecond();
}

/** Peak resident set size in bytes (VmHWM of /proc/PID/status); `undefined` once it is gone. */
export function peakRssBytes(pid: number): Promise<number | undefined> {
  return statusKiB(pid, "VmHWM");
}

/** Current resident set size in bytes (VmRSS of /proc/PID/status); `undefined` once it is gone. */
export function rssBytes(pid: number): Promise<number | undefined> {
  return statusKiB(pid, "VmRSS");
}

/** A `NAME: N kB` line of /proc/PID/status, in bytes. */
async function statusKiB(pid: number, name: string): Promise<number | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(status);
    return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}
