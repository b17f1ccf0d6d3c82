/**
 * Load generators: our own Deno sender (octet-counted, sequence-numbered
 * messages written in large batches; run as a separate process so its CPU is
 * not the bench's) and syslog-ng's `loggen`.
 *
 * Run directly, this file is the sender:
 * `deno run --allow-net --allow-write bench/load.ts --port P --count N
 * [--connections C] [--size 256] [--batch 512] [--deadline-ms MS] [--rate MSGS_PER_S] --out result.json`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { spawnLogged } from "../testkit/mod.ts";
import type { SyslogNgInstall } from "./syslog_ng.ts";

/** What one load-generator run did. */
export interface LoadResult {
  /** Which generator ran. */
  generator: "deno" | "loggen";
  /** Messages completely written (Deno sender) or reported sent (loggen). */
  sent: number;
  /** Wall-clock ms (epoch) when the first byte was about to be written. */
  startedAtMs: number;
  /** Wall-clock ms (epoch) when the last write returned; undefined if it never finished. */
  finishedAtMs: number | undefined;
  /** Wall-clock ms (epoch) when the generator stopped: finished, gave up or failed. */
  stoppedAtMs: number;
  /** Longest single socket write wait in ms (Deno sender only). */
  maxWriteWaitMs: number | undefined;
  /** True when the deadline passed before everything was written. */
  stalled: boolean;
  /** Set when the generator failed. */
  error: string | undefined;
}

/** Options shared by both generators. */
export interface LoadOptions {
  /** 127.0.0.1 port to send to. */
  port: number;
  /** Total messages (split evenly over the connections). */
  count: number;
  /** Concurrent TCP connections. */
  connections: number;
  /** Bytes per message, not counting the octet-count prefix. */
  size: number;
  /** Give up (and report a stall) after this many ms. */
  deadlineMs: number;
  /** Total messages per second to pace to (all connections); unpaced when absent. */
  rate?: number | undefined;
}

/** A running generator. */
export interface LoadHandle {
  /** Process id of the generator. */
  readonly pid: number;
  /** Resolves when the generator has finished, failed or hit its deadline. */
  readonly result: Promise<LoadResult>;
  /** Kills the generator. */
  stop(): Promise<void>;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Messages per connection: `count` split as evenly as possible. */
export function splitCount(count: number, connections: number): number[] {
  const base = Math.floor(count / connections);
  return Array.from({ length: connections }, (_, i) => base + (i < count % connections ? 1 : 0));
}

/**
 * One octet-counted frame template: `"<size> <14>1 TIMESTAMP bench-host
 * bench-sender PID - - c=CC seq=NNNNNNNNNN xxx…"` with the message exactly
 * `size` bytes; returns the frame and the offset of the 10 sequence digits.
 */
export function frameTemplate(
  size: number,
  conn: number,
): { frame: Uint8Array; seqOffset: number } {
  const head = `<14>1 2024-01-01T00:00:00.000Z bench-host bench-sender ${Deno.pid} - - c=${
    String(conn).padStart(2, "0")
  } seq=`;
  const minimum = head.length + 10 + 1;
  if (size < minimum) throw new RangeError(`message size must be at least ${minimum}, got ${size}`);
  const msg = head + "0".repeat(10) + " " + "x".repeat(size - minimum);
  const prefix = `${size} `;
  return {
    frame: new TextEncoder().encode(prefix + msg),
    seqOffset: prefix.length + head.length,
  };
}

/** Writes `seq` as 10 ASCII digits at `offset`. */
function putSeq(buf: Uint8Array, offset: number, seq: number): void {
  let v = seq;
  for (let d = 9; d >= 0; d--) {
    buf[offset + d] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
}

/**
 * The Deno sender itself: opens `connections` connections, then writes
 * `count` octet-counted messages over them in batches of `batch` frames,
 * timing every socket write. Stops at the deadline with `stalled: true`.
 */
export async function sendOctetCounted(
  opts: LoadOptions & { batch: number },
): Promise<LoadResult> {
  const conns: Deno.TcpConn[] = [];
  const counts = splitCount(opts.count, opts.connections);
  let sent = 0;
  let maxWait = 0;
  const pendingSince = new Set<number>();
  let startedAtMs = nowMs();
  try {
    for (let c = 0; c < opts.connections; c++) {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port: opts.port }));
    }
    startedAtMs = nowMs();
    let seqBase = 0;
    const sendOne = async (conn: Deno.TcpConn, c: number, n: number, firstSeq: number) => {
      const { frame, seqOffset } = frameTemplate(opts.size, c);
      // paced: batches of about 1 ms worth, each sent when its time has come
      const perConnRate = opts.rate === undefined ? undefined : opts.rate / opts.connections;
      const batch = perConnRate === undefined
        ? opts.batch
        : Math.max(1, Math.min(opts.batch, Math.round(perConnRate / 1000)));
      const paceFrom = performance.now();
      const per = Math.max(1, Math.min(batch, n));
      const buf = new Uint8Array(frame.length * per);
      for (let k = 0; k < per; k++) buf.set(frame, k * frame.length);
      let done = 0;
      while (done < n) {
        if (perConnRate !== undefined) {
          const due = paceFrom + done / perConnRate * 1000;
          const ahead = due - performance.now();
          if (ahead >= 1) await new Promise((r) => setTimeout(r, ahead));
        }
        const k = Math.min(per, n - done);
        for (let j = 0; j < k; j++) putSeq(buf, j * frame.length + seqOffset, firstSeq + done + j);
        const chunk = buf.subarray(0, k * frame.length);
        let off = 0;
        while (off < chunk.length) {
          const t0 = performance.now();
          pendingSince.add(t0);
          try {
            off += await conn.write(chunk.subarray(off));
          } finally {
            pendingSince.delete(t0);
          }
          maxWait = Math.max(maxWait, performance.now() - t0);
        }
        done += k;
        sent += k;
      }
    };
    const work = Promise.all(conns.map((conn, c) => {
      const n = counts[c] ?? 0;
      const first = seqBase;
      seqBase += n;
      return sendOne(conn, c, n, first);
    }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"deadline">((resolve) => {
      timer = setTimeout(() => resolve("deadline"), opts.deadlineMs);
    });
    const outcome = await Promise.race([work.then(() => "done" as const), deadline]);
    clearTimeout(timer);
    if (outcome === "deadline") {
      const now = performance.now();
      for (const t0 of pendingSince) maxWait = Math.max(maxWait, now - t0);
      return {
        generator: "deno",
        sent,
        startedAtMs,
        finishedAtMs: undefined,
        stoppedAtMs: nowMs(),
        maxWriteWaitMs: maxWait,
        stalled: true,
        error: undefined,
      };
    }
    const finishedAtMs = nowMs();
    return {
      generator: "deno",
      sent,
      startedAtMs,
      finishedAtMs,
      stoppedAtMs: finishedAtMs,
      maxWriteWaitMs: maxWait,
      stalled: false,
      error: undefined,
    };
  } catch (err) {
    return {
      generator: "deno",
      sent,
      startedAtMs,
      finishedAtMs: undefined,
      stoppedAtMs: nowMs(),
      maxWriteWaitMs: maxWait,
      stalled: false,
      error: err instanceof Error ? err.message : String(err),
    };
  }
}

const LOAD_TS = fileURLToPath(import.meta.url);

/** Starts the Deno sender as its own process; `dir` receives its result and log. */
export function startDenoSender(opts: LoadOptions & { dir: string; batch?: number }): LoadHandle {
  const out = `${opts.dir}/sender-result.json`;
  const child = spawnLogged({
    cmd: Deno.execPath(),
    args: [
      "run",
      "--allow-net=127.0.0.1",
      `--allow-write=${opts.dir}`,
      LOAD_TS,
      "--port",
      String(opts.port),
      "--count",
      String(opts.count),
      "--connections",
      String(opts.connections),
      "--size",
      String(opts.size),
      "--batch",
      String(opts.batch ?? 512),
      "--deadline-ms",
      String(opts.deadlineMs),
      "--out",
      out,
      ...(opts.rate === undefined ? [] : ["--rate", String(opts.rate)]),
    ],
    logPath: `${opts.dir}/sender.log`,
  });
  const spawnedAt = nowMs();
  const result = (async (): Promise<LoadResult> => {
    // the process exits on its own at its deadline; this is a backstop
    const backstop = setTimeout(() => child.signal("SIGKILL"), opts.deadlineMs + 15_000);
    const status = await child.status;
    clearTimeout(backstop);
    try {
      return JSON.parse(await Deno.readTextFile(out)) as LoadResult;
    } catch {
      return {
        generator: "deno",
        sent: 0,
        startedAtMs: spawnedAt,
        finishedAtMs: undefined,
        stoppedAtMs: nowMs(),
        maxWriteWaitMs: undefined,
        stalled: false,
        error: `sender exited with code ${status.code} and no result: ${await child.logTail()}`,
      };
    }
  })();
  return {
    pid: child.pid,
    result,
    stop: async () => {
      await child.stop(1_000);
    },
  };
}

/** The loggen arguments used by the bench (framing: see {@link startLoggen}). */
export function loggenArgs(opts: LoadOptions): string[] {
  return [
    "--inet",
    "--stream",
    "--syslog-proto",
    "--size",
    String(opts.size),
    "--number",
    String(Math.ceil(opts.count / opts.connections)),
    "--active-connections",
    String(opts.connections),
    "--rate",
    "1000000000",
    // loggen stops after --interval seconds (default 10) even before --number
    "--interval",
    String(Math.max(1, Math.ceil(opts.deadlineMs / 1000))),
    "127.0.0.1",
    String(opts.port),
  ];
}

/**
 * Starts syslog-ng's loggen. With `--syslog-proto` it sends RFC 5424
 * messages with RFC 6587 octet counting (`"256 <38>1 …\n"`: the counted
 * `size` bytes end in an LF). `--number` is per connection, so `count` must
 * divide evenly; `--interval` is the deadline, since loggen's default of
 * 10 s ends a run early. loggen only reports at 0.5 s ticks, so its own finish time is
 * coarse: the end-to-end figure uses the collector instead. The start time is
 * the spawn time.
 */
export function startLoggen(
  install: SyslogNgInstall,
  opts: LoadOptions & { dir: string },
): LoadHandle {
  if (opts.count % opts.connections !== 0) {
    throw new RangeError(`loggen: count ${opts.count} is not a multiple of ${opts.connections}`);
  }
  const startedAtMs = nowMs();
  const child = spawnLogged({
    cmd: install.loggen,
    args: loggenArgs(opts),
    logPath: `${opts.dir}/loggen.log`,
    env: install.env,
  });
  const result = (async (): Promise<LoadResult> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"deadline">((resolve) => {
      timer = setTimeout(() => resolve("deadline"), opts.deadlineMs);
    });
    const outcome = await Promise.race([child.status, deadline]);
    clearTimeout(timer);
    const finishedAtMs = nowMs();
    if (outcome === "deadline") await child.stop(1_000);
    const log = await child.logTail(4_000);
    const counts = [...log.matchAll(/count=(\d+)/g)].map((m) => Number(m[1]));
    const sent = counts.length > 0 ? Math.max(...counts) : 0;
    const failed = outcome !== "deadline" && !outcome.success;
    return {
      generator: "loggen",
      sent,
      startedAtMs,
      finishedAtMs: outcome === "deadline" ? undefined : finishedAtMs,
      stoppedAtMs: finishedAtMs,
      maxWriteWaitMs: undefined,
      stalled: outcome === "deadline",
      error: failed ? `loggen exited with code ${outcome.code}: ${log.slice(-500)}` : undefined,
    };
  })();
  return {
    pid: child.pid,
    result,
    stop: async () => {
      await child.stop(1_000);
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string" },
      count: { type: "string" },
      connections: { type: "string", default: "1" },
      size: { type: "string", default: "256" },
      batch: { type: "string", default: "512" },
      "deadline-ms": { type: "string", default: "60000" },
      out: { type: "string" },
      rate: { type: "string" },
    },
  });
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      console.error(`load.ts: --${name} must be a positive integer, got ${v}`);
      Deno.exit(2);
    }
    return n;
  };
  const result = await sendOctetCounted({
    port: num("port", values.port),
    count: num("count", values.count),
    connections: num("connections", values.connections),
    size: num("size", values.size),
    batch: num("batch", values.batch),
    deadlineMs: num("deadline-ms", values["deadline-ms"]),
    rate: values.rate === undefined ? undefined : num("rate", values.rate),
  });
  const text = JSON.stringify(result) + "\n";
  if (values.out) await Deno.writeTextFile(values.out, text);
  else console.log(text.trim());
  // a stalled write keeps the event loop alive: leave at once
  Deno.exit(result.error === undefined ? 0 : 1);
}
