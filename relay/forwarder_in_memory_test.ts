/**
 * Failover, failback, spooling, drain, stall and reset of the forwarder, in
 * process: the real forwarder, buffer and spool (in a temp dir), a fake clock
 * and the in-memory network. Fake time moves only when a test says so, so
 * each test takes milliseconds; what they check is what a user relies on:
 * every sequence number arrives, in order, counts match, status tells.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Counters, Forwarder, RelpFrameParser } from "./mod.ts";
import { TieredBuffer } from "../buffer/mod.ts";
import { Spool } from "../spool/mod.ts";
import { type Batch, Logger } from "../ground/mod.ts";
import { type CollectorConfig, parseConfig, type SpoolConfig } from "../config/mod.ts";
import { FakeClock } from "../ground/fake_clock.ts";
import { type MemoryListener, MemoryNetwork, type MemoryNetworkOptions } from "../testkit/mod.ts";
import { waitFor } from "../testkit/wait_for.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const A = "10.0.0.1:514";
const B = "10.0.0.2:514";

function message(seq: number): string {
  return `<13>Jan  1 00:00:00 host app: seq=${seq} ${"x".repeat(40)}`;
}

function seqOf(text: string): number {
  const m = /seq=(\d+) /.exec(text);
  assert(m, `not a test message: ${text.slice(0, 80)}`);
  return Number(m[1]);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/**
 * Checks what the collectors read, one stream per connection in the order
 * they were opened: each stream is consecutive, each starts no later than
 * where the ones before it ended (a resend may repeat, never skip), and all
 * of 0..total-1 arrived.
 */
function assertNoGaps(streams: number[][], total: number): void {
  let next = 0;
  for (const [i, s] of streams.entries()) {
    if (s.length === 0) continue;
    for (let j = 1; j < s.length; j++) {
      assertEquals(s[j], s[j - 1]! + 1, `connection ${i}: ${s[j]} after ${s[j - 1]}`);
    }
    assert(s[0]! <= next, `connection ${i} starts at ${s[0]}: ${next}..${s[0]! - 1} are lost`);
    next = Math.max(next, s.at(-1)! + 1);
  }
  assertEquals(next, total, `messages ${next}..${total - 1} never arrived`);
}

/** Collector configs as an operator writes them, parsed. */
function collectors(...entries: Record<string, unknown>[]): CollectorConfig[] {
  const json = JSON.stringify({
    collectors: entries.map((e) => ({ connectTimeoutMs: 1000, writeTimeoutMs: 300, ...e })),
  });
  return parseConfig(json, "inline").collectors;
}

/** The forwarder, a buffer over a spool in a temp dir, a fake clock and a memory network. */
class Rig {
  clock = new FakeClock(1_000_000);
  net: MemoryNetwork;
  counters = new Counters();
  lines: string[] = [];
  log = new Logger({
    level: "debug",
    format: "text",
    journal: false,
    write: (l) => this.lines.push(l),
  });
  dir: string;
  buffer!: TieredBuffer;
  fwd!: Forwarder;
  next = 0;
  #stopped = false;

  private constructor(dir: string, net: MemoryNetworkOptions) {
    this.dir = dir;
    this.net = new MemoryNetwork(net);
  }

  /** A rig, not started: listen on `rig.net` first, then {@linkcode Rig.start}. */
  static async create(
    cfgs: CollectorConfig[],
    opts: { failbackAfterMs?: number; net?: MemoryNetworkOptions; mode?: "fallback" | "always" } =
      {},
  ): Promise<Rig> {
    const rig = new Rig(await Deno.makeTempDir({ prefix: "forwarder_in_memory_" }), opts.net ?? {});
    const spool = await Spool.open(rig.spoolConfig(), 65536, rig.log);
    rig.buffer = new TieredBuffer(spool, opts.mode ?? "fallback", { clock: rig.clock });
    rig.fwd = new Forwarder(cfgs, rig.buffer, rig.counters, rig.log, {
      clock: rig.clock,
      dial: rig.net.dial,
      random: () => 0, // backoff without jitter: 125 ms, 250 ms, 500 ms, …
      failbackAfterMs: opts.failbackAfterMs ?? 30_000,
      stopWaitMs: 300,
    });
    return rig;
  }

  start(): void {
    this.fwd.start();
  }

  spoolConfig(): SpoolConfig {
    const json = JSON.stringify({ spool: { dir: this.dir, sync: "never", syncIntervalMs: 20 } });
    return parseConfig(json, "inline").spool;
  }

  /** Pushes `batches` batches of `size` numbered messages. */
  push(batches: number, size = 10): void {
    for (let b = 0; b < batches; b++) {
      let text = "";
      for (let i = 0; i < size; i++) {
        const m = message(this.next++);
        text += `${enc.encode(m).length} ${m}`;
      }
      this.buffer.push({ data: enc.encode(text), count: size } satisfies Batch);
    }
  }

  state(address: string): string {
    const s = this.fwd.status().find((c) => c.address === address);
    assert(s, `no collector ${address} in status`);
    return s.state;
  }

  lastError(address: string): string {
    return this.fwd.status().find((c) => c.address === address)?.lastError ?? "";
  }

  /** Waits (real time: nothing in memory needs long) for `check`. */
  until<T>(check: () => T | undefined | false, what: string): Promise<T> {
    return waitFor(check, { timeoutMs: 3000, intervalMs: 1, what });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.fwd.stop();
    await this.buffer.close();
  }

  async cleanup(): Promise<void> {
    await this.stop();
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** Sequence numbers per connection of a plain syslog collector. */
function streams(l: MemoryListener, framing: "octet-counted" | "lf" = "octet-counted"): number[][] {
  return l.peers.map((p) => (framing === "lf" ? p.lines() : p.frames()).map(seqOf));
}

Deno.test("forwarder in memory: (a) the first collector refuses, the second takes everything, in order, once", async () => {
  const rig = await Rig.create(collectors({ address: A }, { address: B }));
  const b = rig.net.listen(B);
  rig.start();
  try {
    await rig.until(() => rig.state(B) === "up", "B up");
    assertEquals(rig.state(A), "down");
    assert(/connection refused/.test(rig.lastError(A)), rig.lastError(A));
    rig.push(30);
    await rig.until(() => b.frames().length === 300, "300 messages at B");
    rig.push(20);
    await rig.until(() => b.frames().length === 500, "500 messages at B");
    assertEquals(streams(b), [range(0, 500)]);
    assertEquals(rig.counters.forwarded, 500);
    assertEquals(rig.buffer.stats().spool.messages, 0, "nothing went to the spool");
  } finally {
    await rig.cleanup();
  }
});

Deno.test("forwarder in memory: (b) traffic fails back to the first collector once it has been connectable for failbackAfterMs", async () => {
  const rig = await Rig.create(collectors({ address: A }, { address: B }), {
    failbackAfterMs: 5000,
  });
  const b = rig.net.listen(B);
  rig.start();
  try {
    await rig.until(() => rig.state(B) === "up", "B up");
    rig.push(10);
    await rig.until(() => b.frames().length === 100, "100 messages at B");
    const a = rig.net.listen(A);
    // B looks for an earlier collector every second; A's backoff (125 ms) is over by then.
    await rig.clock.advance(1000);
    await rig.until(() => a.peers.length === 1, "the probe's connection to A");
    await rig.clock.advance(4999);
    rig.push(10);
    await rig.until(() => b.frames().length === 200, "200 messages at B");
    assertEquals(rig.state(B), "up", "4999 ms connectable is not enough");
    assertEquals(a.frames(), []);
    await rig.clock.advance(1);
    await rig.until(() => rig.state(A) === "up", "A up");
    assertEquals(rig.state(B), "down");
    rig.push(10);
    await rig.until(() => a.frames().length === 100, "100 messages at A");
    // B's clean end confirmed all it read: nothing is sent twice.
    assertEquals(streams(b), [range(0, 200)]);
    assertEquals(streams(a), [range(200, 300)]);
    assert(b.peers[0]!.ended, "B's connection was closed");
    assertEquals(rig.counters.forwarded, 300);
  } finally {
    await rig.cleanup();
  }
});

Deno.test("forwarder in memory: (c) with every collector down batches go to the spool; after the backoff the spool drains in order", async () => {
  const rig = await Rig.create(collectors({ address: A }, { address: B }));
  rig.start();
  try {
    await rig.until(() => rig.state(A) === "down" && rig.state(B) === "down", "both down");
    rig.push(40);
    await rig.until(() => rig.buffer.stats().spool.messages === 400, "400 messages spooled");
    assertEquals(rig.buffer.stats().memory.messages, 0);
    assert(rig.buffer.stats().spool.bytes > 400 * 60, `${rig.buffer.stats().spool.bytes} bytes`);
    // Fake time stands still: no retry happened, however long this took in real time.
    assertEquals([rig.net.attempts(A), rig.net.attempts(B)], [1, 1]);
    const a = rig.net.listen(A);
    await rig.clock.advance(124);
    assertEquals(rig.net.attempts(A), 1, "the first retry comes after 125 ms");
    await rig.clock.advance(1);
    await rig.until(() => rig.state(A) === "up", "A up");
    await rig.until(() => a.frames().length === 400, "the spool drained to A");
    await rig.until(() => rig.buffer.stats().spool.messages === 0, "the spool read empty");
    // New messages queue behind the spool and follow it.
    rig.push(10);
    await rig.until(() => a.frames().length === 500, "500 messages at A");
    assertEquals(streams(a), [range(0, 500)]);
    assertEquals(rig.counters.forwarded, 500);
    assertEquals(rig.buffer.stats().spool.dropped, 0);
    assertEquals(rig.net.attempts(B), 1, "B was not needed again");
  } finally {
    await rig.cleanup();
  }
});

Deno.test("forwarder in memory: (d) a collector that stops reading is down after writeTimeoutMs; the next one gets every unconfirmed batch", async () => {
  const rig = await Rig.create(collectors({ address: A }, { address: B }), {
    net: { sendBufferBytes: 2048, receiveBufferBytes: 2048 },
  });
  const a = rig.net.listen(A);
  const b = rig.net.listen(B);
  rig.start();
  try {
    await rig.until(() => rig.state(A) === "up", "A up");
    rig.push(5);
    await rig.until(() => a.frames().length === 50, "50 messages at A");
    a.peers[0]!.stall();
    rig.push(25);
    await rig.until(() => a.peers[0]!.unread === 4096, "A's buffers full");
    await rig.clock.advance(299);
    assertEquals(rig.state(A), "up", "299 ms without progress is not a stall yet");
    await rig.clock.advance(1);
    await rig.until(() => rig.state(B) === "up", "B up");
    assertEquals(rig.state(A), "down");
    assertEquals(rig.lastError(A), "writes did not drain within 300 ms (collector stalled)");
    await rig.until(() => b.frames().length === 300, "300 messages at B");
    // Nothing was confirmed on A (the replay window is larger than all of it): B gets it all.
    assertNoGaps([...streams(a), ...streams(b)], 300);
    assertEquals(streams(b), [range(0, 300)]);
    assertEquals(streams(a), [range(0, 50)]);
    assertEquals(rig.counters.forwarded, 300, "a batch written twice is counted once");
  } finally {
    await rig.cleanup();
  }
});

for (const framing of ["octet-counted", "lf"] as const) {
  Deno.test(`forwarder in memory: (e) a reset mid-stream (tcp, ${framing}) loses what sat in the buffers; the resend covers it`, async () => {
    const rig = await Rig.create(collectors({ address: A, framing }), {
      net: { sendBufferBytes: 1024, receiveBufferBytes: 1024 },
    });
    const a = rig.net.listen(A);
    rig.start();
    try {
      await rig.until(() => rig.state(A) === "up", "A up");
      rig.push(3);
      await rig.until(() => streams(a, framing).flat().length === 30, "30 messages at A");
      a.peers[0]!.stall();
      rig.push(7);
      await rig.until(() => a.peers[0]!.unread === 2048, "A's buffers full");
      assertEquals(rig.net.resetAll(), 1);
      await rig.until(() => rig.state(A) === "down", "A down");
      assert(/connection reset/.test(rig.lastError(A)), rig.lastError(A));
      const lost = streams(a, framing).flat().length;
      assertEquals(lost, 30, "what A had not read is gone");
      await rig.clock.advance(125);
      await rig.until(() => rig.state(A) === "up", "A up again");
      await rig.until(() => streams(a, framing)[1]?.length === 100, "100 messages resent");
      assertNoGaps(streams(a, framing), 100);
      assertEquals(streams(a, framing), [range(0, 30), range(0, 100)]);
    } finally {
      await rig.cleanup();
    }
  });
}

Deno.test("forwarder in memory: (e) spool.mode always: after a reset the resend is read from the spool again; counts stay exact", async () => {
  const rig = await Rig.create(collectors({ address: A }), {
    net: { sendBufferBytes: 1024, receiveBufferBytes: 1024 },
    mode: "always",
  });
  const a = rig.net.listen(A);
  rig.start();
  try {
    await rig.until(() => rig.state(A) === "up", "A up");
    rig.push(3);
    await rig.until(() => streams(a, "octet-counted").flat().length === 30, "30 messages at A");
    a.peers[0]!.stall();
    rig.push(7);
    await rig.until(() => a.peers[0]!.unread === 2048, "A's buffers full");
    assertEquals(rig.net.resetAll(), 1);
    await rig.until(() => rig.state(A) === "down", "A down");
    // Nothing was kept in memory for the resend: it is in the spool, unread again.
    assertEquals(rig.buffer.stats().inHand, { messages: 0, bytes: 0 });
    assertEquals(rig.buffer.stats().spool.messages, 100, "the spool reads all 100 again");
    await rig.clock.advance(125);
    await rig.until(() => streams(a, "octet-counted")[1]?.length === 100, "100 messages resent");
    assertEquals(streams(a, "octet-counted"), [range(0, 30), range(0, 100)]);
    assertEquals(rig.counters.forwarded, 100, "a resend is not counted again");
    rig.push(1);
    await rig.until(() => streams(a, "octet-counted")[1]?.length === 110, "new ones after");
    assertEquals(rig.counters.forwarded, 110);
  } finally {
    await rig.cleanup();
  }
});

/**
 * A RELP collector on the memory network (librelp `doc/relp.md`): answers
 * `open`, answers each `syslog` `200 OK` while `answering` says so (and
 * records its message), answers `close`. Messages per connection go to
 * `received`.
 */
function relpCollector(
  net: MemoryNetwork,
  address: string,
  answering: () => boolean,
): { listener: MemoryListener; received: number[][] } {
  const received: number[][] = [];
  const listener = net.listen(address, {
    serve: async (conn) => {
      const got: number[] = [];
      received.push(got);
      const parser = new RelpFrameParser({ maxData: 128 * 1024 });
      const buf = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          let out = "";
          let closing = false;
          parser.push(buf.subarray(0, n), (f) => {
            if (f.command === "open") {
              const data = "200 OK\nrelp_version=0\nrelp_software=test\ncommands=syslog";
              out += `${f.txnr} rsp ${data.length} ${data}\n`;
            } else if (f.command === "syslog") {
              got.push(seqOf(dec.decode(f.data)));
              if (answering()) out += `${f.txnr} rsp 6 200 OK\n`;
            } else if (f.command === "close") {
              out += `${f.txnr} rsp 0\n`;
              closing = true;
            }
          });
          const bytes = enc.encode(out);
          let off = 0;
          while (off < bytes.length) off += await conn.write(bytes.subarray(off));
          if (closing) break;
        }
      } catch {
        // Reset.
      }
      if (!conn.closed) conn.close();
    },
  });
  return { listener, received };
}

Deno.test("forwarder in memory: (f) RELP: failover to the second collector, every message answered, in order, once", async () => {
  const rig = await Rig.create(
    collectors({ address: A, protocol: "relp" }, { address: B, protocol: "relp" }),
  );
  const b = relpCollector(rig.net, B, () => true);
  rig.start();
  try {
    await rig.until(() => rig.state(B) === "up", "B up");
    assert(/connection refused/.test(rig.lastError(A)), rig.lastError(A));
    rig.push(30);
    await rig.until(() => b.received[0]?.length === 300, "300 messages at B");
    await rig.stop();
    assertEquals(b.received, [range(0, 300)]);
    assertEquals(rig.counters.forwarded, 300);
    // Every batch was answered, so nothing is left for the spool to keep.
    const spool = await Spool.open(rig.spoolConfig(), 65536, rig.log);
    assertEquals(spool.stats().messages, 0);
    await spool.close([]);
  } finally {
    await rig.cleanup();
  }
});

Deno.test("forwarder in memory: (f) RELP: a reset after unanswered messages resends from the first batch not answered, and only that", async () => {
  const rig = await Rig.create(collectors({ address: A, protocol: "relp" }));
  let answered = 0;
  // Answers the first 25 messages, then goes silent (reads, never answers).
  const a = relpCollector(rig.net, A, () => answered++ < 25);
  rig.start();
  try {
    await rig.until(() => rig.state(A) === "up", "A up");
    rig.push(10);
    await rig.until(() => a.received[0]?.length === 100, "100 messages at A");
    assertEquals(rig.net.resetAll(), 1);
    await rig.until(() => rig.state(A) === "down", "A down");
    answered = -Infinity; // answers everything from now on
    await rig.clock.advance(125);
    await rig.until(() => a.received[1]?.length === 80, "80 messages resent");
    // Batches of 10: 0..19 were answered whole and are not sent again; 20..24 were
    // answered but their batch was not, so it goes again whole.
    assertEquals(a.received, [range(0, 100), range(20, 100)]);
    assertNoGaps(a.received, 100);
  } finally {
    await rig.cleanup();
  }
});

Deno.test("forwarder in memory: (f) RELP: a collector that stops answering is down after writeTimeoutMs of fake time", async () => {
  const rig = await Rig.create(
    collectors({ address: A, protocol: "relp" }, { address: B, protocol: "relp" }),
  );
  let answered = 0;
  const a = relpCollector(rig.net, A, () => answered++ < 15);
  const b = relpCollector(rig.net, B, () => true);
  rig.start();
  try {
    await rig.until(() => rig.state(A) === "up", "A up");
    rig.push(5);
    await rig.until(() => a.received[0]?.length === 50, "50 messages at A");
    await rig.clock.advance(299);
    assertEquals(rig.state(A), "up");
    await rig.clock.advance(1);
    await rig.until(() => rig.state(B) === "up", "B up");
    assert(/no RELP response within 300 ms/.test(rig.lastError(A)), rig.lastError(A));
    await rig.until(() => b.received[0]?.length === 40, "40 messages at B");
    assertEquals(b.received, [range(10, 50)]);
    assertNoGaps([...a.received, ...b.received], 50);
  } finally {
    await rig.cleanup();
  }
});
