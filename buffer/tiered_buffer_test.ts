import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { TieredBuffer } from "./tiered_buffer.ts";
import { type Batch, Logger } from "../ground/mod.ts";
import { Spool } from "../spool/mod.ts";
import type { SpoolConfig } from "../config/mod.ts";
import { batchMessages, octetBatch, sleep, waitFor } from "../testkit/mod.ts";

function config(dir: string, mode: SpoolConfig["mode"]): SpoolConfig {
  return {
    dir,
    mode,
    maxBytes: 64 * 1024 * 1024,
    whenFull: "drop-oldest",
    sync: "never",
    syncIntervalMs: 10,
    maxDrainRate: 0,
    maxAge: 0,
  };
}

const log = new Logger({ level: "error", format: "text", journal: false, write: () => {} });

/** A batch of `n` messages numbered from `from`. */
function batchOf(from: number, n: number): Batch {
  return octetBatch(
    Array.from({ length: n }, (_, i) => `<13>host app: seq=${from + i} ${"q".repeat(50)}`),
  );
}

function seqs(batch: Batch): number[] {
  return batchMessages(batch).map((m) => Number(/seq=(\d+)/.exec(m)![1]));
}

/** Takes (and acks) until neither memory nor the spool holds anything. */
async function takeAvailable(
  queue: TieredBuffer,
  spool: Spool,
): Promise<{ seqs: number[]; fromSpool: number }> {
  const out: number[] = [];
  let fromSpool = 0;
  while (queue.stats().memory.messages > 0 || spool.hasUnread) {
    const b = await queue.take();
    assert(b !== undefined);
    if (b.end !== undefined) fromSpool += b.count;
    out.push(...seqs(b));
    queue.ack(b);
  }
  return { seqs: out, fromSpool };
}

async function withSpool(
  mode: SpoolConfig["mode"],
  fn: (spool: Spool, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "queue_test_" });
  const spool = await Spool.open(config(dir, mode), 65536, log);
  try {
    await fn(spool, dir);
  } finally {
    await spool.close([]).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

function assertIncreasing(s: number[], total: number): void {
  for (let i = 1; i < s.length; i++) {
    assert(s[i]! > s[i - 1]!, `order at ${i}: ${s[i - 1]}, ${s[i]}`);
  }
  assertEquals(s, Array.from({ length: total }, (_, i) => i));
}

Deno.test("buffer: fallback keeps order across memory -> spool -> memory", async () => {
  await withSpool("fallback", async (spool) => {
    const queue = new TieredBuffer(spool, "fallback");
    let next = 0;
    const push = (n: number) => {
      queue.push(batchOf(next, n));
      next += n;
    };
    const taken: number[] = [];
    queue.setDeliverable(true);
    push(10);
    push(10);
    assertEquals(queue.stats().memory.messages, 20);
    assert(!spool.hasUnread);
    // Take one from memory, then the collector goes away.
    taken.push(...seqs((await queue.take())!));
    queue.setDeliverable(false);
    push(10); // memory and this go to the spool, in order
    assertEquals(queue.stats().memory, { messages: 0, bytes: 0 });
    assertEquals(spool.stats().messages, 20);
    push(10);
    // Back up: new batches still queue behind the spool.
    queue.setDeliverable(true);
    push(10);
    assertEquals(queue.stats().memory.messages, 0);
    const first = (await queue.take())!;
    assert(first.end !== undefined, "read from the spool");
    taken.push(...seqs(first));
    queue.ack(first);
    push(10);
    const rest = await takeAvailable(queue, spool);
    taken.push(...rest.seqs);
    assert(!spool.hasUnread);
    // The forwarder asks for more and finds the spool read empty: memory again.
    const waiting = queue.take();
    await sleep(0);
    push(10);
    const fromMemory = (await waiting)!;
    assertEquals(fromMemory.end, undefined, "taken from memory");
    assertEquals(spool.stats().messages, 0);
    taken.push(...seqs(fromMemory));
    push(10);
    assertEquals(queue.stats().memory.messages, 10);
    assertEquals(spool.stats().messages, 0);
    taken.push(...(await takeAvailable(queue, spool)).seqs);
    assertIncreasing(taken, next);
  });
});

Deno.test("buffer: fallback order holds with up flapping while batches are pushed and taken", async () => {
  await withSpool("fallback", async (spool) => {
    const queue = new TieredBuffer(spool, "fallback");
    let next = 0;
    const taken: number[] = [];
    for (let round = 0; round < 30; round++) {
      queue.setDeliverable(round % 3 !== 1);
      for (let i = 0; i < 3; i++) {
        queue.push(batchOf(next, 5));
        next += 5;
      }
      if (round % 2 === 0) {
        const b = (await queue.take())!;
        taken.push(...seqs(b));
        queue.ack(b);
      }
    }
    queue.setDeliverable(true);
    taken.push(...(await takeAvailable(queue, spool)).seqs);
    assertIncreasing(taken, next);
  });
});

Deno.test("buffer: a batch pushed while take() finds the spool empty is not overtaken", async () => {
  await withSpool("fallback", async (spool) => {
    const queue = new TieredBuffer(spool, "fallback");
    queue.setDeliverable(false);
    queue.push(batchOf(0, 5)); // spooling
    queue.setDeliverable(true);
    const first = (await queue.take())!;
    queue.ack(first);
    // take() reads the spool empty; before it goes on, a batch arrives (still spooling).
    let second: Batch | undefined;
    const pending = queue.take().then((b) => second = b);
    queue.push(batchOf(5, 5));
    await waitFor(() => second !== undefined, { timeoutMs: 2000, what: "the spooled batch" });
    await pending;
    queue.ack(second!);
    queue.push(batchOf(10, 5));
    const rest = await takeAvailable(queue, spool);
    assertIncreasing([...seqs(first), ...seqs(second!), ...rest.seqs], 15);
  });
});

Deno.test("buffer: more than memoryBytes waiting goes to the spool", async () => {
  await withSpool("fallback", async (spool) => {
    const limit = [0, 10, 20].reduce((sum, from) => sum + batchOf(from, 10).data.length, 0);
    const queue = new TieredBuffer(spool, "fallback", { memoryBytes: limit });
    queue.setDeliverable(true);
    for (let i = 0; i < 3; i++) queue.push(batchOf(i * 10, 10));
    assertEquals(queue.stats().memory.messages, 30);
    assert(!spool.hasUnread);
    queue.push(batchOf(30, 10)); // over the limit
    assertEquals(queue.stats().memory, { messages: 0, bytes: 0 });
    assertEquals(spool.stats().messages, 40);
    const { seqs: out, fromSpool } = await takeAvailable(queue, spool);
    assertEquals(fromSpool, 40);
    assertIncreasing(out, 40);
  });
});

Deno.test("buffer: always mode writes every batch through the spool", async () => {
  await withSpool("always", async (spool) => {
    const queue = new TieredBuffer(spool, "always");
    queue.setDeliverable(true);
    queue.push(batchOf(0, 10));
    assertEquals(queue.stats().memory.messages, 0);
    assertEquals(spool.stats().messages, 10);
    const b = (await queue.take())!;
    assert(b.end !== undefined, "taken from the spool");
    queue.ack(b);
    // Still through the spool after it was read empty.
    queue.push(batchOf(10, 10));
    assertEquals(queue.stats().memory.messages, 0);
    assertEquals(spool.stats().messages, 10);
    const { seqs: rest, fromSpool } = await takeAvailable(queue, spool);
    assertEquals(fromSpool, 10);
    assertIncreasing([...seqs(b), ...rest], 20);
  });
});

Deno.test("buffer: what the spool holds from before a restart comes before new batches", async () => {
  const dir = await Deno.makeTempDir({ prefix: "queue_test_" });
  try {
    let spool = await Spool.open(config(dir, "fallback"), 65536, log);
    spool.append(batchOf(0, 20));
    await spool.close([]);
    spool = await Spool.open(config(dir, "fallback"), 65536, log);
    const queue = new TieredBuffer(spool, "fallback");
    queue.setDeliverable(true);
    queue.push(batchOf(20, 10));
    const { seqs: out } = await takeAvailable(queue, spool);
    assertIncreasing(out, 30);
    await queue.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buffer: take() waits for a push; interrupt() makes it return undefined", async () => {
  await withSpool("fallback", async (spool) => {
    const queue = new TieredBuffer(spool, "fallback");
    queue.setDeliverable(true);
    let settled = false;
    const pending = queue.take().then((b) => {
      settled = true;
      return b;
    });
    await Promise.resolve();
    await sleep(0);
    assert(!settled, "take() waits while the queue is empty");
    queue.push(batchOf(0, 3));
    assertEquals(seqs((await pending)!), [0, 1, 2]);
    const waiting = queue.take();
    queue.interrupt();
    assertEquals(await waiting, undefined);
    // The queue still works after an interrupt.
    queue.push(batchOf(3, 1));
    assertEquals(seqs((await queue.take())!), [3]);
  });
});

Deno.test("buffer: close() moves memory into the spool behind what is there, what was given back first", async () => {
  const dir = await Deno.makeTempDir({ prefix: "queue_test_" });
  try {
    let spool = await Spool.open(config(dir, "fallback"), 65536, log);
    const queue = new TieredBuffer(spool, "fallback");
    queue.setDeliverable(true);
    queue.push(batchOf(0, 10));
    const inHand = (await queue.take())!;
    queue.push(batchOf(10, 10));
    queue.push(batchOf(20, 10));
    queue.giveBack([inHand]);
    await queue.close();
    spool = await Spool.open(config(dir, "fallback"), 65536, log);
    const again = new TieredBuffer(spool, "fallback");
    again.setDeliverable(true);
    const { seqs: out } = await takeAvailable(again, spool);
    assertIncreasing(out, 30);
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buffer: batches given back come out first, before memory and the spool, in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "queue_test_" });
  try {
    const spool = await Spool.open(config(dir, "fallback"), 65536, log);
    const queue = new TieredBuffer(spool, "fallback");
    queue.push(batchOf(0, 5)); // not deliverable yet: the spool
    queue.setDeliverable(true);
    const a = (await queue.take())!;
    assertEquals(seqs(a), [0, 1, 2, 3, 4]);
    // A forwarder stops with it in hand; the next one gets it before anything else.
    queue.giveBack([a]);
    queue.push(batchOf(5, 5));
    assertEquals(queue.stats().inHand.messages, 5, "what was given back is held in memory");
    const again = (await queue.take())!;
    assertEquals(seqs(again), [0, 1, 2, 3, 4]);
    queue.ack(again);
    assertEquals(seqs((await queue.take())!), [5, 6, 7, 8, 9]);
    await queue.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buffer: fallback mode, collector keeping up: settled() answers only once what it covers is in the spool (a RELP 200 is a promise)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "queue_test_" });
  try {
    const spool = await Spool.open(config(dir, "fallback"), 65536, log);
    const queue = new TieredBuffer(spool, "fallback");
    queue.setDeliverable(true);
    queue.push(batchOf(0, 5)); // the memory path
    assertEquals(queue.stats().memory.messages, 5);
    const mark = queue.mark();
    queue.push(batchOf(5, 5));
    assert(await queue.settled(mark), "written");
    assertEquals(queue.stats().memory.messages, 0, "memory went to the spool first");
    // On disk now, in order: what a kill -9 would leave is read after a restart.
    const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".seg"));
    assert(files.length > 0, "a segment file");
    const { seqs: out, fromSpool } = await takeAvailable(queue, spool);
    assertIncreasing(out, 10);
    assertEquals(fromSpool, 10);
    await queue.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
