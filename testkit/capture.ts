/**
 * Running a command for its output.
 *
 * @module
 */

/**
 * Runs a command to completion and returns its trimmed stdout; throws with
 * its exit code and stderr when it fails.
 *
 * @example
 * ```ts
 * import { capture } from "./capture.ts";
 *
 * const ticks = Number(await capture("getconf", ["CLK_TCK"]));
 * ```
 */
export async function capture(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: env ?? {},
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${cmd} ${args.join(" ")}: exit ${out.code}: ${err || text}`);
  }
  return text;
}
