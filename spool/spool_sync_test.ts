// Group commit and the durability lag: one fdatasync covers everything queued
// while the one before it ran, every promise it covers is kept together and
// only after it, and the lag shows what is not yet durable.

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Spool } from "./spool.ts";
import type { SpoolConfig } from "../config/mod.ts";
import { type Batch, FakeClock, Logger } from "../ground/mod.ts";
import { octetBatch, SlowSyncFs, waitFor } from "../testkit/mod.ts";

const quiet = new Logger({ level: "error", format: "text", journal: false, write: () => {} });

function config(dir: string, sync: SpoolConfig["sync"]): SpoolConfig {
  return {
    dir,
    mode: "always",
    maxBytes: 64 * 1024 * 1024,
    whenFull: "drop-oldest",
    sync,
    syncIntervalMs: 200,
    maxDrainRate: 0,
    maxAge: 0,
  };
}

/** One message, as one read of a sender that writes one message per send(). */
function one(seq: number): Batch {
  return octetBatch([`<13>host app: seq=${seq}`]);
}

/** Lets the microtask that hands a read's records to the write loop run. */
async function afterRead(): Promise<void> {
  for (let i = 0; i < 4; i++) await null;
}

Deno.test("spool: sync always commits in groups: one write and one fdatasync for everything queued during a sync", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spool_sync_" });
  try {
    const fs = new SlowSyncFs();
    const clock = new FakeClock(1_000_000);
    const spool = await Spool.open(config(dir, "always"), 1024, quiet, { fs, clock });
    fs.hold();
    // The first read starts a cycle, whose fdatasync is held.
    let mark = spool.mark();
    spool.append(one(0));
    await afterRead();
    const first = spool.settled(mark);
    await waitFor(() => fs.waiting === 1, {
      timeoutMs: 5_000,
      what: "the first fdatasync started",
    });
    const writesBefore = fs.writes;
    // 500 reads of one message each, while that fdatasync runs.
    const kept: boolean[] = [];
    const promises: Promise<void>[] = [];
    for (let seq = 1; seq <= 500; seq++) {
      mark = spool.mark();
      spool.append(one(seq));
      await afterRead();
      promises.push(spool.settled(mark).then((ok) => void kept.push(ok)));
    }
    await afterRead();
    assertEquals(kept.length, 0, "nothing promised before its fdatasync");
    // The lag: all 501 messages, the oldest appended 1.5 s ago on the spool's clock.
    await clock.advance(1_500);
    const lag = spool.stats().lag;
    assertEquals(lag.messages, 501);
    assertEquals(lag.ageSeconds, 1.5);
    assert(lag.bytes > 501 * 8, `lag bytes ${lag.bytes}`);
    fs.release();
    assert(await first, "the first message is promised");
    await Promise.all(promises);
    assertEquals(kept.length, 500);
    assert(kept.every((ok) => ok), "every message of the cycle is promised");
    // The 500 went out in one cycle: one write, one fdatasync (plus the first cycle's).
    assertEquals(fs.writes - writesBefore, 1, "writes for the 500 reads");
    assertEquals(fs.syncs, 2, "fdatasyncs for 501 reads");
    assertEquals(spool.stats().lag, { messages: 0, bytes: 0, ageSeconds: 0 });
    let read = 0;
    for (;;) {
      const b = await spool.read();
      if (b === undefined) break;
      read += b.count;
      spool.ack(b.end!);
    }
    assertEquals(read, 501);
    await spool.close([]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool: the lag under sync interval is what is not yet written, not what is not yet synced", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spool_sync_" });
  try {
    const fs = new SlowSyncFs();
    const clock = new FakeClock(1_000_000);
    const spool = await Spool.open(config(dir, "interval"), 1024, quiet, { fs, clock });
    fs.hold();
    for (let seq = 0; seq < 10; seq++) {
      spool.append(one(seq));
      await afterRead();
    }
    // Appended, and (but for what a fast disk wrote meanwhile) not yet written.
    const waiting = spool.stats().lag.messages;
    assert(waiting > 0 && waiting <= 10, `${waiting} in the lag`);
    await spool.settled(spool.mark());
    assertEquals(spool.stats().lag, { messages: 0, bytes: 0, ageSeconds: 0 });
    // The periodic fdatasync is held: the data is written, so not in the lag.
    await clock.advance(250);
    assertEquals(spool.stats().lag.messages, 0);
    fs.release();
    await spool.close([]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool: the cost of sync always per message falls as the load rises", async () => {
  // The same 2,000 one-message reads, with a 2 ms fdatasync: paced one per fdatasync, then all
  // at once. Per message, the burst pays far fewer fdatasyncs than the paced run.
  const perMessage: number[] = [];
  for (const paced of [true, false]) {
    const dir = await Deno.makeTempDir({ prefix: "spool_sync_" });
    try {
      const fs = new SlowSyncFs({ syncDelayMs: 2 });
      const spool = await Spool.open(config(dir, "always"), 1024, quiet, { fs });
      const count = paced ? 50 : 2_000;
      for (let seq = 0; seq < count; seq++) {
        spool.append(one(seq));
        await afterRead();
        if (paced) await spool.settled(spool.mark());
      }
      await spool.settled(spool.mark());
      perMessage.push(fs.syncs / count);
      await spool.close([]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  const [paced, burst] = perMessage as [number, number];
  assertEquals(paced, 1, "paced: one fdatasync per message");
  assert(burst < 0.05, `a burst of 2,000: ${burst} fdatasyncs per message`);
});
