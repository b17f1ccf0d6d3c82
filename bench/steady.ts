/**
 * The steady-state scenario (issue 14, item 1): each relay under a paced load
 * of R msgs/s in socket writes of N messages, measured over a window after a
 * warm-up: CPU per million messages, CPU %, peak and steady RSS. The relays
 * are the agent in both spool modes, rsyslogd, syslog-ng and a minimal Deno
 * relay (bench/min_relay.ts) as this runtime's floor. Sender
 * (bench/steady_sender.ts) and relay are separate processes; the sink that
 * counts what the relay forwards runs in the bench process. Only the relay
 * process is measured.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import {
  cpuSeconds,
  deferCleanup,
  freePort,
  isInterrupted,
  peakRssBytes,
  rssBytes,
  sleep,
  spawnLogged,
  tcpReady,
} from "../testkit/mod.ts";
import { FrameCounter } from "./frame_counter.ts";
import { nowMs } from "./load.ts";
import { type RelayDeps, RelayUnavailable, startRelay } from "./relays.ts";
import { type PacedResult, startPacedSender, wholeWrites } from "./steady_sender.ts";

/** The relays of the steady scenario; `deno-min` is bench/min_relay.ts. */
export const STEADY_RELAYS = [
  "agent-fallback",
  "agent-always",
  "rsyslogd",
  "syslog-ng",
  "deno-min",
] as const;

/** One relay of the steady scenario. */
export type SteadyRelay = typeof STEADY_RELAYS[number];

/** Report labels of the steady relays. */
export const STEADY_LABELS: Record<SteadyRelay, string> = {
  "agent-fallback": "agent, spool fallback",
  "agent-always": "agent, spool always",
  "rsyslogd": "rsyslogd, disk-assisted queue",
  "syslog-ng": "syslog-ng, disk-buffer",
  "deno-min": "minimal Deno relay",
};

/** One paced load: messages per second in socket writes of `batch` messages. */
export interface SteadyLoad {
  /** Messages per second. */
  rate: number;
  /** Messages per socket write. */
  batch: number;
}

/** The full run's loads: 1,000 / 2,000 / 20,000 / 50,000 msgs/s × writes of 1, 20, 200. */
export const STEADY_LOADS: SteadyLoad[] = [1_000, 2_000, 20_000, 50_000].flatMap((rate) =>
  [1, 20, 200].map((batch) => ({ rate, batch }))
);

/** `--quick`: two of them. */
export const QUICK_STEADY_LOADS: SteadyLoad[] = [
  { rate: 2_000, batch: 20 },
  { rate: 20_000, batch: 200 },
];

/** One measured configuration. */
export interface SteadyCase extends SteadyLoad {
  /** The relay under test. */
  relay: SteadyRelay;
  /** Message size in bytes. */
  size: number;
  /** From the first message at the sink to the start of the window. */
  warmupMs: number;
  /** The measurement window. */
  measureMs: number;
}

/** Figures of one run. */
export interface SteadyRun {
  /** Messages the sender wrote. */
  sent: number;
  /** Messages the sink counted (all connections from the relay). */
  delivered: number;
  /** The sender's achieved rate over its whole run (msgs/s). */
  achievedPerSec: number | undefined;
  /** The furthest a write started behind its due time, ms. */
  maxLagMs: number | undefined;
  /** Messages the sink counted within the window. */
  windowMessages: number;
  /** Window length, s. */
  windowSeconds: number;
  /** Relay CPU s (user + system, all threads) within the window, by the source below. */
  cpuSeconds: number | undefined;
  /** Where `cpuSeconds` comes from: per-thread ns (schedstat) or clock ticks (stat). */
  cpuSource: "schedstat" | "ticks" | undefined;
  /** The same from /proc/PID/stat clock ticks (10 ms resolution), for comparison. */
  tickCpuSeconds: number | undefined;
  /** CPU seconds per million messages in the window; undefined when messages were lost. */
  cpuSecPerMillion: number | undefined;
  /** CPU % over the window (100 = one core); undefined when messages were lost. */
  cpuPercent: number | undefined;
  /** VmHWM at the end of the window, bytes. */
  peakRssBytes: number | undefined;
  /** Median VmRSS sampled every 500 ms in the window, bytes. */
  steadyRssBytes: number | undefined;
  /** Why the figures are missing (a failed run, lost messages). */
  problem: string | undefined;
  /** Remarks on figures that stand: the sender fell short of the rate, CPU from ticks. */
  note: string | undefined;
}

/** A failed run: no figures, only the problem. */
export function failedSteadyRun(problem: string): SteadyRun {
  return {
    sent: 0,
    delivered: 0,
    achievedPerSec: undefined,
    maxLagMs: undefined,
    windowMessages: 0,
    windowSeconds: 0,
    cpuSeconds: undefined,
    cpuSource: undefined,
    tickCpuSeconds: undefined,
    cpuSecPerMillion: undefined,
    cpuPercent: undefined,
    peakRssBytes: undefined,
    steadyRssBytes: undefined,
    problem,
    note: undefined,
  };
}

/** A counting sink on 127.0.0.1: every connection's messages, whatever the framing. */
interface Sink {
  readonly port: number;
  /** Messages counted so far over all connections. */
  count(): number;
  /** The first framing error any connection had. */
  error(): string | undefined;
  close(): void;
}

function startSink(port: number): Sink {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const counters: FrameCounter[] = [];
  const conns = new Set<Deno.TcpConn>();
  let closed = false;
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const counter = new FrameCounter();
      counters.push(counter);
      (async () => {
        const buf = new Uint8Array(256 * 1024);
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          counter.push(buf.subarray(0, n));
        }
      })().catch(() => {}).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch {
          // closed already
        }
      });
    }
  })().catch(() => {});
  const close = () => {
    if (closed) return;
    closed = true;
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // closed already
      }
    }
  };
  const unregister = deferCleanup(close);
  return {
    port,
    count: () => counters.reduce((sum, c) => sum + c.count, 0),
    error: () => counters.find((c) => c.error !== undefined)?.error,
    close: () => {
      unregister();
      close();
    },
  };
}

/** CPU ns per live thread of `pid` (field 1 of /proc/PID/task/TID/schedstat). */
export async function threadCpuNs(pid: number): Promise<Map<number, number> | undefined> {
  const out = new Map<number, number>();
  try {
    for await (const t of Deno.readDir(`/proc/${pid}/task`)) {
      try {
        const text = await Deno.readTextFile(`/proc/${pid}/task/${t.name}/schedstat`);
        const ns = Number(text.split(" ")[0]);
        if (Number.isFinite(ns)) out.set(Number(t.name), ns);
      } catch {
        // the thread exited meanwhile
      }
    }
  } catch {
    return undefined;
  }
  return out.size === 0 ? undefined : out;
}

/**
 * CPU seconds between two {@link threadCpuNs} readings, over the threads of
 * the second (threads new in it count from zero). `vanished` counts threads
 * of the first that are gone: their time in between is missing from
 * `seconds` (an idle worker thread that exits costs nothing; a busy one must
 * be caught by comparing with the clock ticks).
 */
export function threadCpuDelta(
  before: Map<number, number>,
  after: Map<number, number>,
): { seconds: number; vanished: number } {
  let ns = 0;
  let vanished = 0;
  for (const [tid, v0] of before) {
    const v1 = after.get(tid);
    if (v1 === undefined) vanished++;
    else ns += v1 - v0;
  }
  for (const [tid, v1] of after) if (!before.has(tid)) ns += v1;
  return { seconds: ns / 1e9, vanished };
}

/** A started relay, as far as this scenario needs it. */
interface Started {
  readonly inputPort: number;
  readonly pid: number;
  exited(): boolean;
  stop(): Promise<void>;
}

const MIN_RELAY = fileURLToPath(new URL("./min_relay.ts", import.meta.url));

async function startSteadyRelay(
  relay: SteadyRelay,
  collectorPort: number,
  dir: string,
  deps: RelayDeps,
): Promise<Started> {
  const inputPort = await freePort();
  if (relay !== "deno-min") {
    const r = await startRelay(relay, { inputPort, collectorPort, dir }, deps);
    if (r.pid === undefined) throw new Error(`${relay}: no process to measure`);
    const pid = r.pid;
    return { inputPort, pid, exited: () => r.exited(), stop: () => r.stop() };
  }
  await Deno.mkdir(dir, { recursive: true });
  const child = spawnLogged({
    cmd: Deno.execPath(),
    args: [
      "run",
      "--allow-net=127.0.0.1",
      MIN_RELAY,
      "--port",
      String(inputPort),
      "--collector-port",
      String(collectorPort),
    ],
    logPath: `${dir}/min_relay.log`,
  });
  const until = Date.now() + 10_000;
  while (!(await tcpReady(inputPort, child.pid))) {
    if (child.exited() || Date.now() > until) {
      await child.stop(1_000);
      throw new RelayUnavailable(`minimal Deno relay did not listen: ${await child.logTail(400)}`);
    }
    await sleep(25);
  }
  return {
    inputPort,
    pid: child.pid,
    exited: child.exited,
    stop: async () => {
      await child.stop(2_000);
    },
  };
}

/** Extra sending after the window, so that the window never sees the sender's end. */
const TAIL_MS = 1_000;

/**
 * Runs one configuration in `dir` (created; left for the caller to remove):
 * sink, relay, paced sender; after the warm-up, the window; then waits for
 * every message at the sink. Throws {@link RelayUnavailable} when the relay
 * cannot start here.
 */
export async function runSteadyCase(
  c: SteadyCase,
  dir: string,
  deps: RelayDeps,
): Promise<SteadyRun> {
  await Deno.mkdir(dir, { recursive: true });
  const sink = startSink(await freePort());
  try {
    const relay = await startSteadyRelay(c.relay, sink.port, `${dir}/relay`, deps);
    try {
      return await measure(c, dir, sink, relay);
    } finally {
      await relay.stop();
    }
  } finally {
    sink.close();
  }
}

async function measure(c: SteadyCase, dir: string, sink: Sink, relay: Started): Promise<SteadyRun> {
  const pid = relay.pid;
  const count = wholeWrites(
    Math.round(c.rate * (c.warmupMs + c.measureMs + TAIL_MS) / 1000),
    c.batch,
  );
  const sender = startPacedSender({
    port: relay.inputPort,
    rate: c.rate,
    batch: c.batch,
    count,
    size: c.size,
    dir,
  });
  let result: PacedResult | undefined;
  sender.result.then((r) => {
    result = r;
  });
  const broken = () => relay.exited() || result?.error !== undefined || isInterrupted();
  const firstBy = Date.now() + 15_000;
  while (sink.count() === 0 && !broken() && Date.now() < firstBy) await sleep(5);
  if (sink.count() === 0) {
    const r = result ?? await Promise.race([sender.result, sleep(2_000).then(() => undefined)]);
    return failedSteadyRun(
      relay.exited()
        ? "relay exited before forwarding anything"
        : `nothing reached the sink${r?.error === undefined ? "" : `: sender: ${r.error}`}`,
    );
  }
  await sleep(c.warmupMs);
  const t0 = nowMs();
  const threads0 = await threadCpuNs(pid);
  const ticks0 = await cpuSeconds(pid);
  const n0 = sink.count();
  const rss: number[] = [];
  const windowEnd = t0 + c.measureMs;
  while (nowMs() + 500 < windowEnd && !broken()) {
    await sleep(500);
    const v = await rssBytes(pid);
    if (v !== undefined) rss.push(v);
  }
  const rest = windowEnd - nowMs();
  if (rest > 0 && !broken()) await sleep(rest);
  const ticks1 = await cpuSeconds(pid);
  const threads1 = await threadCpuNs(pid);
  const n1 = sink.count();
  const t1 = nowMs();
  const peak = await peakRssBytes(pid);

  const sent = await sender.result;
  // everything written must arrive: wait until the count holds still at `sent`
  const allBy = Date.now() + 15_000;
  let last = -1;
  let stableSince = Date.now();
  while (Date.now() < allBy && !relay.exited()) {
    const n = sink.count();
    if (n !== last) {
      last = n;
      stableSince = Date.now();
    } else if (n >= sent.sent && Date.now() - stableSince >= 300) break;
    await sleep(20);
  }
  const delivered = sink.count();

  const windowSeconds = (t1 - t0) / 1000;
  const windowMessages = n1 - n0;
  const tickCpu = ticks0 === undefined || ticks1 === undefined ? undefined : ticks1 - ticks0;
  const nsCpu = threads0 === undefined || threads1 === undefined
    ? undefined
    : threadCpuDelta(threads0, threads1);
  // a thread that exited in the window (or came and went) is in the ticks only:
  // the ns figure stands while it agrees with the ticks (each reading truncated to 10 ms)
  const useTicks = nsCpu === undefined ||
    (tickCpu !== undefined && Math.abs(tickCpu - nsCpu.seconds) > 0.02 + 0.05 * tickCpu);
  const cpu = useTicks ? tickCpu : nsCpu.seconds;

  let problem: string | undefined;
  if (sent.error !== undefined) problem = `sender: ${sent.error}`;
  else if (relay.exited()) problem = "relay exited during the run";
  else if (sink.error() !== undefined) problem = `sink: ${sink.error()}`;
  else if (delivered < sent.sent) {
    problem = `lost messages: ${sent.sent - delivered} of ${sent.sent} never reached the sink`;
  } else if (delivered > sent.sent) {
    problem = `duplicates: the sink counted ${delivered} for ${sent.sent} sent`;
  } else if (windowMessages === 0) problem = "no message in the window";
  const ok = problem === undefined && cpu !== undefined;
  const notes: string[] = [];
  if (problem === undefined && sent.achievedPerSec < 0.98 * c.rate) {
    notes.push(`sender reached only ${Math.round(sent.achievedPerSec)} msgs/s`);
  }
  const windowRate = windowMessages / windowSeconds;
  if (problem === undefined && Math.abs(windowRate - c.rate) > 0.05 * c.rate) {
    notes.push(`${Math.round(windowRate)} msgs/s forwarded in the window`);
  }
  if (useTicks && tickCpu !== undefined && ok) notes.push("CPU from clock ticks");
  return {
    sent: sent.sent,
    delivered,
    achievedPerSec: sent.achievedPerSec,
    maxLagMs: sent.maxLagMs,
    windowMessages,
    windowSeconds,
    cpuSeconds: cpu,
    cpuSource: cpu === undefined ? undefined : useTicks ? "ticks" : "schedstat",
    tickCpuSeconds: tickCpu,
    cpuSecPerMillion: ok ? cpu / windowMessages * 1e6 : undefined,
    cpuPercent: ok ? cpu / windowSeconds * 100 : undefined,
    peakRssBytes: peak,
    steadyRssBytes: median(rss),
    problem,
    note: notes.length > 0 ? notes.join("; ") : undefined,
  };
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
