/**
 * CPU time, peak memory and disk usage of benchmark subjects, read from
 * /proc and the file system.
 *
 * @module
 */

import { capture } from "./child.ts";

let ticks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`), the unit of /proc/PID/stat times. */
export async function clockTicksPerSecond(): Promise<number> {
  ticks ??= Number(await capture("getconf", ["CLK_TCK"]));
  if (!Number.isFinite(ticks) || ticks <= 0) throw new Error(`getconf CLK_TCK: bad value ${ticks}`);
  return ticks;
}

/**
 * CPU seconds (user + system, all threads) that process `pid` has used so
 * far, from fields 14 and 15 of /proc/PID/stat; `undefined` once it is gone.
 */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  let stat: string;
  try {
    stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // "PID (comm) STATE ..." — comm may hold spaces, so count fields after ")"
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / await clockTicksPerSecond();
}

/** Peak resident set size in bytes (VmHWM of /proc/PID/status); `undefined` once it is gone. */
export async function peakRssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Current resident set size in bytes (VmRSS of /proc/PID/status); `undefined` once it is gone. */
export async function rssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Disk usage of the regular files under a directory (directories themselves not counted). */
export interface DiskUsage {
  /** Bytes of allocated blocks (what `du` counts): `st_blocks` × 512. */
  allocated: number;
  /** Sum of file sizes. */
  apparent: number;
  /** Number of regular files. */
  files: number;
}

/** Walks `path` and sums its regular files; zeros when it does not exist. */
export async function diskUsage(path: string): Promise<DiskUsage> {
  const usage: DiskUsage = { allocated: 0, apparent: 0, files: 0 };
  const walk = async (dir: string): Promise<void> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return; // gone or not a directory
    }
    for (const entry of entries) {
      const full = `${dir}/${entry.name}`;
      if (entry.isDirectory) {
        await walk(full);
      } else if (entry.isFile) {
        try {
          const info = await Deno.lstat(full);
          usage.apparent += info.size;
          usage.allocated += (info.blocks ?? Math.ceil(info.size / 512)) * 512;
          usage.files++;
        } catch {
          // removed meanwhile
        }
      }
    }
  };
  await walk(path);
  return usage;
}
