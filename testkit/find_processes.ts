/**
 * Finding processes in /proc: by a text in their command line (what a run
 * left behind in its temp dir), by parent (children and descendants), and
 * killing them by pid.
 *
 * @module
 */

import { procStat } from "./proc_stat.ts";

/** A process found in /proc. */
export interface FoundProcess {
  /** Its pid. */
  pid: number;
  /** Its command line, arguments joined by spaces. */
  cmdline: string;
}

/**
 * Live processes (not this one, not zombies) whose command line contains `text`.
 *
 * @example
 * ```ts
 * import { processesUsing } from "./find_processes.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const left = await processesUsing(dir); // [] unless something runs from dir
 * ```
 */
export async function processesUsing(text: string): Promise<FoundProcess[]> {
  const found: FoundProcess[] = [];
  for (const pid of await allPids()) {
    if (pid === Deno.pid) continue;
    const raw = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    if (!raw.includes(text)) continue;
    const s = await procStat(pid);
    if (s === undefined || s.state === "Z") continue;
    found.push({ pid, cmdline: raw.replaceAll("\0", " ").trim() });
  }
  return found;
}

/** SIGKILLs every process whose command line contains `text`; returns what it killed. */
export async function killLeftovers(text: string): Promise<FoundProcess[]> {
  const left = await processesUsing(text);
  for (const p of left) kill(p.pid);
  return left;
}

/** `pid` followed by all its descendants, from the parent links in /proc/PID/stat. */
export async function withDescendants(pid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const p of await allPids()) {
    const s = await procStat(p);
    if (s === undefined) continue; // exited meanwhile
    const list = children.get(s.ppid) ?? [];
    list.push(p);
    children.set(s.ppid, list);
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i] ?? -1) ?? []));
  return out;
}

/** SIGKILLs the direct children of process `parent` that are still running. */
export async function killChildren(parent: number): Promise<void> {
  for (const p of await allPids()) {
    if ((await procStat(p))?.ppid === parent) kill(p);
  }
}

/** The pids in /proc. */
async function allPids(): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) if (/^\d+$/.test(e.name)) pids.push(Number(e.name));
  return pids;
}

function kill(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // Gone meanwhile.
  }
}
