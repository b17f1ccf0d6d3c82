/**
 * How long one small append plus fdatasync takes on a disk: `count` times
 * write(`bytes`) + fdatasync on a new file in a directory, each timed, from a
 * process of its own, so that it can be put in a cgroup (the slow disk's
 * throttle) before it starts. The durability benchmark measures each disk with
 * it before its cases.
 *
 * Run directly (it waits for a line on stdin before it starts, prints JSON):
 * `deno run --allow-read=DIR --allow-write=DIR bench/fdatasync_probe.ts DIR [COUNT] [BYTES]`
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** What one probe measured. */
export interface FdatasyncTimes {
  /** Appends made (each followed by an fdatasync). */
  count: number;
  /** Bytes of each append. */
  bytes: number;
  /** Median of write + fdatasync, ms. */
  medianMs: number;
  /**
   * Mean, ms: the time of all of them / count, the disk's cost per sync when
   * syncs follow each other (a throttle that lets bursts through and then
   * holds a write for long shows here, not in the median).
   */
  meanMs: number;
  /** 90th percentile, ms. */
  p90Ms: number;
  /** Fastest, ms. */
  minMs: number;
  /** Slowest, ms. */
  maxMs: number;
}

/** The `q` quantile (0..1) of sorted `xs` (nearest rank). */
function quantile(xs: number[], q: number): number {
  return xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))] ?? NaN;
}

/** Times `count` appends of `bytes` each followed by an fdatasync, in this process. */
export async function timeFdatasync(
  dir: string,
  count = 200,
  bytes = 250,
): Promise<FdatasyncTimes> {
  const path = `${dir}/fdatasync-probe-${Deno.pid}.bin`;
  const data = new Uint8Array(bytes).fill(0x78);
  const times: number[] = [];
  let total = 0;
  const file = await Deno.open(path, { create: true, write: true, truncate: true });
  try {
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      let off = 0;
      while (off < data.length) off += await file.write(data.subarray(off));
      await file.syncData();
      const took = performance.now() - t0;
      times.push(took);
      total += took;
    }
  } finally {
    file.close();
    await Deno.remove(path).catch(() => {});
  }
  const sorted = [...times].sort((a, b) => a - b);
  return {
    count,
    bytes,
    medianMs: quantile(sorted, 0.5),
    meanMs: total / count,
    p90Ms: quantile(sorted, 0.9),
    minMs: sorted[0] ?? NaN,
    maxMs: sorted[sorted.length - 1] ?? NaN,
  };
}

const SELF = fileURLToPath(import.meta.url);

/**
 * Runs {@link timeFdatasync} as a child process in `dir`. `join` is called
 * with the child's pid before it starts measuring (to put it in a cgroup).
 */
export async function probeFdatasync(
  dir: string,
  opts: { count?: number; bytes?: number; join?: (pid: number) => Promise<void> } = {},
): Promise<FdatasyncTimes> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      SELF,
      dir,
      String(opts.count ?? 200),
      String(opts.bytes ?? 250),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  const stdin = child.stdin.getWriter();
  try {
    await opts.join?.(child.pid);
    await stdin.write(new TextEncoder().encode("go\n"));
  } finally {
    await stdin.close().catch(() => {});
  }
  const out = await output;
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(
      `fdatasync probe in ${dir} exited with code ${out.code}: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
  return JSON.parse(text) as FdatasyncTimes;
}

if (import.meta.main) {
  const [dir, count, bytes] = Deno.args;
  if (dir === undefined) {
    console.error("usage: fdatasync_probe.ts DIR [COUNT] [BYTES]");
    Deno.exit(2);
  }
  // Wait for the go line: the parent puts this process in its cgroup first.
  const reader = Deno.stdin.readable.getReader();
  await reader.read();
  reader.releaseLock();
  const times = await timeFdatasync(dir, Number(count ?? 200), Number(bytes ?? 250));
  console.log(JSON.stringify(times));
}
