/**
 * The steady-state scenario's paced sender: one TCP connection, every socket
 * write exactly `batch` octet-counted messages (bench/load.ts's frame), the
 * k-th write due `k × batch / rate` seconds after the first. It sleeps until a
 * write is due and, when the timer wakes it late, writes the writes that came
 * due one after another (never merging them), so the rate holds and each write
 * keeps its size. It runs as its own process (its CPU is not the relay's, and
 * the bench's event loop does not disturb its timing).
 *
 * Run directly:
 * `deno run --allow-net=127.0.0.1 --allow-write=DIR bench/steady_sender.ts --port P
 * --rate MSGS_PER_S --batch N --count M [--size 256] --out result.json`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { sleep, spawnLogged } from "../testkit/mod.ts";
import { frameTemplate, nowMs } from "./load.ts";

/** What one paced run did. */
export interface PacedResult {
  /** Messages completely written. */
  sent: number;
  /** Socket writes made (each of `batch` messages). */
  writes: number;
  /** Wall-clock ms (epoch) of the first write. */
  startedAtMs: number;
  /** Wall-clock ms (epoch) when the last write returned. */
  finishedAtMs: number;
  /** Messages per second achieved: see {@link achievedRate}. */
  achievedPerSec: number;
  /** The furthest a write started behind its due time, ms. */
  maxLagMs: number;
  /** Set when the run failed (connection refused or reset). */
  error: string | undefined;
}

/** When write `k` (0-based) is due, in ms after the first: `k × batch / rate` seconds. */
export function dueMs(k: number, rate: number, batch: number): number {
  return k * batch * 1000 / rate;
}

/**
 * The rate a run achieved: `sent` messages over the time from the first write
 * to the last one returning, plus one write interval (the last write's own
 * share). A run paced exactly gives `rate`.
 *
 * @example
 * ```ts
 * import { achievedRate } from "./steady_sender.ts";
 *
 * // 10 writes of 20 at 2,000/s: due at 0, 10, …, 90 ms
 * achievedRate({ sent: 200, elapsedMs: 90, rate: 2_000, batch: 20 }); // 2000
 * ```
 */
export function achievedRate(
  run: { sent: number; elapsedMs: number; rate: number; batch: number },
): number {
  const span = run.elapsedMs + dueMs(1, run.rate, run.batch);
  return span <= 0 ? 0 : run.sent / (span / 1000);
}

/** Messages rounded down to whole writes (at least one write). */
export function wholeWrites(count: number, batch: number): number {
  return Math.max(batch, Math.floor(count / batch) * batch);
}

/** Options of a paced run. */
export interface PacedOptions {
  /** 127.0.0.1 port to send to. */
  port: number;
  /** Messages per second. */
  rate: number;
  /** Messages per socket write. */
  batch: number;
  /** Messages in all (rounded down to whole writes). */
  count: number;
  /** Bytes per message, not counting the octet-count prefix. */
  size: number;
}

/** The sender itself (in this process). */
export async function sendPaced(opts: PacedOptions): Promise<PacedResult> {
  const { frame } = frameTemplate(opts.size, 0);
  const buf = new Uint8Array(frame.length * opts.batch);
  for (let k = 0; k < opts.batch; k++) buf.set(frame, k * frame.length);
  const writes = wholeWrites(opts.count, opts.batch) / opts.batch;
  let done = 0;
  let maxLag = 0;
  let startedAtMs = nowMs();
  let error: string | undefined;
  try {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: opts.port });
    conn.setNoDelay(true);
    startedAtMs = nowMs();
    const t0 = performance.now();
    for (; done < writes; done++) {
      const due = t0 + dueMs(done, opts.rate, opts.batch);
      const ahead = due - performance.now();
      if (ahead >= 1) await sleep(ahead);
      maxLag = Math.max(maxLag, performance.now() - due);
      let off = 0;
      while (off < buf.length) off += await conn.write(buf.subarray(off));
    }
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  const finishedAtMs = nowMs();
  const sent = done * opts.batch;
  return {
    sent,
    writes: done,
    startedAtMs,
    finishedAtMs,
    achievedPerSec: achievedRate({
      sent,
      elapsedMs: finishedAtMs - startedAtMs,
      rate: opts.rate,
      batch: opts.batch,
    }),
    maxLagMs: maxLag,
    error,
  };
}

/** A paced sender running as its own process. */
export interface PacedHandle {
  /** Its process id. */
  readonly pid: number;
  /** Resolves with its result once it has exited. */
  readonly result: Promise<PacedResult>;
}

const SELF = fileURLToPath(import.meta.url);

/** Starts {@link sendPaced} as a process; `dir` receives its result and log. */
export function startPacedSender(opts: PacedOptions & { dir: string }): PacedHandle {
  const out = `${opts.dir}/paced-result.json`;
  const child = spawnLogged({
    cmd: Deno.execPath(),
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `--allow-write=${opts.dir}`,
      SELF,
      "--port",
      String(opts.port),
      "--rate",
      String(opts.rate),
      "--batch",
      String(opts.batch),
      "--count",
      String(opts.count),
      "--size",
      String(opts.size),
      "--out",
      out,
    ],
    logPath: `${opts.dir}/paced-sender.log`,
  });
  const spawnedAt = nowMs();
  const result = (async (): Promise<PacedResult> => {
    // a paced run lasts count / rate; the backstop allows startup and a slow end
    const backstop = setTimeout(
      () => child.signal("SIGKILL"),
      opts.count / opts.rate * 1000 + 20_000,
    );
    const status = await child.status;
    clearTimeout(backstop);
    try {
      return JSON.parse(await Deno.readTextFile(out)) as PacedResult;
    } catch {
      return {
        sent: 0,
        writes: 0,
        startedAtMs: spawnedAt,
        finishedAtMs: nowMs(),
        achievedPerSec: 0,
        maxLagMs: 0,
        error: `paced sender exited with code ${status.code} and no result: ${await child
          .logTail()}`,
      };
    }
  })();
  return { pid: child.pid, result };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string" },
      rate: { type: "string" },
      batch: { type: "string" },
      count: { type: "string" },
      size: { type: "string", default: "256" },
      out: { type: "string" },
    },
  });
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      console.error(`steady_sender.ts: --${name} must be a positive integer, got ${v}`);
      Deno.exit(2);
    }
    return n;
  };
  const result = await sendPaced({
    port: num("port", values.port),
    rate: num("rate", values.rate),
    batch: num("batch", values.batch),
    count: num("count", values.count),
    size: num("size", values.size),
  });
  const text = JSON.stringify(result) + "\n";
  if (values.out) await Deno.writeTextFile(values.out, text);
  else console.log(text.trim());
  Deno.exit(result.error === undefined ? 0 : 1);
}
