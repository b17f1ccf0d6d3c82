import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Spool } from "./spool.ts";
import { denoFs, type SpoolFs } from "./spool_fs.ts";
import type { SpoolConfig } from "../config/mod.ts";
import { type Batch, FakeClock, Logger, sleep } from "../ground/mod.ts";
import {
  batchMessages,
  FIRST_SEGMENT_ID,
  octetBatch,
  segmentBytes,
  segmentName,
  waitFor,
} from "../testkit/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const MAX_RECORD = 1024;
const KiB = 1024;

function testLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return {
    log: new Logger({
      level: "debug",
      format: "text",
      journal: false,
      write: (l) => lines.push(l),
    }),
    lines,
  };
}

function config(dir: string, over: Partial<SpoolConfig> = {}): SpoolConfig {
  return {
    dir,
    mode: "fallback",
    maxBytes: 256 * KiB,
    whenFull: "drop-oldest",
    sync: "interval",
    syncIntervalMs: 10,
    maxDrainRate: 0,
    maxAge: 0,
    ...over,
  };
}

/** Message `seq`, 102 bytes. */
function message(seq: number): string {
  return `<13>Jan  1 00:00:00 host app: seq=${String(seq).padStart(7, "0")} ${"p".repeat(60)}`;
}

/** Messages per batch in {@linkcode appendPer}: one read's worth. */
const PER_BATCH = 10;
/**
 * Bytes of one record of {@linkcode PER_BATCH} {@linkcode message}s in a segment file: a
 * 24-byte header and the batch's frames (`102 ` and the 102 bytes).
 */
const RECORD = 24 + PER_BATCH * 106;
/**
 * Messages in a segment of the default {@linkcode config}: segments are an eighth of
 * maxBytes (256 KiB / 8 = 32 KiB), and a record that would not fit starts the next one:
 * 30 records of 10.
 */
const PER_SEGMENT = Math.floor((256 * KiB / 8) / RECORD) * PER_BATCH;
/** Segment files (and reads, one per segment) for 1800 such messages: 6 of 300. */
const SEGMENTS_OF_1800 = Math.ceil(1800 / PER_SEGMENT);

function seqOf(msg: string): number {
  const m = /seq=(\d{7})/.exec(msg);
  assert(m, `not a test message: ${msg}`);
  return Number(m[1]);
}

/** A batch of octet-counted frames holding messages `from` to `to - 1`. */
function batchOf(from: number, to: number): Batch {
  return octetBatch(range(from, to).map(message));
}

/** Appends messages `from` to `to - 1` in batches of {@linkcode PER_BATCH}, as reads bring them. */
function appendPer(spool: Spool, from: number, to: number): void {
  for (let i = from; i < to; i += PER_BATCH) spool.append(batchOf(i, Math.min(to, i + PER_BATCH)));
}

/** The sequence numbers of a batch; checks that it is `count` well-formed frames. */
function seqs(batch: Batch): number[] {
  return batchMessages(batch).map(seqOf);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Reads until the spool has nothing more; acks each batch when `ack` is set. */
async function readAll(spool: Spool, ack = true): Promise<{ seqs: number[]; batches: Batch[] }> {
  const out: number[] = [];
  const batches: Batch[] = [];
  for (;;) {
    const b = await spool.read();
    if (b === undefined) break;
    assert(b.end !== undefined, "a spool batch has a position");
    out.push(...seqs(b));
    batches.push(b);
    if (ack) spool.ack(b.end);
  }
  return { seqs: out, batches };
}

async function segmentFiles(dir: string): Promise<{ name: string; size: number }[]> {
  const out: { name: string; size: number }[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !e.name.endsWith(".seg")) continue;
    // The spool may delete a segment between the listing and the stat.
    const info = await Deno.stat(`${dir}/${e.name}`).catch(() => undefined);
    if (info !== undefined) out.push({ name: e.name, size: info.size });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

async function diskBytes(dir: string): Promise<number> {
  return (await segmentFiles(dir)).reduce((s, f) => s + f.size, 0);
}

/** Opens a spool and waits until every recovered segment is counted (exact figures). */
async function openRecovered(...args: Parameters<typeof Spool.open>): Promise<Spool> {
  const spool = await Spool.open(...args);
  await spool.recovered();
  return spool;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "spool_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("spool: FIFO order across many segments, appends and reads interleaved", async () => {
  await withDir(async (dir) => {
    const { log } = testLogger();
    const spool = await openRecovered(config(dir), MAX_RECORD, log);
    let next = 0;
    for (let i = 0; i < 10; i++) {
      spool.append(batchOf(next, next + 100));
      next += 100;
    }
    assertEquals(spool.stats().messages, 1000);
    assert(spool.hasUnread);
    const first = await readAll(spool);
    assertEquals(first.seqs, range(0, 1000));
    // One batch per segment: 297, 297, 297 and 109.
    assertEquals(first.batches.length, Math.ceil(1000 / PER_SEGMENT), "read in several batches");
    // Appends and reads in turn (this once hung the reader: a chunk handed over while the
    // write loop was finishing was not written until the next tick, and read() spun on it).
    for (let i = 0; i < 20; i++) {
      spool.append(batchOf(next, next + 150));
      next += 150;
      const b = await spool.read();
      assert(b !== undefined);
      spool.ack(b.end!);
      const rest = await readAll(spool);
      assertEquals([...seqs(b), ...rest.seqs], range(next - 150, next));
    }
    assertEquals(spool.stats().messages, 0);
    assert(!spool.hasUnread);
    assertEquals(await spool.read(), undefined);
    await spool.close([]);
  });
});

Deno.test("spool: many segments are written and read back in order", async () => {
  await withDir(async (dir) => {
    const { log } = testLogger();
    const spool = await openRecovered(config(dir, { maxBytes: 256 * KiB }), MAX_RECORD, log);
    // ~200 KiB: fits, in several 32 KiB segments.
    appendPer(spool, 0, 1800);
    await spool.close([]);
    const files = await segmentFiles(dir);
    assertEquals(files.length, SEGMENTS_OF_1800, "segment files");
    const again = await openRecovered(config(dir), MAX_RECORD, log);
    assertEquals(again.stats().messages, 1800);
    assertEquals((await readAll(again)).seqs, range(0, 1800));
    await again.close([]);
  });
});

Deno.test("spool: ack deletes whole segments; a reopened spool resends from the acked position", async () => {
  await withDir(async (dir) => {
    const { log } = testLogger();
    const spool = await openRecovered(config(dir), MAX_RECORD, log);
    appendPer(spool, 0, 1800);
    const { seqs: all, batches } = await readAll(spool, false);
    const before = (await segmentFiles(dir)).length;
    assertEquals(all, range(0, 1800));
    assertEquals(batches.length, SEGMENTS_OF_1800, "one batch per segment");
    // Deliver the first half of the batches only.
    const acked = batches.slice(0, Math.floor(batches.length / 2));
    for (const b of acked) spool.ack(b.end!);
    const ackedCount = acked.reduce((s, b) => s + b.count, 0);
    const cp = acked[acked.length - 1]!.end!;
    await waitFor(async () => {
      const text = await Deno.readTextFile(`${dir}/checkpoint.json`).catch(() => "");
      return text === JSON.stringify(cp);
    }, { timeoutMs: 3000, what: "the checkpoint of the ack" });
    const after = (await segmentFiles(dir)).length;
    assert(after < before, `segments deleted by the ack: ${before} -> ${after}`);
    // A crash now: the files as they are, without close.
    const crashed = await Deno.makeTempDir({ prefix: "spool_test_crash_" });
    try {
      for await (const e of Deno.readDir(dir)) {
        if (e.isFile) await Deno.copyFile(`${dir}/${e.name}`, `${crashed}/${e.name}`);
      }
      const again = await openRecovered(config(crashed), MAX_RECORD, log);
      // What was read but not acked comes again; nothing acked does.
      assertEquals((await readAll(again)).seqs, range(ackedCount, 1800));
      await again.close([]);
    } finally {
      await Deno.remove(crashed, { recursive: true });
    }
    await spool.close([]);
  });
});

Deno.test("spool: close(inHand) puts the in-hand batches first, then the unread rest", async () => {
  await withDir(async (dir) => {
    const { log } = testLogger();
    let spool = await openRecovered(config(dir), MAX_RECORD, log);
    appendPer(spool, 0, 1000);
    const b1 = (await spool.read())!;
    const b2 = (await spool.read())!;
    assert(b1 && b2);
    spool.ack(b1.end!);
    const inHandFrom = seqs(b2)[0]!;
    const unreadFrom = seqs(b2).at(-1)! + 1;
    spool.append(batchOf(1000, 1200));
    // b2 was read and not delivered; a batch taken from memory also waits in hand.
    await spool.close([b2]);
    spool = await openRecovered(config(dir), MAX_RECORD, log);
    assertEquals(spool.stats().messages, 1200 - inHandFrom);
    const firstRun = await readAll(spool);
    assertEquals(firstRun.seqs, range(inHandFrom, 1200));
    assert(unreadFrom > inHandFrom);
    // A second stop with batches in hand that never were in the spool.
    spool.append(batchOf(1300, 1400));
    const taken = (await spool.read())!;
    await spool.close([batchOf(1200, 1300), taken]);
    spool = await openRecovered(config(dir), MAX_RECORD, log);
    assertEquals((await readAll(spool)).seqs, range(1200, 1400));
    await spool.close([]);
    spool = await openRecovered(config(dir), MAX_RECORD, log);
    assertEquals(spool.stats().messages, 0);
    assertEquals(await spool.read(), undefined);
    await spool.close([]);
  });
});

for (const whenFull of ["drop-oldest", "drop-newest"] as const) {
  Deno.test(`spool: ${whenFull} never exceeds maxBytes on disk and counts every drop`, async () => {
    await withDir(async (dir) => {
      const { log } = testLogger();
      const maxBytes = 256 * KiB;
      const spool = await openRecovered(config(dir, { maxBytes, whenFull }), MAX_RECORD, log);
      let onDrop = 0;
      spool.onDrop = (n) => onDrop += n;
      const total = 10_000; // about 4 times maxBytes
      // Bursts of about half of maxBytes: several old segments go at once while new ones
      // are written. The files are looked at while that happens.
      for (let from = 0; from < total; from += 1000) {
        appendPer(spool, from, from + 1000);
        assert(spool.stats().bytes <= maxBytes, `accounted ${spool.stats().bytes}`);
        for (let look = 0; look < 6; look++) {
          await new Promise((r) => setTimeout(r, 0));
          const onDisk = await diskBytes(dir);
          assert(onDisk <= maxBytes, `${onDisk} bytes on disk > ${maxBytes}`);
        }
      }
      const dropped = spool.stats().dropped;
      // 256 KiB holds 241 records of 10 messages (1,084 bytes). drop-newest refuses every one
      // after those; drop-oldest deletes whole segments of 300 (unread) messages as it goes:
      // 26 of them, which leaves 220 records of the 1,000 appended.
      const expected = whenFull === "drop-newest"
        ? total - Math.floor(maxBytes / RECORD) * PER_BATCH
        : 26 * PER_SEGMENT;
      assertEquals(dropped, expected, "dropped");
      assertEquals(onDrop, dropped);
      const out = (await readAll(spool)).seqs;
      assertEquals(out.length + dropped, total, "every message comes out or is counted dropped");
      if (whenFull === "drop-oldest") assertEquals(out, range(total - out.length, total));
      else assertEquals(out, range(0, out.length));
      await spool.close([]);
      assert(await diskBytes(dir) <= maxBytes);
      // Nothing dropped comes back after a restart either.
      const again = await openRecovered(config(dir, { maxBytes, whenFull }), MAX_RECORD, log);
      assertEquals((await readAll(again)).seqs, []);
      await again.close([]);
    });
  });
}

Deno.test("spool: drop-oldest while a reader is part way counts only unread messages", async () => {
  await withDir(async (dir) => {
    const { log } = testLogger();
    const maxBytes = 256 * KiB;
    const spool = await openRecovered(config(dir, { maxBytes }), MAX_RECORD, log);
    appendPer(spool, 0, 1000);
    const taken = [...seqs((await spool.read())!), ...seqs((await spool.read())!)];
    assertEquals(taken, range(0, taken.length));
    appendPer(spool, 1000, 5000);
    const out = [...taken, ...(await readAll(spool)).seqs];
    for (let i = 1; i < out.length; i++) assert(out[i]! > out[i - 1]!, `order at ${i}`);
    assertEquals(new Set(out).size, out.length, "no duplicates");
    assertEquals(out.length + spool.stats().dropped, 5000);
    await spool.close([]);
  });
});

/** Record offsets of a segment file: `MAGIC(4) CRC(4) LEN(4) COUNT(4) ARRIVAL(8) PAYLOAD`. */
function recordOffsets(bytes: Uint8Array): { at: number; len: number }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: { at: number; len: number }[] = [];
  for (let p = 0; p + 24 <= bytes.length;) {
    const len = view.getUint32(p + 8, true);
    out.push({ at: p, len });
    p += 24 + len;
  }
  return out;
}

for (const where of ["payload", "length", "crc"] as const) {
  Deno.test(`spool: recovery skips a torn tail and a damaged record (${where}) and counts both`, async () => {
    await withDir(async (dir) => {
      const { log, lines } = testLogger();
      const total = 1800;
      let spool = await openRecovered(config(dir), MAX_RECORD, log);
      appendPer(spool, 0, total);
      await spool.close([]);
      const files = await segmentFiles(dir);
      assertEquals(files.length, SEGMENTS_OF_1800);
      // Flip a byte of a record (a batch of 10) in the middle of a middle segment.
      const mid = `${dir}/${files[Math.floor(files.length / 2)]!.name}`;
      const bytes = await Deno.readFile(mid);
      const recs = recordOffsets(bytes);
      const victim = recs[Math.floor(recs.length / 2)]!;
      const payload = dec.decode(bytes.subarray(victim.at + 24, victim.at + 24 + victim.len));
      const damaged = seqOf(payload);
      const at = where === "payload"
        ? victim.at + 24 + 40
        : where === "length"
        ? victim.at + 9
        : victim.at + 5;
      bytes[at]! ^= 0x10;
      await Deno.writeFile(mid, bytes);
      // Tear the last record of the last segment.
      const last = `${dir}/${files[files.length - 1]!.name}`;
      const size = (await Deno.stat(last)).size;
      await Deno.truncate(last, size - 5);
      spool = await openRecovered(config(dir), MAX_RECORD, log);
      const out = (await readAll(spool)).seqs;
      // A damaged record takes its batch with it; so does the torn last one.
      const expected = range(0, total - PER_BATCH).filter((s) =>
        s < damaged || s >= damaged + PER_BATCH
      );
      assertEquals(out, expected);
      assertEquals(spool.stats().corrupt, 2);
      assert(lines.some((l) => l.includes("torn")), "the torn tail is logged");
      assert(lines.some((l) => l.includes("damaged")), "the damaged record is logged");
      await spool.close([]);
      // The damage is not counted again after another restart.
      spool = await openRecovered(config(dir), MAX_RECORD, log);
      assertEquals(spool.stats().corrupt, 0);
      assertEquals(spool.stats().messages, 0);
      await spool.close([]);
    });
  });
}

for (const sync of ["always", "never"] as const) {
  Deno.test(`spool: sync "${sync}" appends, reads and survives a restart`, async () => {
    await withDir(async (dir) => {
      const { log } = testLogger();
      let spool = await openRecovered(config(dir, { sync }), MAX_RECORD, log);
      spool.append(batchOf(0, 500));
      const b = (await spool.read())!;
      spool.ack(b.end!);
      const afterFirst = seqs(b).at(-1)! + 1;
      spool.append(batchOf(500, 1000));
      await spool.close([]);
      spool = await openRecovered(config(dir, { sync }), MAX_RECORD, log);
      assertEquals((await readAll(spool)).seqs, range(afterFirst, 1000));
      await spool.close([]);
    });
  });
}

Deno.test("spool: stats report messages, bytes and the age of the oldest unread", async () => {
  await withDir(async (dir) => {
    const { log } = testLogger();
    const clock = new FakeClock(1_000_000);
    const spool = await openRecovered(config(dir), MAX_RECORD, log, { clock });
    assertEquals(spool.stats(), {
      messages: 0,
      bytes: 0,
      oldestAgeSeconds: 0,
      dropped: 0,
      expired: 0,
      corrupt: 0,
      lag: { messages: 0, bytes: 0, ageSeconds: 0 },
    });
    // Nothing read yet (a collector down since the start): the age still shows.
    spool.append(batchOf(0, 10));
    const recordBytes = 24 + 10 * (4 + enc.encode(message(0)).length);
    const s = spool.stats(clock.now() + 5000);
    assertEquals(s.messages, 10);
    assertEquals(s.bytes, recordBytes);
    assertEquals(s.oldestAgeSeconds, 5, "age");
    await readAll(spool);
    assertEquals(spool.stats(clock.now() + 5000).messages, 0);
    assertEquals(spool.stats(clock.now() + 5000).oldestAgeSeconds, 0);
    await spool.close([]);
  });
});

Deno.test("spool: records written under a larger maxMessageSize are read after a restart with a smaller one", async () => {
  await withDir(async (dir) => {
    const { log } = testLogger();
    let spool = await openRecovered(config(dir, { maxBytes: 8 * 1024 * KiB }), 200_000, log);
    const big = (seq: number) => `seq=${String(seq).padStart(7, "0")} ${"b".repeat(100_000)}`;
    spool.append(octetBatch(range(0, 20).map(big)));
    await spool.close([]);
    // Before: validated against the new, smaller limit, all 20 were "damaged" and skipped,
    // and the unread count never went down.
    spool = await openRecovered(config(dir, { maxBytes: 8 * 1024 * KiB }), MAX_RECORD, log);
    assertEquals(spool.stats().messages, 20);
    assertEquals((await readAll(spool)).seqs, range(0, 20));
    assertEquals(spool.stats().messages, 0);
    assertEquals(spool.stats().corrupt, 0);
    assert(!spool.hasUnread);
    await spool.close([]);
  });
});

Deno.test("spool: with a disk slower than the inflow, what is written is read while writes go on", async () => {
  await withDir(async (dir) => {
    const { log } = testLogger();
    // Time is the spool's clock: every write takes 10 ms of it, and 50 messages come
    // every 2 ms of it, so appends always wait in the write loop's queue. The clock moves
    // on only once the real file operations started so far are done.
    const clock = new FakeClock(1_000_000);
    let inFlight = 0;
    const real = async <T>(op: Promise<T>): Promise<T> => {
      inFlight++;
      try {
        return await op;
      } finally {
        inFlight--;
      }
    };
    const slow: SpoolFs = {
      mkdir: (d) => real(denoFs.mkdir(d)),
      list: (d) => real(denoFs.list(d)),
      stat: (path) => real(denoFs.stat(path)),
      remove: (path) => real(denoFs.remove(path)),
      rename: (from, to) => real(denoFs.rename(from, to)),
      readFile: (path) => real(denoFs.readFile(path)),
      writeFile: (path, data) => real(denoFs.writeFile(path, data)),
      truncate: (path, len) => real(denoFs.truncate(path, len)),
      syncDir: (d) => real(denoFs.syncDir(d)),
      async open(path, mode) {
        const file = await real(denoFs.open(path, mode));
        return {
          write: async (data) => {
            await sleep(clock, 10);
            return await real(file.write(data));
          },
          read: (buf) => real(file.read(buf)),
          seek: (offset) => real(file.seek(offset)),
          truncate: (len) => real(file.truncate(len)),
          syncData: () => real(file.syncData()),
          close: () => file.close(),
        };
      },
    };
    /** Waits until no real file operation is under way. */
    const settle = async () => {
      do await new Promise((r) => setTimeout(r, 0)); while (inFlight > 0);
    };
    /** Moves the clock on by `ms` once nothing real is under way, and settles again. */
    const step = async (ms: number) => {
      await settle();
      await clock.advance(ms);
      await settle();
    };
    /** `p`, with the clock moved on 10 ms at a time until it settles. */
    const driven = async <T>(p: Promise<T>): Promise<T> => {
      let done = false;
      p.then(() => done = true, () => done = true);
      for (let i = 0; !done; i++) {
        assert(i < 100_000, "still waiting after 1000 s of the spool's clock");
        await step(10);
      }
      return await p;
    };
    const spool = await Spool.open(
      config(dir, { mode: "always", maxBytes: 64 * 1024 * KiB }),
      MAX_RECORD,
      log,
      { fs: slow, clock },
    );
    let next = 0;
    let firstReadAt = -1;
    const started = clock.now();
    const got: number[] = [];
    const reading = (async () => {
      while (firstReadAt < 0 && clock.now() - started < 800) {
        const b = await spool.read();
        if (b === undefined) {
          await new Promise((r) => setTimeout(r, 0));
          continue;
        }
        firstReadAt = clock.now() - started;
        got.push(...seqs(b));
        spool.ack(b.end!);
      }
    })();
    while (clock.now() - started < 800) {
      spool.append(batchOf(next, next + 50));
      next += 50;
      await step(2);
    }
    await driven(reading);
    // Before: the reader waited for the write loop to go idle, which it never did under load
    // (here: not before the appends stop at 800 ms). Now the first read comes as soon as the
    // first write (10 ms on this disk) is done.
    assertEquals(firstReadAt, 10, "ms of the spool's clock to the first read");
    got.push(...(await driven(readAll(spool))).seqs);
    assertEquals(got, range(0, next));
    await driven(spool.close([]));
  });
});

Deno.test("spool: a directory that cannot be used gives a memory-only spool, not a failed start", async () => {
  await withDir(async (dir) => {
    const { log, lines } = testLogger();
    await Deno.writeTextFile(`${dir}/not-a-dir`, "");
    const spool = await Spool.open(config(`${dir}/not-a-dir/spool`), MAX_RECORD, log);
    assert(!spool.usable);
    assert(spool.problem()?.critical, "critical");
    assert(/spool unusable, memory only/.test(spool.problem()!.text), spool.problem()!.text);
    assert(lines.some((l) => /cannot use .*not-a-dir\/spool/.test(l)), lines.join("\n"));
    spool.append(batchOf(0, 10));
    assertEquals(spool.stats().dropped, 10);
    assertEquals(await spool.settled(spool.mark()), true, "nothing after the mark");
    await spool.close([batchOf(10, 12)]);
    assertEquals(spool.stats().dropped, 12);
  });
});

Deno.test("spool: a stray segment name beyond 2^53 is left alone and does not stop the start", async () => {
  await withDir(async (dir) => {
    const { log } = testLogger();
    await Deno.writeTextFile(`${dir}/9999999999999999.seg`, "stray");
    const spool = await openRecovered(config(dir), MAX_RECORD, log);
    assert(spool.usable);
    spool.append(batchOf(0, 10));
    assertEquals((await readAll(spool)).seqs, range(0, 10));
    await spool.close([]);
    assertEquals(await Deno.readTextFile(`${dir}/9999999999999999.seg`), "stray");
  });
});

Deno.test("spool: files removed while running are counted, the directory made again, the spool goes on", async () => {
  const parent = await Deno.makeTempDir({ prefix: "spool_test_rm_" });
  try {
    const dir = `${parent}/spool`;
    const { log, lines } = testLogger();
    const spool = await openRecovered(config(dir, { maxBytes: 1024 * KiB }), MAX_RECORD, log);
    spool.append(batchOf(0, 100));
    assertEquals(await spool.settled({ chunk: 0, drops: 0 }), true);
    await Deno.remove(dir, { recursive: true }); // an operator cleaning /var/spool
    await waitFor(() => spool.problem() !== undefined, {
      timeoutMs: 2000,
      what: "the removal noticed",
    });
    assert(/files removed while running/.test(spool.problem()!.text), spool.problem()!.text);
    assertEquals(spool.stats().dropped, 100);
    assert(lines.some((l) => /were removed while the agent ran/.test(l)), lines.join("\n"));
    spool.append(batchOf(100, 200));
    assertEquals((await readAll(spool)).seqs, range(100, 200));
    assert((await Deno.stat(dir)).isDirectory, "made again");
    await spool.close([]);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("spool: its clock drives the tick (the files-removed check) and the ages it reports", async () => {
  const parent = await Deno.makeTempDir({ prefix: "spool_test_clock_" });
  try {
    const dir = `${parent}/spool`;
    const { log } = testLogger();
    const clock = new FakeClock(1_000_000);
    // A minute between ticks: on wall time, no tick would come while this test runs.
    const spool = await openRecovered(config(dir, { syncIntervalMs: 60_000 }), MAX_RECORD, log, {
      clock,
    });
    assertEquals(clock.pending, 1, "the tick waits on the spool's clock");
    spool.append(batchOf(0, 10));
    assertEquals(await spool.settled(spool.mark()), true);
    await clock.advance(5_000);
    assertEquals(spool.stats().oldestAgeSeconds, 5);
    await Deno.remove(dir, { recursive: true });
    assertEquals(spool.problem(), undefined, "nothing noticed before the tick");
    await clock.advance(55_000);
    await waitFor(() => spool.problem() !== undefined, {
      timeoutMs: 2000,
      what: "the removal noticed on the tick of the fake clock",
    });
    assert(/files removed while running/.test(spool.problem()!.text), spool.problem()!.text);
    assertEquals(spool.stats().dropped, 10);
    // The note is dated by the clock: it is shown for 10 minutes of it.
    await clock.advance(599_000);
    assert(spool.problem() !== undefined, "still shown");
    await clock.advance(1_000);
    assertEquals(spool.problem(), undefined);
    await spool.close([]);
    assertEquals(clock.pending, 0, "close stops the tick");
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("spool: a spool an older agent wrote (one record per message, format 1) is delivered by this one, its own batch records after it", async () => {
  await withDir(async (dir) => {
    const { log } = testLogger();
    // Two segments of the older format, 500 messages each, the first half of the first one
    // delivered (the checkpoint an older agent wrote).
    const first = segmentBytes(0, 500, 102);
    await Deno.writeFile(`${dir}/${segmentName(FIRST_SEGMENT_ID)}`, first);
    await Deno.writeFile(
      `${dir}/${segmentName(FIRST_SEGMENT_ID + 1)}`,
      segmentBytes(500, 500, 102),
    );
    await Deno.writeTextFile(
      `${dir}/checkpoint.json`,
      JSON.stringify({ segment: FIRST_SEGMENT_ID, offset: 250 * (8 + 102) }),
    );
    let spool = await openRecovered(config(dir, { maxBytes: 1024 * KiB }), MAX_RECORD, log);
    assertEquals(spool.stats().messages, 750);
    // New messages go into segments of the new format, after the old ones.
    spool.append(batchOf(2000, 2010));
    const seqOfLine = (b: Batch) =>
      batchMessages(b).map((m) => {
        const found = /seq=(\d+)/.exec(m);
        assert(found, m);
        return Number(found[1]);
      });
    const got: number[] = [];
    for (;;) {
      const b = await spool.read();
      if (b === undefined) break;
      got.push(...seqOfLine(b));
      spool.ack(b.end!);
    }
    assertEquals(got, [...range(250, 1000), ...range(2000, 2010)]);
    await spool.close([]);
    spool = await openRecovered(config(dir, { maxBytes: 1024 * KiB }), MAX_RECORD, log);
    assertEquals(spool.stats().messages, 0, "all delivered, nothing again after a restart");
    await spool.close([]);
  });
});

Deno.test("spool: maxAge drops from the head, unsent and counted, what is older when its turn comes: after an outage and after a restart", async () => {
  await withDir(async (dir) => {
    const { log, lines } = testLogger();
    const clock = new FakeClock(1_000_000);
    const cfg = config(dir, { maxAge: 60_000, maxBytes: 1024 * KiB });
    let spool = await openRecovered(cfg, MAX_RECORD, log, { clock });
    appendPer(spool, 0, 100); // arrive at 0 s
    await spool.settled(spool.mark());
    await clock.advance(30_000);
    appendPer(spool, 100, 200); // at 30 s
    await spool.settled(spool.mark());
    // An outage: nothing read for 70 s. The first 100 are 70 s old, the next 40 s.
    await clock.advance(40_000);
    const first = await readAll(spool);
    assertEquals(first.seqs, range(100, 200));
    assertEquals(spool.stats().expired, 100);
    assertEquals(lines.filter((l) => l.includes("older than spool.maxAge")).length, 1, "once");
    // At start: what a stopped agent left ages while it is down.
    appendPer(spool, 200, 300); // at 70 s
    await spool.close([]);
    await clock.advance(61_000);
    spool = await openRecovered(cfg, MAX_RECORD, log, { clock });
    assertEquals((await readAll(spool)).seqs, []);
    assertEquals(spool.stats().expired, 100);
    await spool.close([]);
    // Nothing comes back, nothing is counted twice, after a clean stop.
    spool = await openRecovered(cfg, MAX_RECORD, log, { clock });
    assertEquals((await readAll(spool)).seqs, []);
    assertEquals(spool.stats().expired, 0);
    assertEquals(spool.stats().messages, 0);
    await spool.close([]);
  });
});
