/**
 * A small tmpfs for tests that fill a disk.
 *
 * @module
 */

import { errorText } from "../ground/mod.ts";

/** Mounts a tmpfs of `size` (mount's syntax: `4m`) at `dir`; the reason when that is not permitted. */
export async function mountTmpfs(dir: string, size = "4m"): Promise<string | undefined> {
  await Deno.mkdir(dir, { recursive: true });
  try {
    const out = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.success) return undefined;
    return new TextDecoder().decode(out.stderr).trim() || `mount exited with ${out.code}`;
  } catch (e) {
    return errorText(e);
  }
}

/** Unmounts `dir`, lazily when it is busy. */
export async function umount(dir: string): Promise<void> {
  const out = await new Deno.Command("umount", { args: [dir], stderr: "piped" }).output();
  if (!out.success) await new Deno.Command("umount", { args: ["-l", dir] }).output();
}

/**
 * Why a tmpfs cannot be mounted here, or undefined when it can: tried on a
 * scratch directory, so that a test can be marked ignored before it is
 * registered.
 */
export async function tmpfsMissing(): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "tmpfs-probe-" });
  try {
    const why = await mountTmpfs(dir);
    if (why === undefined) await umount(dir);
    return why;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
