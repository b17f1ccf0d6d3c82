/**
 * What a directory takes on disk: allocated and apparent bytes of its
 * regular files.
 *
 * @module
 */

/** Disk usage of the regular files under a directory (directories themselves not counted). */
export interface DiskUsage {
  /** Bytes of allocated blocks (what `du` counts): `st_blocks` × 512. */
  allocated: number;
  /** Sum of file sizes. */
  apparent: number;
  /** Number of regular files. */
  files: number;
}

/**
 * Walks `path` and sums its regular files; zeros when it does not exist.
 *
 * @example
 * ```ts
 * import { diskUsage } from "./disk_usage.ts";
 *
 * const { files, allocated } = await diskUsage("/tmp/nothing-here");
 * // files === 0, allocated === 0
 * ```
 */
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
