/**
 * Model-based test of the spool: seeded random sequences of append, read, ack,
 * rewind (a broken connection gives back what it had in hand, partly as
 * stand-ins without data), stop, restart, reload (bigger messages than the buffers were sized for),
 * files removed by hand, a full disk, and crashes that land at any file
 * operation of a {@linkcode ModelFs} (after a write, before its fdatasync,
 * after a rename, before the directory's fsync, around an unlink). After each
 * sequence the spool's promises are checked against what was delivered.
 *
 * `SPOOL_MODEL_SEEDS=N` (default 60) sequences run from `SPOOL_MODEL_SEED`
 * (default 1); `deno task test:model` runs many more. Each seed runs twice:
 * with fdatasync done at once, and with fdatasync taking time (turns of the microtask queue),
 * so that appends gather while a sync runs and a write cycle covers many of
 * them: its promises must be kept together, and a crash during the sync must
 * break none.
 *
 * @module
 */

import { ok as assert } from "node:assert/strict";
import { Spool } from "./spool.ts";
import type { SpoolConfig } from "../config/mod.ts";
import { type Batch, type Clock, Logger, systemClock } from "../ground/mod.ts";
import { CrashError, ModelFs } from "./_model_fs.ts";
import { batchMessages, octetBatch, seededRandom as rng } from "../testkit/mod.ts";

const DIR = "/spool";
const HINT = 1024;
const NO = (Deno.env.get("SPOOL_MODEL_NO") ?? "").split(",");

function batchOf(seqs: number[], size: (i: number) => number): Batch {
  return octetBatch(seqs.map((seq, i) => `seq=${seq} ${"x".repeat(size(i))}`));
}

function seqsOf(batch: Batch): number[] {
  return batchMessages(batch).map((text) => {
    const m = /^seq=(\d+) /.exec(text);
    assert(m, "a message of this test");
    return Number(m[1]);
  });
}

/** What one sequence did, for the summary. */
interface Outcome {
  ops: number;
  crashes: number;
  faultPoints: Map<string, number>;
}

/**
 * One sequence. Kind "crash": sync always, room for everything, crashes at
 * random fault points; checks that every message the spool promised
 * (`settled` true) is delivered, in order within each run of the spool, with
 * bounded duplicates. Kind "ops": any sync, a small `maxBytes` with either
 * drop policy, files removed by hand, a full disk, stops only; checks that
 * every message is delivered or counted as dropped, exactly, with no
 * duplicate, and that the files never exceed `maxBytes`.
 */
async function sequence(seed: number, steps: number, slowSync: boolean): Promise<Outcome> {
  const random = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
  const crashKind = seed % 2 === 1;
  const cfg: SpoolConfig = {
    dir: DIR,
    mode: "always",
    maxBytes: crashKind ? 8 * 1024 * 1024 : pick([12, 24, 48]) * 1024,
    whenFull: pick(["drop-oldest", "drop-newest"] as const),
    sync: crashKind ? "always" : pick(["always", "interval", "never"] as const),
    syncIntervalMs: 2,
    maxDrainRate: 0,
    // Ops sequences age messages out too (model ms; time jumps below).
    maxAge: crashKind || NO.includes("age") ? 0 : pick([0, 0, 40, 120]),
  };
  const log = new Logger({
    level: "error",
    format: "text",
    journal: false,
    write: Deno.env.get("SPOOL_MODEL_LOG") ? (l) => console.log(l) : () => {},
  });
  const where = `seed ${seed} (${crashKind ? "crash" : "ops"}, ${cfg.sync}, ${cfg.whenFull}, ${
    cfg.maxBytes >> 10
  } KiB${cfg.maxAge > 0 ? `, maxAge ${cfg.maxAge}` : ""}${slowSync ? ", slow fdatasync" : ""})`;
  let fs = new ModelFs();
  // 40 turns of the microtask queue: enough for the sequence to append and read meanwhile, and
  // the same on every run of a seed (a timer's turn would depend on the machine).
  if (slowSync) {
    fs.syncDelay = async () => {
      for (let i = 0; i < 40; i++) await null;
    };
  }
  // The model's time: 1 ms per operation, so what is due when (the checkpoint, at most once a
  // syncIntervalMs) is the same on every run of a seed, on a busy machine too.
  let now = 0;
  const clock: Clock = { ...systemClock, now: () => now };
  let spool = await Spool.open(cfg, HINT, log, { fs, clock });
  assert(spool.usable, `${where}: the model spool opens`);
  let next = 0;
  let big = false;
  const appended: number[] = [];
  const promised = new Set<number>();
  let inHand: Batch[] = [];
  const delivered = new Map<number, number>();
  let epoch: number[] = [];
  const epochs: number[][] = [epoch];
  let dropped = 0;
  let expired = 0;
  /** When each message was appended (model time): none older than maxAge is read. */
  const appendedAt = new Map<number, number>();
  let restarts = 0;
  const outcome: Outcome = { ops: 0, crashes: 0, faultPoints: new Map() };

  const deliver = (b: Batch) => {
    for (const s of seqsOf(b)) delivered.set(s, (delivered.get(s) ?? 0) + 1);
  };
  const newEpoch = () => {
    epoch = [];
    epochs.push(epoch);
  };
  const append = () => {
    const n = 1 + Math.floor(random() * 20);
    const seqs = Array.from({ length: n }, () => next++);
    appended.push(...seqs);
    for (const s of seqs) appendedAt.set(s, now);
    const mark = spool.mark();
    spool.append(batchOf(seqs, () => Math.floor(random() * (big ? 3000 : 150))));
    const settled = spool.settled(mark).then((ok) => {
      if (ok) { for (const s of seqs) promised.add(s); }
    });
    return random() < 0.5 ? settled : Promise.resolve();
  };
  const read = async () => {
    const b = await spool.read();
    if (b === undefined) return;
    const seqs = seqsOf(b);
    if (cfg.maxAge > 0) {
      const old = seqs.find((s) => now - appendedAt.get(s)! > cfg.maxAge);
      assert(old === undefined, `${where}: message ${old} read older than maxAge`);
    }
    const resend = seqs.filter((s) => written.has(s)).length;
    assert(
      resend === (b.resent ? seqs.length : 0),
      `${where}: a batch of ${seqs.length} with ${resend} written before, resent: ${b.resent}`,
    );
    epoch.push(...seqs);
    inHand.push(b);
  };
  const ack = () => {
    const b = inHand.shift();
    if (b === undefined) return;
    deliver(b);
    spool.ack(b.end!);
  };
  /** Messages written on a connection that broke since the start: marked `resent` when read again. */
  const written = new Set<number>();
  const rewind = () => {
    if (inHand.length === 0) return;
    // The first k were written (the forwarder kept stand-ins); the rest were in hand whole.
    const k = 1 + Math.floor(random() * inHand.length);
    const given = inHand.map((b, i): Batch =>
      i < k ? { data: new Uint8Array(0), count: b.count, start: b.start!, end: b.end! } : b
    );
    for (const b of inHand.slice(0, k)) for (const s of seqsOf(b)) written.add(s);
    spool.rewind(given, inHand[k - 1]!.end!);
    inHand = [];
    newEpoch();
  };
  const reopen = async () => {
    written.clear();
    spool = await Spool.open(cfg, HINT, log, { fs, clock });
    assert(spool.usable, `${where}: the spool opens again`);
    if (random() < 0.5) await spool.recovered();
    restarts++;
    newEpoch();
  };
  /**
   * A stop with the disk full cannot write its checkpoint or what it holds: what was
   * read is resent (duplicates, out of order), nothing is lost uncounted.
   */
  let stoppedFull = false;
  const stop = async () => {
    stoppedFull ||= fs.full;
    await spool.close(inHand);
    dropped += spool.stats().dropped;
    expired += spool.stats().expired;
    inHand = [];
    await reopen();
  };
  const crash = async () => {
    fs.crashAt = fs.ops + 1 + Math.floor(random() * 40);
    for (let i = 0; i < 200 && fs.crashedAt === undefined; i++) {
      now++;
      const r = random();
      if (r < 0.5) await append();
      else if (r < 0.8) await read();
      else ack();
    }
    if (fs.crashedAt === undefined) {
      fs.crashAt = fs.ops + 1;
      await spool.settled(spool.mark());
      spool.append(batchOf([next++], () => 1));
      appended.push(next - 1);
      await spool.settled(spool.mark());
    }
    const at = fs.crashedAt ?? "none";
    outcome.crashes++;
    outcome.faultPoints.set(at, (outcome.faultPoints.get(at) ?? 0) + 1);
    await spool.close([]); // a dead process: every operation fails; only the timers stop
    inHand = [];
    fs = fs.afterCrash(random);
    await reopen();
  };

  for (let step = 0; step < steps; step++) {
    now++;
    outcome.ops++;
    const r = random();
    if (r < 0.4) await append();
    else if (r < 0.65) await read();
    else if (r < 0.82) ack();
    else if (r < 0.85) rewind();
    else if (r < 0.9) await stop();
    else if (r < 0.92) big = !big && !NO.includes("big"); // a reload raising maxMessageSize
    else if (r < 0.93) now += cfg.maxAge > 0 ? pick([10, 50, 150]) : 0; // time passes
    else if (crashKind && r < 0.97) await crash();
    else if (!crashKind && r < 0.95) {
      const segs = fs.paths().filter((p) => p.endsWith(".seg"));
      // What a removed segment held is counted exactly once the spool has counted what it
      // found at start (a removal before that is counted from the segment's size).
      await spool.recovered();
      if (segs.length > 0 && !NO.includes("remove")) fs.removeByHand(pick(segs));
    } else if (!crashKind && r < 0.97) {
      fs.full = !fs.full && !NO.includes("full"); // the disk fills up, or is freed
    }
    if (!crashKind) {
      const onDisk = fs.sizeOf(".seg");
      assert(
        onDisk <= cfg.maxBytes,
        `${where}: ${onDisk} bytes on disk > maxBytes ${cfg.maxBytes}`,
      );
    }
  }
  // The end: a clean stop and a start, then everything is read and acknowledged.
  fs.full = false;
  await stop();
  await spool.recovered();
  for (;;) {
    const b = await spool.read();
    if (b === undefined) break;
    epoch.push(...seqsOf(b));
    deliver(b);
    spool.ack(b.end!);
  }
  assert(!spool.hasUnread, `${where}: read empty`);
  await spool.close([]);
  dropped += spool.stats().dropped;
  expired += spool.stats().expired;

  for (const [i, e] of stoppedFull ? [] : epochs.entries()) {
    for (let j = 1; j < e.length; j++) {
      assert(
        e[j]! > e[j - 1]!,
        `${where}: run ${i} of the spool delivered ${e[j]} after ${e[j - 1]}`,
      );
    }
  }
  const duplicates = [...delivered.values()].reduce((n, c) => n + c - 1, 0);
  if (crashKind) {
    const missing = [...promised].filter((s) => !delivered.has(s));
    assert(
      missing.length === 0,
      `${where}: ${missing.length} promised message(s) never delivered, first ${missing[0]}`,
    );
    // A restart resends at most what was read but not yet checkpointed.
    assert(
      duplicates <= restarts * 2 * (cfg.maxBytes / 8 / 20),
      `${where}: ${duplicates} duplicates over ${restarts} restarts`,
    );
  } else {
    const lost = appended.filter((s) => !delivered.has(s)).length;
    // Exact, but for a stop on a full disk: what it counted as dropped may still be resent
    // from the segments it could not replace (over-counted, never under).
    assert(
      stoppedFull ? lost <= dropped + expired : lost === dropped + expired,
      `${where}: ${lost} message(s) not delivered, ${dropped} counted as dropped, ${expired} as expired`,
    );
    if (!stoppedFull) {
      assert(duplicates === 0, `${where}: ${duplicates} duplicate(s) with clean stops only`);
    }
  }
  return outcome;
}

for (const slowSync of [false, true]) {
  const variant = slowSync ? "fdatasync taking time" : "fdatasync at once";
  Deno.test(`spool model: seeded sequences with crashes at every kind of fault point, ${variant}`, async () => {
    const first = Number(Deno.env.get("SPOOL_MODEL_SEED") ?? 1);
    const count = Number(Deno.env.get("SPOOL_MODEL_SEEDS") ?? 60);
    const steps = Number(Deno.env.get("SPOOL_MODEL_STEPS") ?? 300);
    const points = new Map<string, number>();
    let ops = 0;
    let crashes = 0;
    for (let seed = first; seed < first + count; seed++) {
      let out: Outcome;
      try {
        out = await sequence(seed, steps, slowSync);
      } catch (e) {
        if (e instanceof CrashError) {
          throw new Error(`seed ${seed}: a crash escaped the spool: ${e}`);
        }
        throw e;
      }
      ops += out.ops;
      crashes += out.crashes;
      for (const [k, v] of out.faultPoints) points.set(k, (points.get(k) ?? 0) + v);
    }
    const byPoint = [...points].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(
      ", ",
    );
    console.log(
      `summary: spool model (${variant}): ${count} sequences (seeds ${first}-${
        first + count - 1
      }), ${ops} steps, ${crashes} crashes at ${points.size} kinds of fault point: ${byPoint}`,
    );
    for (const kind of ["write", "fdatasync", "fsync-dir", "rename", "unlink"]) {
      assert(points.has(kind), `no crash landed at ${kind}: raise SPOOL_MODEL_SEEDS`);
    }
  });
}
