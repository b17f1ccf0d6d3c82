/**
 * Failover, failback, spooling, drain, stall and reset of the forwarder, in
 * process: the real forwarder, buffer and spool (in a temp dir), a fake clock
 * and the in-memory network. Fake time moves only when a test says so, so
 * each test takes milliseconds; what they check is what a user relies on:
 * every sequence number arrives, in order, counts match, status tells.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Counters, Forwarder, RelpFrameParser, type Resolver, type SrvTarget } from "./mod.ts";
import { TieredBuffer } from "../buffer/mod.ts";
import { Spool } from "../spool/mod.ts";
import { FakeClock, Logger } from "../ground/mod.ts";
import { type CollectorConfig, parseConfig, type SpoolConfig } from "../config/mod.ts";
import {
  type MemoryListener,
  MemoryNetwork,
  type MemoryNetworkOptions,
  octetBatch,
  sleep,
  waitFor,
} from "../testkit/mod.ts";

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
    opts: {
      failbackAfterMs?: number;
      net?: MemoryNetworkOptions;
      mode?: "fallback" | "always";
      resolver?: Resolver;
      random?: () => number;
      maxDrainRate?: number;
    } = {},
  ): Promise<Rig> {
    const rig = new Rig(await Deno.makeTempDir({ prefix: "forwarder_in_memory_" }), opts.net ?? {});
    const spool = await Spool.open(rig.spoolConfig(), 65536, rig.log);
    rig.buffer = new TieredBuffer(spool, opts.mode ?? "fallback", { clock: rig.clock });
    rig.fwd = new Forwarder(cfgs, rig.buffer, rig.counters, rig.log, {
      clock: rig.clock,
      dial: rig.net.dial,
      random: opts.random ?? (() => 0), // without jitter: backoff 125 ms, 250 ms, …
      failbackAfterMs: opts.failbackAfterMs ?? 30_000,
      stopWaitMs: 300,
      ...(opts.resolver === undefined ? {} : { resolver: opts.resolver }),
      ...(opts.maxDrainRate === undefined ? {} : { maxDrainRate: opts.maxDrainRate }),
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
      this.buffer.push(octetBatch(Array.from({ length: size }, () => message(this.next++))));
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

// ---------------------------------------------------------------------------
// Pools: members that share the traffic.

const C = "10.0.0.3:514";

/** A resolver from tables the test changes as it goes. */
function tables(
  names: Record<string, string[]>,
  srv: Record<string, SrvTarget[]> = {},
): Resolver {
  return {
    addresses: (host) => Promise.resolve(names[host] ?? [host]),
    srv: (name) => Promise.resolve(srv[name] ?? []),
  };
}

/** Each stream strictly increasing (order kept per member); the union is every number once. */
function assertSharedOnce(streams: number[][], total: number): void {
  for (const [i, s] of streams.entries()) {
    for (let j = 1; j < s.length; j++) {
      assert(s[j]! > s[j - 1]!, `connection ${i}: ${s[j]} after ${s[j - 1]}`);
    }
  }
  assertEquals(streams.flat().sort((a, b) => a - b), range(0, total));
}

function member(rig: Rig, address: string) {
  const pool = rig.fwd.status()[0]!;
  const m = pool.members?.find((x) => x.address === address);
  assert(m, `no member ${address} in ${JSON.stringify(pool.members)}`);
  return m;
}

Deno.test("forwarder in memory: (g) a pool of three shares the traffic batch by batch, in order per member, each message once", async () => {
  const rig = await Rig.create(collectors({ addresses: [A, B, C] }));
  const ls = [A, B, C].map((x) => rig.net.listen(x));
  rig.start();
  try {
    await rig.until(() => rig.state(`${A},${B},${C}`) === "up", "the pool up");
    await rig.until(() => [A, B, C].every((x) => member(rig, x).state === "up"), "all up");
    rig.push(300);
    await rig.until(() => ls.reduce((n, l) => n + l.frames().length, 0) === 3000, "3000 arrived");
    // Equal weights, all up since the same moment: round-robin, 100 batches each.
    assertEquals(ls.map((l) => l.frames().length), [1000, 1000, 1000]);
    assertSharedOnce(ls.flatMap((l) => streams(l)), 3000);
    assertEquals([A, B, C].map((x) => member(rig, x).forwarded), [1000, 1000, 1000]);
    assertEquals(member(rig, B).share, 1 / 3);
    assertEquals(rig.counters.forwarded, 3000);
  } finally {
    await rig.cleanup();
  }
});

Deno.test("forwarder in memory: (g) a member that crashes: what it had not confirmed goes to the others first, the pool stays up; it is back after its backoff, ramped up", async () => {
  const rig = await Rig.create(collectors({ addresses: [A, B, C] }));
  const a = rig.net.listen(A);
  let b = rig.net.listen(B);
  const c = rig.net.listen(C);
  rig.start();
  try {
    await rig.until(() => [A, B, C].every((x) => member(rig, x).state === "up"), "all up");
    await rig.clock.advance(10_000); // past the ramp of members that have just come up
    rig.push(30);
    await rig.until(() => a.frames().length + b.frames().length + c.frames().length === 300, "300");
    b.crash();
    await rig.until(() => member(rig, B).state === "down", "B down");
    assert(/reset|closed/.test(member(rig, B).lastError), member(rig, B).lastError);
    assertEquals(rig.state(`${A},${B},${C}`), "up", "the pool stays up");
    rig.push(30);
    // Nothing B read was confirmed (TCP: the replay window): its batches go to A and C.
    await rig.until(
      () => new Set([...a.frames(), ...c.frames()].map(seqOf)).size === 600,
      "B's batches resent on A and C, with the new ones",
    );
    for (const l of [a, c]) {
      for (const s of streams(l)) assert(s.length > 0);
    }
    // B comes back: after its backoff (125 ms, no jitter) it is reconnected and ramped up.
    b = rig.net.listen(B);
    await rig.clock.advance(125);
    await rig.until(() => member(rig, B).state === "up", "B up again");
    rig.push(30);
    await rig.until(() => b.frames().length > 0, "B gets traffic again");
    const fresh = b.frames().length / 10;
    // Ramped from a tenth of its weight: well under a third of the 30 new batches.
    assert(fresh >= 1 && fresh < 10, `B took ${fresh} of 30 batches just after coming back`);
  } finally {
    await rig.cleanup();
  }
});

Deno.test("forwarder in memory: (g) a name in addresses stands for each of its addresses, resolved again at resolveIntervalMs: a member added and one removed without a reload", async () => {
  const names: Record<string, string[]> = { "logs.test": ["10.0.0.1", "10.0.0.2"] };
  const rig = await Rig.create(
    collectors({ addresses: ["logs.test:514"], resolveIntervalMs: 5000 }),
    { resolver: tables(names) },
  );
  const ls = [A, B, C].map((x) => rig.net.listen(x));
  rig.start();
  try {
    await rig.until(() => rig.fwd.status()[0]!.members?.length === 2, "two members");
    await rig.until(() => [A, B].every((x) => member(rig, x).state === "up"), "A and B up");
    assertEquals(member(rig, A).name, "logs.test");
    rig.push(20);
    await rig.until(() => ls[0]!.frames().length + ls[1]!.frames().length === 200, "200 on A, B");
    names["logs.test"] = ["10.0.0.2", "10.0.0.3"];
    await rig.clock.advance(5000);
    await rig.until(() => member(rig, C).state === "up", "C added and up");
    await rig.until(
      () => rig.fwd.status()[0]!.members?.every((m) => m.address !== A),
      "A removed",
    );
    rig.push(20);
    await rig.until(() => ls[2]!.frames().length > 0, "C gets traffic");
    await rig.until(
      () => new Set(ls.flatMap((l) => l.frames().map(seqOf))).size === 400,
      "every message somewhere",
    );
    assert(ls[0]!.peers[0]!.ended, "A's connection was ended");
  } finally {
    await rig.cleanup();
  }
});

Deno.test("forwarder in memory: (g) SRV: the lowest priority takes the traffic, shared by weight; the next priority only when it is all down", async () => {
  const srv = {
    "_syslog._tcp.logs.test": [
      { target: "a.logs.test", port: 514, priority: 10, weight: 3 },
      { target: "b.logs.test", port: 514, priority: 10, weight: 1 },
      { target: "c.logs.test", port: 514, priority: 20, weight: 1 },
    ],
  };
  const names = {
    "a.logs.test": ["10.0.0.1"],
    "b.logs.test": ["10.0.0.2"],
    "c.logs.test": [
      "10.0.0.3",
    ],
  };
  const rig = await Rig.create(collectors({ srv: "_syslog._tcp.logs.test" }), {
    resolver: tables(names, srv),
  });
  const a = rig.net.listen(A);
  const b = rig.net.listen(B);
  const c = rig.net.listen(C);
  rig.start();
  try {
    await rig.until(() => [A, B, C].every((x) => member(rig, x).state === "up"), "all up");
    // Past the ramp, so that weights alone decide.
    await rig.clock.advance(10_000);
    rig.push(400);
    await rig.until(() => a.frames().length + b.frames().length === 4000, "4000 on A and B");
    assertEquals([a.frames().length, b.frames().length, c.frames().length], [3000, 1000, 0]);
    a.crash();
    b.crash();
    await rig.until(() => member(rig, A).state === "down" && member(rig, B).state === "down", "");
    rig.push(10);
    // Priority 20 takes over, with what A and B had not confirmed (all of it: TCP) first.
    await rig.until(() => new Set(c.frames().map(seqOf)).size === 4100, "all 4100 on C");
    assertSharedOnce(streams(c), 4100);
  } finally {
    await rig.cleanup();
  }
});

Deno.test("forwarder in memory: (g) every member down: the pool is down, the next entry takes over, and back on the pool after failback", async () => {
  const rig = await Rig.create(collectors({ addresses: [A, B] }, { address: C }), {
    failbackAfterMs: 2000,
  });
  const a = rig.net.listen(A);
  const b = rig.net.listen(B);
  const c = rig.net.listen(C);
  rig.start();
  try {
    await rig.until(() => rig.state(`${A},${B}`) === "up", "the pool up");
    rig.push(10);
    await rig.until(() => a.frames().length + b.frames().length === 100, "100 on the pool");
    a.crash();
    b.crash();
    await rig.until(() => rig.state(C) === "up", "failover to C");
    assertEquals(rig.state(`${A},${B}`), "down");
    assert(/every member of the pool is down/.test(rig.lastError(`${A},${B}`)));
    rig.push(10);
    await rig.until(() => new Set(c.frames().map(seqOf)).size >= 100, "C has the new ones");
    const again = [rig.net.listen(A), rig.net.listen(B)];
    await rig.clock.advance(1000);
    await rig.clock.advance(2000);
    await rig.until(() => rig.state(`${A},${B}`) === "up", "failback to the pool");
    rig.push(10);
    await rig.until(() => again[0]!.frames().length + again[1]!.frames().length >= 100, "pool");
    const seen = new Set(
      [a, b, c, ...again].flatMap((l) => l.frames().map(seqOf)),
    );
    assertEquals(seen.size, 300);
  } finally {
    await rig.cleanup();
  }
});

// ---------------------------------------------------------------------------
// Gentle recovery: jittered failback, a paced drain.

Deno.test("forwarder in memory: (h) failback is jittered over failbackAfterMs to twice that", async () => {
  const rig = await Rig.create(collectors({ address: A }, { address: B }), {
    failbackAfterMs: 4000,
    random: () => 0.5,
  });
  const b = rig.net.listen(B);
  rig.start();
  try {
    await rig.until(() => rig.state(B) === "up", "B up");
    rig.net.listen(A);
    // The probe opens A at B's first look (A's backoff, jittered: 187.5 ms, is over by 1 s).
    await rig.clock.advance(1000);
    await rig.until(() => rig.net.attempts(A) === 2, "the probe's connection to A");
    // 4000 ms × (1 + 0.5): not at 4000, nor at 5999.
    await rig.clock.advance(5999);
    assertEquals(rig.state(B), "up");
    await rig.clock.advance(1);
    await rig.until(() => rig.state(A) === "up", "A up after 6000 ms");
    assertEquals(b.frames().length, 0);
  } finally {
    await rig.cleanup();
  }
});

Deno.test("forwarder in memory: (h) after an outage the spool drains no faster than maxDrainRate", async () => {
  const rig = await Rig.create(collectors({ address: A }), { maxDrainRate: 5_000 });
  rig.start();
  try {
    await rig.until(() => rig.state(A) === "down", "A down");
    rig.push(2_000); // 20,000 messages spooled
    await rig.until(() => rig.buffer.stats().spool.messages === 20_000, "20,000 spooled");
    const a = rig.net.listen(A);
    await rig.clock.advance(125);
    await rig.until(() => rig.state(A) === "up", "A up");
    // The bucket starts with a second's worth, then 5,000 a fake second; a spool read is a
    // batch of up to 256 KiB (about 3,700 of these messages), let out once the bucket has it.
    const quiet = () => sleep(20);
    await rig.until(() => a.frames().length > 0, "the first batch");
    await quiet();
    assert(a.frames().length <= 5_000, `${a.frames().length} before any time passed`);
    for (let s = 1; s <= 3; s++) {
      await rig.clock.advance(1000);
      await quiet();
      const n = a.frames().length;
      assert(n <= 5_000 * (s + 1) && n >= 5_000 * s - 4_000, `${n} after ${s} fake s`);
    }
    for (let s = 4; s < 8 && a.frames().length < 20_000; s++) {
      await rig.clock.advance(1000);
      await quiet();
    }
    assertEquals(a.frames().length, 20_000, "all 20,000 within 4 to 5 fake seconds");
    assertEquals(streams(a), [range(0, 20_000)]);
  } finally {
    await rig.cleanup();
  }
});
