/**
 * The durability scenario's paced sender, as a process of its own: one TCP
 * connection, every socket write exactly N octet-counted messages, write k
 * due k × N / R seconds after the first (a late timer is caught up with
 * further writes of N, never merged), and no write after `maxMs`: a write its
 * receiver still holds back 250 ms after that is cut short (the connection is
 * closed under it), so the sender ends on time even when the agent has
 * stopped reading. It imports nothing from the repository, so that each
 * case's sender runs the same whatever else is being edited in the tree.
 *
 * Run directly (prints its result as JSON):
 * `deno run --allow-net=127.0.0.1 bench/durability_sender.ts --port P --rate R --per-write N
 * --count M --size BYTES --max-ms MS`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

/** What one paced run did. */
export interface SenderResult {
  /** Messages completely written. */
  sent: number;
  /** Wall-clock ms (epoch) of the first write. */
  startedAtMs: number;
  /** Wall-clock ms (epoch) when the last write returned (or was cut). */
  finishedAtMs: number;
  /** `sent` over first write → last write returned, plus one write interval. */
  achievedPerSec: number;
  /** The furthest a write started behind its due time, ms. */
  maxLagMs: number;
  /** Whether a held-back write was cut short at the end. */
  cut: boolean;
  /** Set when the run failed (connection refused or reset). */
  error: string | undefined;
}

/** Options of a paced run. */
export interface SenderOptions {
  /** 127.0.0.1 port to send to. */
  port: number;
  /** Messages per second. */
  rate: number;
  /** Messages per socket write. */
  perWrite: number;
  /** Messages in all (whole writes). */
  count: number;
  /** Bytes of each message, not counting the octet-count prefix. */
  size: number;
  /** No write starts later than this after the first. */
  maxMs: number;
}

/** With `maxMs`, a write still held back this much later is cut short. */
const CUT_GRACE_MS = 250;

/** Epoch ms with sub-ms precision (the bench's samples use the same clock). */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One octet-counted RFC 5424 message of exactly `size` bytes (prefix not counted). */
export function frame(size: number): Uint8Array {
  const head = "<14>1 2026-01-01T00:00:00.000Z bench-host durability - - - ";
  if (size < head.length + 1) throw new RangeError(`size must be > ${head.length}, got ${size}`);
  return new TextEncoder().encode(`${size} ${head}${"x".repeat(size - head.length)}`);
}

/** The sender itself (in this process). */
export async function sendPacedFor(opts: SenderOptions): Promise<SenderResult> {
  const one = frame(opts.size);
  const buf = new Uint8Array(one.length * opts.perWrite);
  for (let k = 0; k < opts.perWrite; k++) buf.set(one, k * one.length);
  const writes = Math.max(1, Math.floor(opts.count / opts.perWrite));
  const interval = opts.perWrite * 1000 / opts.rate;
  let done = 0;
  let maxLag = 0;
  let startedAtMs = epochMs();
  let error: string | undefined;
  let cut = false;
  try {
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: opts.port });
    conn.setNoDelay(true);
    startedAtMs = epochMs();
    const t0 = performance.now();
    const cutter = setTimeout(() => {
      cut = true;
      try {
        conn.close();
      } catch {
        // already closed
      }
    }, opts.maxMs + CUT_GRACE_MS);
    try {
      for (; done < writes && !cut; done++) {
        if (performance.now() - t0 >= opts.maxMs) break;
        const due = t0 + done * interval;
        const ahead = due - performance.now();
        if (ahead >= 1) await new Promise((r) => setTimeout(r, ahead));
        maxLag = Math.max(maxLag, performance.now() - due);
        let off = 0;
        while (off < buf.length) off += await conn.write(buf.subarray(off));
      }
    } finally {
      clearTimeout(cutter);
    }
  } catch (err) {
    // a cut write (and closing the cut connection again) is the planned end, not an error
    if (!cut) error = err instanceof Error ? err.message : String(err);
  }
  const finishedAtMs = epochMs();
  const sent = done * opts.perWrite;
  const span = finishedAtMs - startedAtMs + interval;
  return {
    sent,
    startedAtMs,
    finishedAtMs,
    achievedPerSec: span > 0 ? sent / (span / 1000) : 0,
    maxLagMs: maxLag,
    cut,
    error,
  };
}

const SELF = fileURLToPath(import.meta.url);

/** A sender started by {@link startSender}. */
export interface SenderHandle {
  /** Its process id. */
  readonly pid: number;
  /** Resolves with its result once it has exited. */
  readonly result: Promise<SenderResult>;
}

/** Starts {@link sendPacedFor} as a process of its own. */
export function startSender(opts: SenderOptions): SenderHandle {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      SELF,
      ...Object.entries(opts).flatMap(([k, v]) => [
        `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
        String(v),
      ]),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const backstop = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }, opts.maxMs + 20_000);
  const result = (async () => {
    try {
      const out = await child.output();
      const text = new TextDecoder().decode(out.stdout).trim();
      try {
        return JSON.parse(text) as SenderResult;
      } catch {
        const why = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
        throw new Error(`the sender exited with code ${out.code} and no result: ${why}`);
      }
    } finally {
      clearTimeout(backstop);
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
      "per-write": { type: "string" },
      count: { type: "string" },
      size: { type: "string" },
      "max-ms": { type: "string" },
    },
  });
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      console.error(`durability_sender.ts: --${name} must be a positive integer, got ${v}`);
      Deno.exit(2);
    }
    return n;
  };
  const result = await sendPacedFor({
    port: num("port", values.port),
    rate: num("rate", values.rate),
    perWrite: num("per-write", values["per-write"]),
    count: num("count", values.count),
    size: num("size", values.size),
    maxMs: num("max-ms", values["max-ms"]),
  });
  console.log(JSON.stringify(result));
  Deno.exit(0);
}
