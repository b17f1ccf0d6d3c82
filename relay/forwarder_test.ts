import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Forwarder } from "./forwarder.ts";
import { TieredBuffer } from "../buffer/mod.ts";
import { Counters } from "./counters.ts";
import { type Batch, closeQuietly, FakeClock, Logger } from "../ground/mod.ts";
import { Spool } from "../spool/mod.ts";
import {
  type CollectorConfig,
  type Framing,
  parseAddress,
  type SpoolConfig,
  type TcpCollectorConfig,
} from "../config/mod.ts";
import { freePort, octetBatch, octetFrames, waitFor } from "../testkit/mod.ts";

const dec = new TextDecoder();
const MiB = 1024 * 1024;

/** A tcp collector at `address` (or, with `protocol: "relp"`, a relp one), short timeouts. */
function collectorConfig(
  address: string,
  over: Partial<Omit<TcpCollectorConfig, "address" | "protocol">> & { protocol?: "tcp" | "relp" } =
    {},
): CollectorConfig {
  const { protocol = "tcp", framing = "octet-counted", ...rest } = over;
  const settings = {
    address: { ...parseAddress(address), text: address },
    members: { kind: "address" as const },
    replayWindow: 4 * MiB,
    connectTimeoutMs: 300,
    writeTimeoutMs: 300,
    ...rest,
  };
  return protocol === "relp" ? { protocol, ...settings } : { protocol, framing, ...settings };
}

function message(seq: number, pad = 60): string {
  return `<13>Jan  1 00:00:00 host app: seq=${seq} ${"f".repeat(pad)}`;
}

function batchOf(from: number, n: number, pad = 60): Batch {
  return octetBatch(Array.from({ length: n }, (_, i) => message(from + i, pad)));
}

function seqOf(msg: string): number {
  const m = /seq=(\d+) /.exec(msg);
  assert(m, `not a test message: ${msg.slice(0, 80)}`);
  return Number(m[1]);
}

/** Sequence numbers of the complete frames in `data` (a cut-off last frame is ignored). */
function parseStream(data: Uint8Array, framing: Framing): number[] {
  if (framing !== "lf") return octetFrames(data).map(seqOf);
  const out: number[] = [];
  for (let p = 0, i = data.indexOf(0x0a); i >= 0; p = i + 1, i = data.indexOf(0x0a, p)) {
    out.push(seqOf(dec.decode(data.subarray(p, i))));
  }
  return out;
}

type Behaviour = "read" | "stall" | { closeAfterBytes: number };

interface Accepted {
  conn: Deno.Conn;
  chunks: Uint8Array[];
  bytes: number;
  /** The agent closed its side (EOF or error seen). */
  ended: boolean;
}

/** A fake collector on 127.0.0.1: what each accepted connection received, per connection. */
class Collector {
  listener: Deno.TcpListener;
  accepted: Accepted[] = [];
  #behaviour: (index: number) => Behaviour;
  #framing: Framing;
  #tasks: Promise<void>[] = [];

  constructor(
    port = 0,
    behaviour: (index: number) => Behaviour = () => "read",
    framing: Framing = "octet-counted",
  ) {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port, transport: "tcp" });
    this.#behaviour = behaviour;
    this.#framing = framing;
    this.#tasks.push(this.#accept());
  }

  get address(): string {
    return `127.0.0.1:${this.listener.addr.port}`;
  }

  /** Sequence numbers received on connection `i`. */
  seqs(i: number): number[] {
    const a = this.accepted[i];
    if (a === undefined) return [];
    const all = new Uint8Array(a.bytes);
    let off = 0;
    for (const c of a.chunks) {
      all.set(c, off);
      off += c.length;
    }
    return parseStream(all, this.#framing);
  }

  /** Sequence numbers received on every connection, in order of connection. */
  allSeqs(): number[] {
    return this.accepted.flatMap((_, i) => this.seqs(i));
  }

  /** Starts reading a stalled connection (to see what reached it). */
  drain(i: number): void {
    this.#tasks.push(this.#read(this.accepted[i]!, Infinity));
  }

  async close(): Promise<void> {
    closeQuietly(this.listener);
    for (const a of this.accepted) closeQuietly(a.conn);
    await Promise.all(this.#tasks);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.listener) {
        const a: Accepted = { conn, chunks: [], bytes: 0, ended: false };
        const b = this.#behaviour(this.accepted.length);
        this.accepted.push(a);
        if (b === "stall") continue;
        this.#tasks.push(this.#read(a, b === "read" ? Infinity : b.closeAfterBytes));
      }
    } catch {
      // Listener closed.
    }
  }

  async #read(a: Accepted, limit: number): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (a.bytes < limit) {
        const n = await a.conn.read(buf.subarray(0, Math.min(buf.length, limit - a.bytes)));
        if (n === null) break;
        a.chunks.push(buf.slice(0, n));
        a.bytes += n;
      }
    } catch {
      // Reset or closed by us.
    }
    a.ended = true;
    closeQuietly(a.conn);
  }
}

/** A forwarder with a real spool and queue in a temp dir, and a way to push numbered messages. */
class Rig {
  dir = "";
  spool!: Spool;
  queue!: TieredBuffer;
  counters = new Counters();
  lines: string[] = [];
  log = new Logger({
    level: "debug",
    format: "text",
    journal: false,
    write: (l) => this.lines.push(l),
  });
  fwd!: Forwarder;
  next = 0;
  #stopped = false;

  static async start(
    collectors: CollectorConfig[],
    opts: { failbackAfterMs?: number; memoryBytes?: number } = {},
  ): Promise<Rig> {
    const rig = new Rig();
    rig.dir = await Deno.makeTempDir({ prefix: "forwarder_test_" });
    rig.spool = await Spool.open(rig.spoolConfig(), 65536, rig.log);
    rig.queue = new TieredBuffer(
      rig.spool,
      "fallback",
      opts.memoryBytes === undefined ? {} : { memoryBytes: opts.memoryBytes },
    );
    rig.fwd = new Forwarder(collectors, rig.queue, rig.counters, rig.log, {
      random: () => 0,
      failbackAfterMs: opts.failbackAfterMs ?? 30_000,
      stopWaitMs: 300,
    });
    rig.fwd.start();
    return rig;
  }

  spoolConfig(): SpoolConfig {
    return {
      dir: this.dir,
      mode: "fallback",
      maxBytes: 256 * MiB,
      whenFull: "drop-oldest",
      sync: "never",
      syncIntervalMs: 20,
      maxDrainRate: 0,
      maxAge: 0,
    };
  }

  push(n: number, pad = 60): void {
    this.queue.push(batchOf(this.next, n, pad));
    this.next += n;
  }

  /**
   * Stops the forwarder and closes the queue; returns how many messages the
   * forwarder had in hand (given back to the buffer, whose memory holds them).
   */
  async stop(): Promise<number> {
    if (this.#stopped) return 0;
    this.#stopped = true;
    await this.fwd.stop();
    const inHand = this.queue.stats().inHand.messages;
    await this.queue.close();
    return inHand;
  }

  /** Everything the spool holds after `stop` (in-hand batches first). */
  async spooled(): Promise<number[]> {
    const spool = await Spool.open(this.spoolConfig(), 65536, this.log);
    const out: number[] = [];
    for (;;) {
      const b = await spool.read();
      if (b === undefined) break;
      out.push(...parseStream(b.data, "octet-counted"));
    }
    await spool.close([]);
    return out;
  }

  async cleanup(): Promise<void> {
    await this.stop();
    await Deno.remove(this.dir, { recursive: true });
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Every number in [0, total) occurs in `seqs`. */
function assertNoGap(seqs: number[], total: number, what: string): void {
  const seen = new Set(seqs);
  const missing = range(0, total).filter((s) => !seen.has(s));
  assertEquals(missing.slice(0, 10), [], `${what}: ${missing.length} missing`);
}

for (const framing of ["octet-counted", "lf"] as const) {
  Deno.test(`forwarder: delivers in order to the first collector (${framing})`, async () => {
    const a = new Collector(0, () => "read", framing);
    const b = new Collector(0, () => "read", framing);
    const rig = await Rig.start([
      collectorConfig(a.address, { framing }),
      collectorConfig(b.address, { framing }),
    ]);
    try {
      for (let i = 0; i < 50; i++) rig.push(20);
      await waitFor(() => a.allSeqs().length >= 1000, { timeoutMs: 5000, what: "1000 messages" });
      rig.push(5);
      await waitFor(() => a.allSeqs().length >= 1005, { timeoutMs: 5000, what: "5 more" });
      assertEquals(a.allSeqs(), range(0, 1005));
      assertEquals(a.accepted.length, 1);
      assertEquals(b.accepted.length, 0);
      assertEquals(rig.counters.forwarded, 1005);
      assert(rig.fwd.up);
      const [sa, sb] = rig.fwd.status();
      assertEquals(sa!.state, "up");
      assertEquals(sa!.address, a.address);
      assertEquals(sb!.state, "down");
    } finally {
      await rig.cleanup();
      await a.close();
      await b.close();
    }
  });
}

Deno.test("forwarder: fails over to the second collector when the first refuses", async () => {
  const refused = `127.0.0.1:${await freePort()}`;
  const b = new Collector();
  const rig = await Rig.start([collectorConfig(refused), collectorConfig(b.address)]);
  try {
    for (let i = 0; i < 10; i++) rig.push(10);
    await waitFor(() => b.allSeqs().length >= 100, { timeoutMs: 5000, what: "delivery to b" });
    assertEquals(b.allSeqs(), range(0, 100));
    const [sa, sb] = rig.fwd.status();
    assert(sa!.state !== "up");
    assert(sa!.lastError.length > 0, "the refusal is reported");
    assertEquals(sb!.state, "up");
    assert(rig.lines.some((l) => l.includes(refused) && l.includes("down")), "logged");
  } finally {
    await rig.cleanup();
    await b.close();
  }
});

Deno.test("forwarder: fails back to the first collector once it has been up for failbackAfterMs", async () => {
  const port = await freePort();
  const b = new Collector();
  const rig = await Rig.start(
    [collectorConfig(`127.0.0.1:${port}`), collectorConfig(b.address)],
    { failbackAfterMs: 150 },
  );
  let a: Collector | undefined;
  try {
    // Steady traffic: one batch per check.
    await waitFor(() => {
      rig.push(5);
      return b.allSeqs().length > 0;
    }, { timeoutMs: 5000, what: "traffic on b" });
    a = new Collector(port);
    const first = a;
    await waitFor(() => {
      rig.push(5);
      return first.allSeqs().length > 0;
    }, { timeoutMs: 5000, what: "traffic back on a" });
    const total = rig.next;
    await waitFor(() => first.allSeqs().at(-1) === total - 1, {
      timeoutMs: 5000,
      what: "the rest on a",
    });
    // b's connection was ended cleanly, and a took over where b stopped: no gap, no duplicate.
    await waitFor(() => b.accepted.every((x) => x.ended), { timeoutMs: 2000, what: "b closed" });
    const onB = b.allSeqs();
    const onA = first.allSeqs();
    assertEquals([...onB, ...onA], range(0, total));
    assertEquals(rig.fwd.status()[0]!.state, "up");
    assertEquals(rig.fwd.status()[1]!.state, "down");
  } finally {
    await rig.cleanup();
    await a?.close();
    await b.close();
  }
});

Deno.test("forwarder: fails back to the first collector with no traffic at all", async () => {
  const port = await freePort();
  const b = new Collector();
  const rig = await Rig.start(
    [collectorConfig(`127.0.0.1:${port}`), collectorConfig(b.address)],
    { failbackAfterMs: 150 },
  );
  let a: Collector | undefined;
  try {
    await waitFor(() => rig.fwd.status()[1]!.state === "up", { timeoutMs: 5000, what: "b up" });
    a = new Collector(port);
    await waitFor(() => rig.fwd.status()[0]!.state === "up", {
      timeoutMs: 5000,
      what: "the idle forwarder back on a",
    });
    assertEquals(rig.fwd.status()[1]!.state, "down");
  } finally {
    await rig.cleanup();
    await a?.close();
    await b.close();
  }
});

Deno.test("forwarder: after a collector drops the connection mid-stream the replay window is resent first", async () => {
  // The first connection takes 20 KiB and closes; the second takes everything.
  const a = new Collector(0, (i) => i === 0 ? { closeAfterBytes: 20 * 1024 } : "read");
  const rig = await Rig.start([collectorConfig(a.address, { replayWindow: 4 * MiB })]);
  try {
    for (let i = 0; i < 40; i++) rig.push(50); // ~200 KiB
    const total = rig.next;
    await waitFor(() => a.seqs(1).at(-1) === total - 1, {
      timeoutMs: 5000,
      what: "everything on the second connection",
    });
    const first = a.seqs(0);
    const second = a.seqs(1);
    assert(first.length > 0 && first.length < total, `${first.length} on the first connection`);
    assertEquals(first, range(0, first.length));
    // The second connection starts with a resend (duplicates), and has no gap.
    assert(
      second[0]! <= first.at(-1)!,
      `resend starts at ${second[0]}, first ended at ${first.at(-1)}`,
    );
    assertEquals(second, range(second[0]!, total));
    assertNoGap([...first, ...second], total, "delivered");
    assert(rig.lines.some((l) => l.includes("down")), "the disconnect is logged");
  } finally {
    await rig.cleanup();
    await a.close();
  }
});

Deno.test("forwarder: a stalled collector is marked down within about writeTimeoutMs; the queue spools; stop() hands back what is in hand", async () => {
  const writeTimeoutMs = 300;
  const a = new Collector(0, () => "stall");
  const rig = await Rig.start([collectorConfig(a.address, { writeTimeoutMs })], {
    memoryBytes: 2 * MiB,
  });
  try {
    await waitFor(() => rig.fwd.up, { timeoutMs: 3000, what: "connected" });
    // Push until the writes stop draining and the collector is declared stalled.
    let lastProgressAt = performance.now();
    let lastForwarded = 0;
    await waitFor(() => {
      if (rig.counters.forwarded !== lastForwarded) {
        lastForwarded = rig.counters.forwarded;
        lastProgressAt = performance.now();
      }
      if (rig.fwd.status()[0]!.state === "down") return true;
      rig.push(500, 200); // ~130 KiB
      return false;
    }, { timeoutMs: 10_000, what: "the stall to be noticed", intervalMs: 10 });
    const noticedAfter = performance.now() - lastProgressAt;
    assert(
      noticedAfter < writeTimeoutMs + 1000,
      `noticed ${Math.round(noticedAfter)} ms after the last write`,
    );
    const st = rig.fwd.status()[0]!;
    assert(/stall|drain/.test(st.lastError), st.lastError);
    assert(!rig.fwd.up);
    // While it is down, new messages go to the spool.
    rig.push(10);
    assert(rig.spool.stats().messages > 0, "spooling");
    assertEquals(rig.queue.stats().memory.messages, 0);
    const total = rig.next;
    const inHand = await rig.stop();
    assert(inHand > 0, "the batch whose write stalled is in hand");
    // Nothing is lost: what reached the collector, plus the spool (in-hand first).
    a.drain(0);
    await waitFor(() => a.accepted[0]!.ended, { timeoutMs: 5000, what: "the stalled stream" });
    const received = a.seqs(0);
    assertEquals(received, range(0, received.length));
    const spooled = await rig.spooled();
    assert(spooled[0]! <= received.length, "the spool resumes where the collector stopped");
    assertNoGap([...received, ...spooled], total, "received or spooled");
  } finally {
    await rig.cleanup();
    await a.close();
  }
});

Deno.test("forwarder: stop() while connected and idle hands back nothing and loses nothing", async () => {
  const a = new Collector();
  const rig = await Rig.start([collectorConfig(a.address)]);
  try {
    rig.push(100);
    await waitFor(() => a.allSeqs().length === 100, { timeoutMs: 5000, what: "delivery" });
    assertEquals(await rig.stop(), 0);
    await waitFor(() => a.accepted[0]!.ended, { timeoutMs: 2000, what: "a clean close" });
    assertEquals(await rig.spooled(), []);
  } finally {
    await rig.cleanup();
    await a.close();
  }
});

Deno.test("forwarder: with no collector reachable, stop() returns and the messages stay spooled", async () => {
  const refused = `127.0.0.1:${await freePort()}`;
  const rig = await Rig.start([collectorConfig(refused)]);
  try {
    rig.push(30);
    await waitFor(() => rig.fwd.status()[0]!.lastError !== "", {
      timeoutMs: 3000,
      what: "a failed attempt",
    });
    assertEquals(await rig.stop(), 0);
    assertEquals(await rig.spooled(), range(0, 30));
  } finally {
    await rig.cleanup();
  }
});

Deno.test("forwarder: a clean stop confirms nothing a collector that never reads did not read", async () => {
  // Accepts and never reads: the 100 messages sit in socket buffers, not at the collector.
  const a = new Collector(0, () => "stall");
  const rig = await Rig.start([collectorConfig(a.address)]);
  try {
    rig.push(100);
    await waitFor(() => rig.counters.forwarded === 100, { timeoutMs: 5000, what: "written" });
    const inHand = await rig.stop();
    assertEquals(inHand, 100, "all 100 still in hand");
    assertEquals(await rig.spooled(), range(0, 100));
  } finally {
    await rig.cleanup();
    await a.close();
  }
});

Deno.test("forwarder: a clean stop confirms what a collector read up to the end of the stream", async () => {
  const a = new Collector();
  const rig = await Rig.start([collectorConfig(a.address)]);
  try {
    rig.push(100);
    await waitFor(() => rig.counters.forwarded === 100, { timeoutMs: 5000, what: "written" });
    assertEquals(await rig.stop(), 0);
    assertEquals(a.allSeqs(), range(0, 100));
    assertEquals(await rig.spooled(), []);
  } finally {
    await rig.cleanup();
    await a.close();
  }
});

/** Resolves with whether `p` settles within `ms` (real time). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((r) => timer = setTimeout(() => r(false), ms));
  try {
    return await Promise.race([p.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("forwarder: stop() gives up a connect in progress at once, and closes the connection that completes late", async () => {
  const dir = await Deno.makeTempDir({ prefix: "forwarder_test_" });
  const log = new Logger({ level: "error", format: "text", journal: false, write: () => {} });
  const spool = await Spool.open(
    {
      dir,
      mode: "fallback",
      maxBytes: 16 * MiB,
      whenFull: "drop-oldest",
      sync: "never",
      syncIntervalMs: 20,
      maxDrainRate: 0,
      maxAge: 0,
    },
    65536,
    log,
  );
  const queue = new TieredBuffer(spool, "fallback");
  let complete!: (c: Deno.Conn) => void;
  let closed = false;
  const late = { close: () => closed = true } as unknown as Deno.Conn;
  // Time stands still: only the stop can end the connect.
  const fwd = new Forwarder(
    [collectorConfig("127.0.0.1:1", { connectTimeoutMs: 60_000 })],
    queue,
    new Counters(),
    log,
    {
      clock: new FakeClock(0),
      dial: () => new Promise<Deno.Conn>((r) => complete = r),
    },
  );
  try {
    fwd.start();
    await waitFor(() => complete !== undefined, { timeoutMs: 2000, what: "the dial" });
    assert(await settlesWithin(fwd.stop(), 2000), "stop() returned while the connect hung");
    complete(late);
    await waitFor(() => closed, { timeoutMs: 2000, what: "the late connection closed" });
  } finally {
    await queue.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("forwarder: stop() gives up a RELP open the collector never answers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "forwarder_test_" });
  const log = new Logger({ level: "error", format: "text", journal: false, write: () => {} });
  const spool = await Spool.open(
    {
      dir,
      mode: "fallback",
      maxBytes: 16 * MiB,
      whenFull: "drop-oldest",
      sync: "never",
      syncIntervalMs: 20,
      maxDrainRate: 0,
      maxAge: 0,
    },
    65536,
    log,
  );
  const queue = new TieredBuffer(spool, "fallback");
  // Accepts and never answers `open`.
  const a = new Collector(0, () => "stall");
  const fwd = new Forwarder(
    [
      collectorConfig(a.address, { protocol: "relp", connectTimeoutMs: 60_000 }),
    ],
    queue,
    new Counters(),
    log,
    { clock: new FakeClock(0) },
  );
  try {
    fwd.start();
    await waitFor(() => a.accepted.length === 1, { timeoutMs: 2000, what: "the connection" });
    assert(await settlesWithin(fwd.stop(), 2000), "stop() returned while the open hung");
    await waitFor(async () => (await a.accepted[0]!.conn.read(new Uint8Array(4096))) === null, {
      timeoutMs: 2000,
      what: "the agent to close the connection",
    });
  } finally {
    await queue.close();
    await a.close();
    await Deno.remove(dir, { recursive: true });
  }
});
