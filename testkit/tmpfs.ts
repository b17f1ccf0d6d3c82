/**
 * A small tmpfs for tests that fill a disk.
 *
 * @module
 */

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
    return e instanceof Error ? e.message : String(e);
  }
}

/** Unmounts `dir`, lazily when it is busy. */
export async function umount(dir: string): Promise<void> {
  const out = await new Deno.Command("umount", { args: [dir], stderr: "piped" }).output();
  if (!out.success) await new Deno.Command("umount", { args: ["-l", dir] }).output();
}
