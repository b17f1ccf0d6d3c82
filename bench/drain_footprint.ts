/**
 * Scenarios 3 and 5: draining a spool when the collector comes back (with a
 * paced live stream whose latency is measured at the collector), and the
 * agent's footprint (RSS, CPU%) idle, under paced load and while spooling.
 *
 * @module
 */

import { cpuSeconds, freePort, rssBytes, sleep } from "../testkit/mod.ts";
import { type Collector, startCollector } from "./collector.ts";
import { nowMs, startDenoSender } from "./load.ts";
import { type RelayDeps, type RelayKind, startRelay } from "./relays.ts";
import { settleSpool } from "./scenarios.ts";

/** One drain run. */
export interface DrainCase {
  /** The relay under test. */
  relay: RelayKind;
  /** Messages spooled while the collector is down. */
  messages: number;
  /** Message size in bytes (live messages have the same size). */
  size: number;
  /** Live messages per second sent during the drain. */
  liveRate: number;
  /** Spooling and draining are each abandoned after this many ms. */
  deadlineMs: number;
  /** Time allowed for the spool to settle before the collector comes back. */
  settleMs: number;
}

/** Figures of one drain run. */
export interface DrainRun {
  /** Messages the relay accepted while the collector was down. */
  spooled: number;
  /** Collector up → first line in its file (reconnect delay), ms. */
  firstLineMs: number | undefined;
  /** Collector up → the file holds every spooled message, ms. */
  drainMs: number | undefined;
  /** spooled / drainMs. */
  drainPerSec: number | undefined;
  /** spooled / (drainMs − firstLineMs): the rate once connected. */
  drainConnectedPerSec: number | undefined;
  /** Live messages sent (from collector up until the drain ended). */
  liveSent: number;
  /** Live messages sent during the drain proper (first line → all spooled in). */
  liveDuringDrain: number;
  /** Of those, how many reached the collector within 2 s after the drain. */
  liveDuringDrainSeen: number;
  /** Median latency (ms) of the live messages sent during the drain proper. */
  liveMedianMs: number | undefined;
  /** Worst latency (ms) of the live messages sent during the drain proper. */
  liveMaxMs: number | undefined;
  /** Worst latency (ms) of every live message, reconnect delay included. */
  liveMaxAllMs: number | undefined;
  /** Why the figures are missing or suspect. */
  problem: string | undefined;
}

/** The first bytes of a live message's PRI: `<13>` where the spooled ones have `<14>`. */
const LIVE_PRI_DIGIT = 0x33; // "3" at offset 2

function liveFrame(size: number, seq: number, sentAtMs: number): Uint8Array {
  const head = `<13>1 2024-01-01T00:00:00.000Z bench-host bench-live ${Deno.pid} - - LIVE seq=${
    String(seq).padStart(10, "0")
  } t=${sentAtMs.toFixed(3)} `;
  return new TextEncoder().encode(`${size} ${head}${"x".repeat(Math.max(0, size - head.length))}`);
}

/**
 * Runs one drain case in `dir`: the relay spools `messages` with nothing on
 * its collector port, then a collector starts on that port while a live
 * stream of `liveRate` msgs/s (sequence number and send time in each
 * message) goes into the relay; the collector file is polled every 5 ms.
 */
export async function runDrainCase(
  c: DrainCase,
  dir: string,
  deps: RelayDeps,
): Promise<DrainRun> {
  await Deno.mkdir(dir, { recursive: true });
  const collectorPort = await freePort();
  const relay = await startRelay(
    c.relay,
    { inputPort: await freePort(), collectorPort, dir: `${dir}/relay` },
    deps,
  );
  let collector: Collector | undefined;
  let live: Deno.TcpConn | undefined;
  let liveStop = false;
  let liveDone: Promise<void> = Promise.resolve();
  try {
    const res = await startDenoSender({
      port: relay.inputPort,
      count: c.messages,
      connections: 1,
      size: c.size,
      deadlineMs: c.deadlineMs,
      dir,
    }).result;
    let problem: string | undefined = res.error === undefined ? undefined : `sender: ${res.error}`;
    if (res.sent < c.messages) problem ??= `sender wrote ${res.sent} of ${c.messages}`;
    problem ??= (await settleSpool(relay, res.sent, c.settleMs)).problem;
    const spooled = res.sent;

    live = await Deno.connect({ hostname: "127.0.0.1", port: relay.inputPort });
    collector = await startCollector(`${dir}/collector`, collectorPort);
    const upAt = nowMs();
    const sentAt: number[] = [];
    const conn = live;
    liveDone = (async () => {
      const t0 = performance.now();
      for (let seq = 0; !liveStop; seq++) {
        const ahead = t0 + seq * 1000 / c.liveRate - performance.now();
        if (ahead >= 1) await sleep(ahead);
        if (liveStop) break;
        const at = nowMs();
        const frame = liveFrame(c.size, seq, at);
        sentAt.push(at);
        let off = 0;
        while (off < frame.length) off += await conn.write(frame.subarray(off));
      }
    })().catch(() => {});

    // poll the collector file; every line is size + 1 bytes
    const lineBytes = c.size + 1;
    const seenAt = new Map<number, number>();
    let lines = 0;
    let liveLines = 0;
    let firstAt: number | undefined;
    let doneAt: number | undefined;
    let misaligned = false;
    let file: Deno.FsFile | undefined;
    const buf = new Uint8Array(4 << 20);
    let carry = 0;
    const poll = async (): Promise<void> => {
      if (file === undefined) {
        try {
          file = await Deno.open(collector!.file);
        } catch {
          return;
        }
      }
      for (;;) {
        const n = await file.read(buf.subarray(carry));
        if (n === null || n === 0) return;
        const now = nowMs();
        firstAt ??= now;
        const have = carry + n;
        let off = 0;
        for (; off + lineBytes <= have; off += lineBytes) {
          if (buf[off + lineBytes - 1] !== 10) misaligned = true;
          if (buf[off + 2] === LIVE_PRI_DIGIT) {
            liveLines++;
            const text = new TextDecoder().decode(buf.subarray(off, off + 120));
            const m = / LIVE seq=(\d{10}) /.exec(text);
            if (m?.[1] !== undefined) seenAt.set(Number(m[1]), now);
          }
          lines++;
        }
        buf.copyWithin(0, off, have);
        carry = have - off;
        if (doneAt === undefined && lines - liveLines >= spooled) doneAt = now;
      }
    };
    try {
      const until = nowMs() + c.deadlineMs;
      while (doneAt === undefined && nowMs() < until && !relay.exited()) {
        await poll();
        if (doneAt === undefined) await sleep(5);
      }
      liveStop = true;
      await liveDone;
      const grace = nowMs() + 2_000;
      while (nowMs() < grace && seenAt.size < sentAt.length) {
        await poll();
        await sleep(5);
      }
    } finally {
      file?.close();
    }
    if (misaligned) problem ??= `collector lines not all ${lineBytes} bytes`;
    if (relay.exited()) problem ??= "relay exited during the drain";
    if (doneAt === undefined) {
      problem ??= `deadline ${c.deadlineMs / 1000} s: ${
        lines - liveLines
      } of ${spooled} spooled messages at the collector`;
    }
    const drainMs = doneAt === undefined ? undefined : doneAt - upAt;
    const firstLineMs = firstAt === undefined ? undefined : firstAt - upAt;
    const lat = (from: number, to: number) =>
      sentAt.flatMap((t, seq) => {
        const seen = seenAt.get(seq);
        return t >= from && t <= to && seen !== undefined ? [seen - t] : [];
      }).sort((a, b) => a - b);
    const end = doneAt ?? nowMs();
    const during = firstAt === undefined ? [] : lat(firstAt, end);
    const duringSent = firstAt === undefined
      ? 0
      : sentAt.filter((t) => t >= firstAt! && t <= end).length;
    const all = lat(upAt, end);
    return {
      spooled,
      firstLineMs,
      drainMs,
      drainPerSec: drainMs === undefined ? undefined : spooled / (drainMs / 1000),
      drainConnectedPerSec: drainMs === undefined || firstLineMs === undefined
        ? undefined
        : spooled / (Math.max(1, drainMs - firstLineMs) / 1000),
      liveSent: sentAt.length,
      liveDuringDrain: duringSent,
      liveDuringDrainSeen: during.length,
      liveMedianMs: during.length === 0 ? undefined : during[Math.floor(during.length / 2)],
      liveMaxMs: during.at(-1),
      liveMaxAllMs: all.at(-1),
      problem,
    };
  } finally {
    liveStop = true;
    await liveDone;
    try {
      live?.close();
    } catch {
      // already closed
    }
    await relay.stop();
    await collector?.stop();
  }
}

/** One footprint phase: the agent measured over a window. */
export interface FootprintPhase {
  /** Window length, ms. */
  ms: number;
  /** VmRSS at the end of the window, bytes. */
  rssBytes: number | undefined;
  /** Highest VmRSS sampled (every 200 ms) during the window, bytes. */
  maxRssBytes: number | undefined;
  /** CPU% over the window (100 = one core). */
  cpuPercent: number | undefined;
  /** Messages sent in the window (0 when idle). */
  sent: number;
}

/** Figures of one footprint run. */
export interface FootprintRun {
  /** Idle, collector up, no traffic. */
  idle: FootprintPhase | undefined;
  /** Paced load, collector up. */
  load: FootprintPhase | undefined;
  /** Paced load, collector down (spooling). */
  spooling: FootprintPhase | undefined;
  /** Why the figures are missing or suspect. */
  problem: string | undefined;
}

/** What a footprint run measures. */
export interface FootprintCase {
  /** The relay (an agent kind). */
  relay: RelayKind;
  /** Length of the idle window, ms. */
  idleMs: number;
  /** Length of each loaded window, ms. */
  loadMs: number;
  /** Paced rate of the loaded windows, msgs/s. */
  rate: number;
  /** Message size in bytes. */
  size: number;
}

/**
 * Runs the footprint case in `dir`: one agent process, measured idle (after
 * 1 s of settling), then under a paced sender with the collector up, then
 * with the collector stopped (spooling) under the same paced sender.
 */
export async function runFootprintCase(
  c: FootprintCase,
  dir: string,
  deps: RelayDeps,
): Promise<FootprintRun> {
  await Deno.mkdir(dir, { recursive: true });
  const collector = await startCollector(`${dir}/collector`);
  let collectorUp = true;
  try {
    const relay = await startRelay(
      c.relay,
      { inputPort: await freePort(), collectorPort: collector.port, dir: `${dir}/relay` },
      deps,
    );
    try {
      const pid = relay.pid;
      if (pid === undefined) throw new Error(`${c.relay} has no process to measure`);
      const phase = async (load: boolean, n: number): Promise<FootprintPhase> => {
        const cpu0 = await cpuSeconds(pid);
        const t0 = performance.now();
        let maxRss = await rssBytes(pid);
        const sample = async () => {
          const r = await rssBytes(pid);
          if (r !== undefined) maxRss = Math.max(maxRss ?? 0, r);
        };
        let sent = 0;
        if (load) {
          await Deno.mkdir(`${dir}/load-${n}`, { recursive: true });
          const sender = startDenoSender({
            port: relay.inputPort,
            count: Math.max(1, Math.round(c.rate * c.loadMs / 1000)),
            connections: 1,
            size: c.size,
            deadlineMs: c.loadMs + 10_000,
            dir: `${dir}/load-${n}`,
            rate: c.rate,
          });
          let done = false;
          const result = sender.result.then((r) => {
            done = true;
            return r;
          });
          while (!done) {
            await sleep(200);
            await sample();
          }
          const r = await result;
          sent = r.sent;
          if (r.error !== undefined) throw new Error(`sender: ${r.error}`);
        } else {
          const until = t0 + c.idleMs;
          while (performance.now() < until) {
            await sleep(Math.min(200, Math.max(1, until - performance.now())));
            await sample();
          }
        }
        const cpu1 = await cpuSeconds(pid);
        const ms = performance.now() - t0;
        return {
          ms,
          rssBytes: await rssBytes(pid),
          maxRssBytes: maxRss,
          cpuPercent: cpu0 === undefined || cpu1 === undefined
            ? undefined
            : (cpu1 - cpu0) / (ms / 1000) * 100,
          sent,
        };
      };
      await sleep(1_000);
      const idle = await phase(false, 0);
      const load = await phase(true, 1);
      collectorUp = false;
      await collector.stop();
      const spooling = await phase(true, 2);
      return {
        idle,
        load,
        spooling,
        problem: relay.exited() ? "agent exited during the run" : undefined,
      };
    } finally {
      await relay.stop();
    }
  } finally {
    if (collectorUp) await collector.stop();
  }
}
