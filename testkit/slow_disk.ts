/**
 * A real slow disk: an ext4 file system on a loop device whose writes are
 * throttled (cgroup v1 `blkio.throttle.write_iops_device`) for the processes
 * put in its cgroup. An fdatasync there waits for the throttle: with 200
 * writes a second, about 5 ms each, where this machine's disk takes 0.3 ms.
 *
 * @module
 */

import { umount } from "./tmpfs.ts";
import { errorText } from "../ground/mod.ts";

/** A mounted slow disk (see {@linkcode slowDisk}). */
export interface SlowDisk {
  /** Where it is mounted: a directory on the slow file system. */
  dir: string;
  /** Puts process `pid` (all its threads) under the throttle. */
  join(pid: number): Promise<void>;
  /** Unmounts it and frees the loop device, the image and the cgroup. */
  remove(): Promise<void>;
}

const CGROUP_ROOT = "/sys/fs/cgroup/blkio";

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${dec.decode(out.stderr).trim() || out.code}`);
  }
  return dec.decode(out.stdout).trim();
}

/**
 * Why this machine cannot make a {@linkcode slowDisk} (not root, no loop
 * devices, no cgroup v1 blkio throttle), or undefined when it can try.
 * Synchronous, so that a test can be marked ignored when it is registered.
 */
export function slowDiskMissing(): string | undefined {
  if (Deno.uid() !== 0) return "not root (a loop device and a cgroup need root)";
  try {
    Deno.statSync(`${CGROUP_ROOT}/blkio.throttle.write_iops_device`);
    Deno.statSync("/dev/loop-control");
  } catch {
    return `no cgroup v1 blkio throttle (${CGROUP_ROOT}) or no /dev/loop-control`;
  }
  return undefined;
}

/**
 * Makes a slow disk of `sizeMiB` under `dir` (`dir/disk.img`, mounted at
 * `dir/mnt`) whose writes are limited to `writeIops` a second for the
 * processes that {@linkcode SlowDisk.join} it. Resolves with the reason
 * (a string) when this machine cannot: not root, no loop device, no cgroup v1
 * blkio controller.
 *
 * @example
 * ```ts ignore
 * import { slowDisk } from "./slow_disk.ts";
 * const disk = await slowDisk(await Deno.makeTempDir());
 * if (typeof disk !== "string") {
 *   // start a process with its spool in disk.dir, then: await disk.join(pid);
 *   await disk.remove();
 * }
 * ```
 */
export async function slowDisk(
  dir: string,
  opts: { sizeMiB?: number; writeIops?: number } = {},
): Promise<SlowDisk | string> {
  const missing = slowDiskMissing();
  if (missing !== undefined) return missing;
  const image = `${dir}/disk.img`;
  const mnt = `${dir}/mnt`;
  const cgroup = `${CGROUP_ROOT}/syslog-agent-${crypto.randomUUID().slice(0, 8)}`;
  let loop = "";
  let mounted = false;
  const remove = async () => {
    if (mounted) await umount(mnt);
    if (loop !== "") await run("losetup", ["-d", loop]).catch(() => {});
    await Deno.remove(cgroup).catch(() => {});
    await Deno.remove(image).catch(() => {});
  };
  try {
    await Deno.mkdir(mnt, { recursive: true });
    await run("truncate", ["-s", `${opts.sizeMiB ?? 256}M`, image]);
    loop = await run("losetup", ["--find", "--show", image]);
    await run("mkfs.ext4", ["-q", loop]);
    await run("mount", [loop, mnt]);
    mounted = true;
    const majMin = (await run("lsblk", ["-dno", "MAJ:MIN", loop])).trim();
    await Deno.mkdir(cgroup);
    await Deno.writeTextFile(
      `${cgroup}/blkio.throttle.write_iops_device`,
      `${majMin} ${opts.writeIops ?? 200}`,
    );
  } catch (e) {
    await remove();
    return `cannot make a throttled loop device: ${errorText(e)}`;
  }
  return {
    dir: mnt,
    join: (pid) => Deno.writeTextFile(`${cgroup}/cgroup.procs`, String(pid)),
    remove,
  };
}
