/**
 * The durable on-disk queue.
 *
 * @module
 */

import {
  type Batch,
  eachFrame,
  type Logger,
  type SpoolPosition,
  writeOctetHeader,
} from "../ground/mod.ts";
import type { SpoolConfig } from "../config/mod.ts";
import { completeRecords, HEADER, MAX_RECORD, scanRecords, writeRecord } from "./_record.ts";
import { denoFs, type SpoolFile, type SpoolFs } from "./spool_fs.ts";

const SEGMENT_SUFFIX = ".seg";
const CHECKPOINT = "checkpoint.json";
/** Ids start high so that segments can be put in front of the first one (see `close`). */
const FIRST_ID = 1_000_000_000_000;
const CHUNK_BYTES = 256 * 1024;
/** Bytes waiting to be written beyond which appends are dropped rather than held in memory. */
const MAX_PENDING_WRITE = 64 * 1024 * 1024;
/** Bytes waiting to be written beyond which inputs pause their reads (see `backlog`)... */
const BACKLOG_HIGH = 16 * 1024 * 1024;
/** ...until the write loop has brought them under this. */
const BACKLOG_LOW = 4 * 1024 * 1024;
/** Written chunks kept in memory for the reader, so that it need not read them back. */
const CACHE_BYTES = 4 * 1024 * 1024;
/** Failed write chunks remembered for {@linkcode Spool.settled}. */
const FAILED_KEPT = 1024;

interface Segment {
  id: number;
  /** Bytes appended, written or not. */
  bytes: number;
  /** Bytes on disk (written by the write loop). */
  written: number;
  /** Good records from `start` on; undefined until counted after a restart. */
  records: number | undefined;
  /** Records read from it. */
  read: number;
  /** Offset where undelivered records begin (the checkpoint's, for the first one). */
  start: number;
  /** When its first record was appended (or the file's mtime after recovery). */
  createdAt: number;
  deleted: boolean;
}

interface WriteChunk {
  seg: Segment;
  data: Uint8Array;
  records: number;
  /** Its place in the order of chunks handed to the write loop (1, 2, …). */
  seq: number;
}

/** Spool figures for status. */
export interface SpoolStats {
  /** Records on disk not yet handed to the forwarder. */
  messages: number;
  /** Bytes of the segment files. */
  bytes: number;
  /** Age of the segment holding the oldest unread record, 0 when empty. */
  oldestAgeSeconds: number;
  /** Records dropped: the spool full, a write failed, or its files removed. */
  dropped: number;
  /** Damaged records skipped (a torn tail, a failed checksum). */
  corrupt: number;
}

/** A point in the stream of appends, for {@linkcode Spool.settled}. */
export interface SpoolMark {
  /** Chunks handed to the write loop when the mark was taken. */
  chunk: number;
  /** Records dropped on append when the mark was taken. */
  drops: number;
}

/** Options of {@linkcode Spool.open}. */
export interface SpoolOptions {
  /** The file system (tests: a model of one). */
  fs?: SpoolFs;
}

/**
 * A FIFO of messages in segment files under `dir`: records are appended to the
 * newest segment, read from the oldest, and a segment is deleted once everything
 * in it has been acknowledged ({@linkcode Spool.ack}). A checkpoint file remembers
 * the acknowledged position, so a restart resends from there (at-least-once).
 *
 * Appends are synchronous and buffered; a single write loop writes them in order
 * and applies the `sync` policy. Memory is bounded by the chunk and read buffers,
 * whatever the spool's size. The files never exceed `maxBytes`: when an append
 * does not fit, the oldest segment (`drop-oldest`) or the new message
 * (`drop-newest`) is dropped and counted.
 *
 * The spool is a fallback: its I/O errors are its own. A write that fails
 * drops (and counts) its records; files removed under it are noticed, counted
 * and the directory made again; a damaged segment at start is skipped. A
 * directory that cannot be used at all makes the spool unusable
 * ({@linkcode Spool.problem}) instead of failing the agent.
 *
 * @example
 * ```ts
 * import { Spool } from "./spool.ts";
 * import { Logger } from "../ground/mod.ts";
 * const log = new Logger({ level: "info", format: "text" });
 * const spool = await Spool.open({
 *   dir: await Deno.makeTempDir(), mode: "fallback", maxBytes: 1 << 20,
 *   whenFull: "drop-oldest", sync: "interval", syncIntervalMs: 200,
 * }, 65536, log);
 * spool.append({ data: new TextEncoder().encode("5 hello"), count: 1 });
 * const out = await spool.read();
 * if (out) spool.ack(out.end!);
 * await spool.close([]);
 * ```
 */
export class Spool {
  #cfg: SpoolConfig;
  #log: Logger;
  #fs: SpoolFs;
  #segmentBytes: number;
  #segments: Segment[] = [];
  #nextId: number;
  /** The lowest segment id this spool has seen: segments written at a stop go below it. */
  #lowestId: number;
  #totalBytes = 0;
  /** Unread records of counted segments. */
  #unread = 0;
  /** Unread bytes of segments not yet counted after a restart. */
  #uncounted = 0;
  #dropped = 0;
  #corrupt = 0;
  /** Why the spool cannot be used (memory only), or undefined. */
  #unusable: string | undefined;
  /** The last files-removed event, for status. */
  #removedNote: { at: number; text: string } | undefined;
  /** Called with the number of records each time records are dropped. */
  onDrop: (count: number) => void = () => {};

  // Reader.
  #rSeg: Segment | undefined;
  #rOff = 0;
  #rFile: SpoolFile | undefined;
  #rFileId = -1;
  #rBase: number;
  #rBuf: Uint8Array;
  #rView: DataView;

  // Writer.
  #chunk: Uint8Array;
  #chunkView: DataView;
  #chunkLen = 0;
  #chunkRecords = 0;
  #chunkSeg: Segment | undefined;
  /** Set while `close` writes the segment of in-hand batches, which is not split. */
  #noRotate = false;
  #queue: WriteChunk[] = [];
  #pending = 0;
  #writing: Promise<void> | undefined;
  #wFile: SpoolFile | undefined;
  #wFileId = -1;
  #unsynced = false;
  /** A segment file was created since the directory was last fsynced. */
  #dirDirty = false;
  #lastSync = 0;
  /**
   * fdatasync calls, one after the other, beside the write loop: a sync of a
   * file with much dirty data takes long, and writes (so inputs) must not wait
   * for it (except with `sync: "always"`, which asks for exactly that).
   */
  #syncs: Promise<void> = Promise.resolve();
  #syncQueued = false;
  #flushQueued = false;
  #backlog: { promise: Promise<void>; resolve: () => void } | undefined;
  #tickTimer: ReturnType<typeof setInterval> | undefined;
  #checking = false;
  /** Set while writes fail (disk full, I/O error); cleared by the next good write. */
  #writeError: Error | undefined;
  #writeErrorAt = 0;
  /** Chunks handed to the write loop, and how many of them it has finished. */
  #chunksQueued = 0;
  #chunksDone = 0;
  /** Chunks whose records could not be written (the most recent FAILED_KEPT), ascending. */
  #failed: number[] = [];
  #failedForgotten = 0;
  #appendDrops = 0;
  /** Records lost because a write failed. */
  #lostWrites = 0;
  /** Callers of `settled`, each waiting for the write loop to finish chunk `seq`. */
  #settledWaiters: { seq: number; resolve: () => void }[] = [];
  /**
   * Chunks written and not yet read, in the order written, up to CACHE_BYTES: the
   * reader takes them from here instead of reading the file back (a write-ahead
   * log read only after a restart, or when the reader falls further behind).
   */
  #cache: { segment: number; offset: number; data: Uint8Array }[] = [];
  #cacheHead = 0;
  #cacheBytes = 0;
  /** Readers waiting for the write loop to finish its next chunk. */
  #progressWaiters: (() => void)[] = [];
  #closed = false;

  // Acknowledged position and its checkpoint file.
  #ackSeg = -1;
  #ackOff = 0;
  #checkpointDirty = false;
  #meta: Promise<void> = Promise.resolve();
  /** Resolves once every segment recovered at start is counted. */
  #counting: Promise<void> = Promise.resolve();

  private constructor(cfg: SpoolConfig, maxRecord: number, log: Logger, fs: SpoolFs) {
    this.#cfg = cfg;
    this.#log = log;
    this.#fs = fs;
    this.#segmentBytes = Math.max(
      4 * (maxRecord + HEADER),
      Math.min(16 * 1024 * 1024, Math.floor(cfg.maxBytes / 8)),
    );
    this.#rBase = Math.max(CHUNK_BYTES, 2 * (maxRecord + HEADER));
    this.#rBuf = new Uint8Array(this.#rBase);
    this.#rView = new DataView(this.#rBuf.buffer);
    this.#chunk = new Uint8Array(Math.max(CHUNK_BYTES, maxRecord + HEADER));
    this.#chunkView = new DataView(this.#chunk.buffer);
    this.#nextId = FIRST_ID;
    this.#lowestId = FIRST_ID;
  }

  /**
   * Opens (creating it if needed) and recovers the spool in `cfg.dir`. Only the
   * listing and the newest segment are read before it returns (a torn last
   * record is cut off and counted); older segments are counted in the
   * background ({@linkcode Spool.recovered}), so a big spool does not delay
   * the start. Damaged records further in are skipped and counted when read.
   * Never throws: a directory that cannot be used makes the spool unusable.
   *
   * @param maxRecord the largest message the inputs pass on now (sizes buffers;
   *   records up to the format's own maximum are accepted)
   */
  static async open(
    cfg: SpoolConfig,
    maxRecord: number,
    log: Logger,
    opts: SpoolOptions = {},
  ): Promise<Spool> {
    const spool = new Spool(cfg, maxRecord, log, opts.fs ?? denoFs);
    try {
      await spool.#recover();
    } catch (e) {
      spool.#unusable = `${cfg.dir}: ${errorText(e)}`;
      spool.#segments = [];
      spool.#totalBytes = spool.#unread = spool.#uncounted = 0;
      spool.#rSeg = undefined;
      log.error(
        `spool: cannot use ${cfg.dir} (${
          errorText(e)
        }); relaying from memory only, nothing is kept across a restart: fix the directory (owner, mode, mount) and restart the agent`,
      );
    }
    // Periodic sync (sync: "interval"), checkpoint writes and the check that the
    // files are still there ride on this tick.
    spool.#tickTimer = setInterval(() => spool.#tick(), cfg.syncIntervalMs);
    return spool;
  }

  /** Figures for status. */
  stats(now = Date.now()): SpoolStats {
    const messages = this.#unread + this.#estimate(this.#uncounted);
    // Before the first read there is no read segment yet: the oldest is the first one.
    const r = this.#rSeg;
    const head = messages > 0 ? (r !== undefined && !r.deleted ? r : this.#segments[0]) : undefined;
    return {
      messages,
      bytes: this.#totalBytes,
      oldestAgeSeconds: head ? Math.max(0, Math.floor((now - head.createdAt) / 1000)) : 0,
      dropped: this.#dropped,
      corrupt: this.#corrupt,
    };
  }

  /**
   * What is wrong with the spool for status, most severe first: unusable (memory
   * only), writes failing (disk full), files removed in the last 10 minutes;
   * `critical` tells which of them make the agent's state critical.
   */
  problem(now = Date.now()): { text: string; critical: boolean } | undefined {
    if (this.#unusable !== undefined) {
      return { text: `spool unusable, memory only: ${this.#unusable}`, critical: true };
    }
    // A write that failed in the last minute; after that, only while writes are waiting (in
    // fallback mode a collector back up means no writes, and nothing to be critical about).
    const failing = this.#writeError !== undefined &&
      (now - this.#writeErrorAt < 60_000 || this.#pending + this.#chunkLen > 0);
    if (failing && this.#writeError !== undefined) {
      const full = isNoSpace(this.#writeError);
      return {
        text: full
          ? `spool disk full in ${this.#cfg.dir}: messages are dropped until space is freed`
          : `spool writes fail in ${this.#cfg.dir}: ${this.#writeError.message}`,
        critical: true,
      };
    }
    const removed = this.#removedNote;
    if (removed !== undefined && now - removed.at < 600_000) {
      return { text: removed.text, critical: false };
    }
    return undefined;
  }

  /** Whether the spool can be written at all; when not, the queue keeps to memory. */
  get usable(): boolean {
    return this.#unusable === undefined;
  }

  /** Whether records are waiting to be read. */
  get hasUnread(): boolean {
    return this.#unread > 0 || this.#uncounted > 0;
  }

  /** Resolves once every segment found at start is counted (status figures exact). */
  recovered(): Promise<void> {
    return this.#counting;
  }

  /**
   * When appends have run more than 16 MiB ahead of the disk, a promise that
   * resolves once the write loop has caught up (under 4 MiB); undefined
   * otherwise. Inputs wait on it between reads, so that a disk slower than the
   * senders slows the reads for a moment instead of dropping messages, and so
   * that busy inputs cannot starve the write loop.
   */
  backlog(): Promise<void> | undefined {
    if (this.#backlog) return this.#backlog.promise;
    if (this.#pending + this.#chunkLen <= BACKLOG_HIGH) return undefined;
    this.#flushChunk();
    let resolve!: () => void;
    const promise = new Promise<void>((r) => resolve = r);
    this.#backlog = { promise, resolve };
    return promise;
  }

  /** Appends the messages of `batch` (octet-counted frames). Never waits. */
  append(batch: Batch): void {
    const data = batch.data;
    if (this.#unusable !== undefined || this.#closed) {
      this.#appendDrops += batch.count;
      this.#drop(batch.count);
      return;
    }
    eachFrame(data, 0, data.length, (s, e) => this.#appendRecord(data, s, e));
    this.#scheduleFlush();
  }

  /** The point in the stream of appends that {@linkcode Spool.settled} answers for. */
  mark(): SpoolMark {
    return { chunk: this.#chunksQueued, drops: this.#appendDrops };
  }

  /**
   * Resolves once every record appended so far is written to its segment file,
   * and fdatasync'ed (with its directory entry) when `sync` is `"always"`
   * (`"interval"` syncs within `syncIntervalMs` after, `"never"` leaves it to
   * the OS): from then on the records survive the agent being killed. Resolves
   * `true` when every record appended after `since` was written, `false` when
   * some could not be (dropped and counted): the RELP input acknowledges
   * messages only on `true`. A failure may be another sender's: `false` errs
   * on the side of a resend.
   */
  settled(since: SpoolMark): Promise<boolean> {
    this.#flushChunk();
    const seq = this.#chunksQueued;
    const answer = () => this.#appendDrops === since.drops && !this.#failedIn(since.chunk, seq);
    if (this.#chunksDone >= seq) return Promise.resolve(answer());
    return new Promise((resolve) => {
      this.#settledWaiters.push({ seq, resolve: () => resolve(answer()) });
    });
  }

  /**
   * The next run of unread records (about 256 KiB) as a batch whose `end` is the
   * position to {@linkcode ack} once it is delivered; `undefined` when there is
   * nothing to read.
   */
  async read(): Promise<Batch | undefined> {
    for (;;) {
      if (!this.hasUnread || this.#closed) return undefined;
      let seg = this.#rSeg;
      if (seg === undefined || seg.deleted) {
        // The one after the deleted segment: those before it were read already.
        const after = seg?.id ?? -Infinity;
        seg = this.#segments.find((s) => s.id > after);
        if (seg === undefined) return undefined;
        this.#enter(seg);
      }
      if (this.#rOff >= seg.written) {
        if (seg.written < seg.bytes) {
          // What is unread has not reached the disk yet: hand it to the write loop and
          // read what it writes as soon as it is written (not when the loop is idle).
          this.#flushChunk();
          await new Promise<void>((resolve) => this.#progressWaiters.push(resolve));
          continue;
        }
        const next = this.#segments[this.#segments.indexOf(seg) + 1];
        if (next === undefined) return undefined;
        this.#enter(next);
        continue;
      }
      let batch: Batch | undefined;
      try {
        batch = await this.#readFrom(seg);
      } catch (e) {
        await this.#readFailed(seg, e);
        continue;
      }
      if (batch !== undefined) return batch;
    }
  }

  /** Marks everything up to `pos` delivered: whole segments before it are deleted. */
  ack(pos: SpoolPosition): void {
    // Positions below the checkpoint restored at start are in segments written at a
    // stop: they are deleted when done, but the checkpoint never moves back.
    if (pos.segment > this.#ackSeg || (pos.segment === this.#ackSeg && pos.offset > this.#ackOff)) {
      this.#ackSeg = pos.segment;
      this.#ackOff = pos.offset;
      this.#checkpointDirty = true;
    }
    for (;;) {
      const head = this.#segments[0];
      if (head === undefined || head === this.#tail()) break;
      const done = head.id < pos.segment || (head.id === pos.segment && pos.offset >= head.bytes);
      if (!done) break;
      this.#remove(head, 0);
    }
  }

  /**
   * Makes everything durable for a stop: `inHand` (batches taken from the queue
   * but not delivered, oldest first) goes into a new segment placed before all
   * others, it is synced, the checkpoint is set to the read position and
   * written, and only then are the segments it replaces deleted. Never throws:
   * what cannot be written is counted as dropped and logged. The spool cannot
   * be used afterwards.
   */
  async close(inHand: Batch[]): Promise<void> {
    if (this.#tickTimer !== undefined) clearInterval(this.#tickTimer);
    if (this.#unusable !== undefined) {
      const lost = inHand.reduce((n, b) => n + b.count, 0);
      if (lost > 0) this.#log.error(`spool: unusable; ${lost} message(s) in hand are lost`);
      this.#drop(lost);
      this.#finish();
      return;
    }
    try {
      this.#flushChunk();
      await this.#idle();
      await this.#syncs;
      // Files removed under the running agent are counted now or never.
      await this.#checkFiles(true);
      // The read position: a segment, or just past a deleted one.
      const rSeg = this.#rSeg;
      // Everything before the read position was delivered or is in `inHand`: those
      // segments leave the accounting now, and the disk once the replacement is durable.
      const replaced = rSeg === undefined ? [] : this.#segments.filter((s) => s.id < rSeg.id);
      // Reading a segment written at an earlier stop (below the checkpoint, which says
      // "undelivered in full"): its unread rest goes into the new one with the in-hand
      // batches, so that nothing read is sent twice and the checkpoint stays where it is.
      const below = rSeg !== undefined && !rSeg.deleted && rSeg.id < this.#ackSeg;
      if (below && this.#rOff > rSeg.start) {
        inHand = [...inHand];
        while (this.#rSeg === rSeg && this.#rOff < rSeg.written) {
          const b = await this.#readFrom(rSeg);
          if (b === undefined) break;
          inHand.push(b);
        }
        replaced.push(rSeg);
      }
      for (const seg of replaced) this.#forget(seg);
      if (inHand.some((b) => b.count > 0)) {
        const seg = this.#newSegment(--this.#lowestId);
        this.#segments.unshift(seg);
        this.#chunkSeg = seg;
        this.#noRotate = true;
        const before = { lost: this.#lostWrites, dropped: this.#dropped };
        for (const b of inHand) this.append(b);
        this.#flushChunk();
        await this.#idle();
        if (this.#lostWrites > before.lost) {
          const failed = this.#dropped - before.dropped;
          // A full disk: the old checkpoint and the segments the new one was to replace
          // stay, so what was read from the spool is resent (duplicates, not drops).
          const onDisk = new Set([...replaced, ...this.#segments].map((s) => s.id));
          const fromSpool = inHand.reduce(
            (n, b) => n + (b.end !== undefined && onDisk.has(b.end.segment) ? b.count : 0),
            0,
          );
          const resent = Math.min(failed, fromSpool);
          this.#dropped -= resent;
          this.onDrop(-resent);
          this.#log.error(
            `spool: stopping: ${failed} message(s) in hand could not be written to ${this.#cfg.dir}; ${resent} of them stay in the spool and are resent, ${
              failed - resent
            } lost: free space in ${this.#cfg.dir}`,
          );
          this.#finish();
          return;
        }
      }
      if (this.#wFile !== undefined && this.#cfg.sync !== "never") await this.#wFile.syncData();
      if (this.#dirDirty) await this.#syncDir();
      if (below) {
        // The checkpoint restored at start, or acknowledged since, stays.
      } else if (rSeg !== undefined) {
        this.#ackSeg = rSeg.id;
        this.#ackOff = rSeg.deleted ? 0 : this.#rOff;
      } else {
        this.#ackSeg = this.#segments[0]?.id ?? this.#nextId;
        this.#ackOff = 0;
      }
      await this.#writeCheckpoint();
      for (const seg of replaced) await this.#unlink(seg.id);
      if (replaced.length > 0) await this.#syncDir();
    } catch (e) {
      this.#log.error(
        `spool: stopping: could not make ${this.#cfg.dir} durable (${
          errorText(e)
        }); what was not written is resent or lost as counted`,
      );
    }
    this.#finish();
  }

  #finish(): void {
    this.#closed = true;
    // Chunks never written (the disk failed under the stop): no waiter may hear `true`.
    for (let seq = this.#chunksDone + 1; seq <= this.#chunksQueued; seq++) this.#markFailed(seq);
    try {
      this.#wFile?.close();
    } catch { /* already closed */ }
    try {
      this.#rFile?.close();
    } catch { /* already closed */ }
    this.#wFile = this.#rFile = undefined;
    this.#settle(Infinity);
  }

  /** The write loop finished chunk `seq` (and every one before it). */
  #settle(seq: number): void {
    this.#chunksDone = Math.max(this.#chunksDone, seq);
    const waiters = this.#settledWaiters;
    while (waiters.length > 0 && waiters[0]!.seq <= this.#chunksDone) waiters.shift()!.resolve();
    const progress = this.#progressWaiters;
    this.#progressWaiters = [];
    for (const resolve of progress) resolve();
  }

  #failedIn(after: number, upTo: number): boolean {
    if (after < this.#failedForgotten) return true;
    return this.#failed.some((s) => s > after && s <= upTo);
  }

  #markFailed(seq: number): void {
    this.#failed.push(seq);
    if (this.#failed.length > FAILED_KEPT) this.#failedForgotten = this.#failed.shift()!;
  }

  #tail(): Segment | undefined {
    return this.#segments[this.#segments.length - 1];
  }

  #path(id: number): string {
    return `${this.#cfg.dir}/${String(id).padStart(16, "0")}${SEGMENT_SUFFIX}`;
  }

  #newSegment(id: number): Segment {
    return {
      id,
      bytes: 0,
      written: 0,
      records: 0,
      read: 0,
      start: 0,
      createdAt: Date.now(),
      deleted: false,
    };
  }

  /** Messages in `bytes` of records not yet counted, estimated from those counted. */
  #estimate(bytes: number): number {
    return bytes === 0 ? 0 : Math.max(1, Math.round(bytes / (HEADER + 256)));
  }

  #appendRecord(src: Uint8Array, start: number, end: number): void {
    const size = HEADER + end - start;
    if (this.#pending + this.#chunkLen + size > MAX_PENDING_WRITE) {
      this.#appendDrops++;
      this.#drop(1);
      return;
    }
    while (this.#totalBytes + size > this.#cfg.maxBytes) {
      const head = this.#segments[0];
      // A head not yet counted after a restart cannot be dropped with an exact count:
      // until the count catches up (soon), a full spool drops the new message instead.
      if (
        this.#cfg.whenFull === "drop-newest" || head === undefined || head === this.#chunkSeg ||
        head.records === undefined
      ) {
        this.#appendDrops++;
        this.#drop(1);
        return;
      }
      this.#remove(head, this.#unreadIn(head));
    }
    let seg = this.#chunkSeg;
    if (
      seg === undefined || seg.deleted || (seg.bytes + size > this.#segmentBytes && !this.#noRotate)
    ) {
      this.#flushChunk();
      seg = this.#newSegment(this.#nextId++);
      this.#segments.push(seg);
      this.#chunkSeg = seg;
    }
    if (this.#chunkLen + size > this.#chunk.length) this.#flushChunk();
    if (size > this.#chunk.length) {
      // A message bigger than the buffers were sized for (a reload raised maxMessageSize).
      this.#chunk = new Uint8Array(size);
      this.#chunkView = new DataView(this.#chunk.buffer);
    }
    this.#chunkLen = writeRecord(this.#chunk, this.#chunkView, this.#chunkLen, src, start, end);
    this.#chunkRecords++;
    seg.bytes += size;
    seg.records! += 1;
    this.#totalBytes += size;
    this.#unread++;
  }

  #drop(count: number): void {
    if (count === 0) return;
    this.#dropped += count;
    this.onDrop(count);
  }

  /** Records of `seg` not yet read (estimated while it is not counted). */
  #unreadIn(seg: Segment): number {
    if (seg.records === undefined) {
      return Math.max(0, this.#estimate(seg.bytes - seg.start) - seg.read);
    }
    return seg.records - seg.read;
  }

  /** Takes `seg` out of the list and the figures; its unread records leave `#unread`. */
  #forget(seg: Segment): number {
    seg.deleted = true;
    const i = this.#segments.indexOf(seg);
    if (i >= 0) this.#segments.splice(i, 1);
    this.#totalBytes -= seg.bytes;
    const unread = this.#unreadIn(seg);
    if (seg.records === undefined) this.#uncounted -= seg.bytes - seg.start;
    else this.#unread -= seg.records - seg.read;
    if (this.#chunkSeg === seg) {
      // Its records still in the chunk buffer went with it (counted in `unread`).
      this.#chunkSeg = undefined;
      this.#chunkLen = this.#chunkRecords = 0;
    }
    if (this.#rSeg === seg) {
      // The reader goes on with the segment after it (those before were read already).
      // With none yet, it stays on the deleted one: `read` goes on after it.
      const next = this.#segments.find((s) => s.id > seg.id);
      if (next) this.#enter(next);
    }
    return unread;
  }

  /** Deletes a segment; `dropped` of its records were never read. */
  #remove(seg: Segment, dropped: number): void {
    this.#forget(seg);
    this.#drop(dropped);
    const id = seg.id;
    this.#meta = this.#meta.then(() => this.#unlink(id));
  }

  async #unlink(id: number): Promise<void> {
    const path = this.#path(id);
    try {
      await this.#fs.remove(path);
      this.#dirDirty = true;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        this.#log.warn(`spool: could not delete ${path}: ${errorText(e)}`);
      }
    }
  }

  #enter(seg: Segment): void {
    this.#rSeg = seg;
    this.#rOff = seg.start;
  }

  async #readFrom(seg: Segment): Promise<Batch | undefined> {
    const cached = this.#cached(seg.id, this.#rOff);
    let buf = cached ?? this.#rBuf;
    for (;;) {
      let got: number;
      if (cached !== undefined) {
        // Written whole records, still in memory: no read back, no seek.
        got = cached.length;
      } else {
        if (this.#rFileId !== seg.id || this.#rFile === undefined) {
          this.#rFile?.close();
          this.#rFile = undefined;
          this.#rFile = await this.#fs.open(this.#path(seg.id), "read");
          this.#rFileId = seg.id;
        }
        const file = this.#rFile;
        const want = Math.min(buf.length, seg.written - this.#rOff);
        await file.seek(this.#rOff);
        got = 0;
        while (got < want) {
          const n = await file.read(buf.subarray(got, want));
          if (n === null) break;
          got += n;
        }
      }
      if (seg.deleted || this.#rSeg !== seg) return undefined; // dropped while we read
      const final = this.#rOff + got >= seg.written;
      const view = buf === this.#rBuf ? this.#rView : new DataView(buf.buffer);
      // Each record of at least 9 bytes becomes `LEN SP MSG`, at most one byte longer.
      const out = new Uint8Array(got + Math.ceil(got / (HEADER + 1)) + 16);
      let outLen = 0;
      let count = 0;
      const src = buf;
      const res = scanRecords(src, view, 0, got, MAX_RECORD, final, (s, e) => {
        outLen = writeOctetHeader(out, outLen, e - s);
        out.set(src.subarray(s, e), outLen);
        outLen += e - s;
        count++;
      }, cached !== undefined);
      if (res.next === 0 && !final && got >= HEADER) {
        // A record longer than the buffer (a big maxMessageSize, or a damaged length that
        // only its checksum can refute): read it whole with a buffer of its size.
        const need = HEADER + view.getUint32(4, true);
        if (need > buf.length) {
          buf = new Uint8Array(need);
          continue;
        }
        throw new Error(`cannot parse ${this.#path(seg.id)} at offset ${this.#rOff}`);
      }
      if (res.corrupt > 0) {
        this.#corrupt += res.corrupt;
        this.#log.warn(
          `spool: skipped ${res.corrupt} damaged record(s) in ${
            this.#path(seg.id)
          } near offset ${this.#rOff}`,
        );
      }
      this.#rOff += res.next;
      seg.read += count;
      if (seg.records !== undefined) this.#unread -= count;
      if (count === 0) return undefined;
      return {
        data: out.subarray(0, outLen),
        count,
        end: { segment: seg.id, offset: this.#rOff },
      };
    }
  }

  /** Reading `seg` failed: its file is gone (see `#checkFiles`) or unreadable (skipped). */
  async #readFailed(seg: Segment, e: unknown): Promise<void> {
    this.#rFile?.close();
    this.#rFile = undefined;
    this.#rFileId = -1;
    if (e instanceof Deno.errors.NotFound) {
      await this.#checkFiles(true);
      return;
    }
    const lost = this.#unreadIn(seg);
    this.#log.error(
      `spool: cannot read ${this.#path(seg.id)} (${
        errorText(e)
      }); skipping its ${lost} unread message(s): check the file and the disk`,
    );
    this.#corrupt += lost;
    this.#forget(seg);
  }

  #scheduleFlush(): void {
    if (this.#chunkLen >= CHUNK_BYTES / 2) this.#flushChunk();
    else if (this.#chunkLen > 0 && !this.#flushQueued) {
      // What one read brought in goes to the write loop as one chunk, right after it.
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        this.#flushChunk();
      });
    }
  }

  /** Hands the current chunk to the write loop. */
  #flushChunk(): void {
    if (this.#chunkLen === 0 || this.#chunkSeg === undefined) return;
    const data = this.#chunk.slice(0, this.#chunkLen);
    const seq = ++this.#chunksQueued;
    this.#queue.push({ seg: this.#chunkSeg, data, records: this.#chunkRecords, seq });
    this.#pending += data.length;
    this.#chunkLen = 0;
    this.#chunkRecords = 0;
    this.#kick();
  }

  #kick(): void {
    if (this.#writing === undefined) {
      this.#writing = this.#writeLoop().finally(() => {
        this.#writing = undefined;
        // Chunks handed over while the loop was finishing (its last sync or checkpoint).
        if (this.#queue.length > 0) this.#kick();
      });
    }
  }

  #tick(): void {
    this.#kick();
    if (!this.#checking && this.#unusable === undefined) {
      this.#checking = true;
      this.#checkFiles(false).finally(() => this.#checking = false);
    }
  }

  /** Resolves once every chunk handed to the write loop is written. */
  async #idle(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  async #writeLoop(): Promise<void> {
    for (;;) {
      const item = this.#queue.shift();
      if (item === undefined) break;
      this.#pending -= item.data.length;
      // Segments deleted to make room go first: the files never exceed maxBytes.
      await this.#meta;
      if (item.seg.deleted) {
        this.#markFailed(item.seq);
        this.#settle(item.seq);
        continue;
      }
      let off = 0;
      try {
        await this.#openForWrite(item.seg);
        while (off < item.data.length) off += await this.#wFile!.write(item.data.subarray(off));
        if (this.#cfg.sync === "always") {
          await this.#wFile!.syncData();
          // A new segment's name must be durable before its records are promised.
          if (this.#dirDirty) await this.#syncDir();
        } else this.#unsynced = true;
        item.seg.written += off;
        this.#remember(item.seg.id, item.seg.written - off, item.data);
        this.#releaseBacklog();
        if (this.#writeError) {
          this.#log.info(`spool: writing to ${this.#cfg.dir} works again`);
          this.#writeError = undefined;
        }
      } catch (e) {
        await this.#lostChunk(item, off, e);
        this.#releaseBacklog();
      }
      // Dropped while being written: opening it may have created the file again after its
      // deletion, which would leave dropped messages on disk, beyond maxBytes.
      if (item.seg.deleted) await this.#unlink(item.seg.id);
      this.#settle(item.seq);
      this.#syncIfDue();
    }
    try {
      this.#syncIfDue();
      if (this.#checkpointDirty && !this.#closed) await this.#writeCheckpoint();
    } catch (e) {
      this.#log.warn(`spool: sync or checkpoint in ${this.#cfg.dir} failed: ${errorText(e)}`);
    }
  }

  /** Keeps a written chunk for the reader while there is room in the cache. */
  #remember(segment: number, offset: number, data: Uint8Array): void {
    if (this.#cacheBytes + data.length > CACHE_BYTES) return;
    this.#cache.push({ segment, offset, data });
    this.#cacheBytes += data.length;
  }

  /** The cached chunk at `offset` of `segment`, taken out; older ones are dropped on the way. */
  #cached(segment: number, offset: number): Uint8Array | undefined {
    // `this.#cache` each time round: emptied on the way (every entry older), it is a new array.
    while (this.#cacheHead < this.#cache.length) {
      const cache = this.#cache;
      const c = cache[this.#cacheHead]!;
      if (c.segment > segment || (c.segment === segment && c.offset > offset)) return undefined;
      cache[this.#cacheHead++] = undefined as unknown as (typeof cache)[number];
      this.#cacheBytes -= c.data.length;
      if (this.#cacheHead === cache.length) {
        this.#cache = [];
        this.#cacheHead = 0;
      }
      if (c.segment === segment && c.offset === offset) return c.data;
    }
    return undefined;
  }

  #releaseBacklog(): void {
    if (this.#backlog && this.#pending <= BACKLOG_LOW) {
      this.#backlog.resolve();
      this.#backlog = undefined;
    }
  }

  async #openForWrite(seg: Segment): Promise<void> {
    if (this.#wFileId === seg.id && this.#wFile) return;
    if (this.#wFile) {
      this.#wFileId = -1;
      const old = this.#wFile;
      this.#wFile = undefined;
      const sync = this.#cfg.sync !== "never";
      this.#inBackground(async () => {
        try {
          if (sync) await old.syncData();
        } finally {
          old.close();
        }
      });
    }
    this.#wFile = await this.#fs.open(this.#path(seg.id), "append");
    this.#wFileId = seg.id;
    if (seg.written === 0) this.#dirDirty = true;
  }

  #syncIfDue(): void {
    const file = this.#wFile;
    if (this.#cfg.sync !== "interval" || this.#syncQueued) return;
    if (!this.#unsynced && !this.#dirDirty) return;
    const now = Date.now();
    // Not due yet: the periodic tick runs the loop again in time.
    if (now - this.#lastSync < this.#cfg.syncIntervalMs) return;
    const data = this.#unsynced;
    this.#unsynced = false;
    this.#lastSync = now;
    this.#syncQueued = true;
    this.#inBackground(async () => {
      this.#syncQueued = false;
      if (data && file) await file.syncData();
      if (this.#dirDirty) await this.#syncDir();
    });
  }

  async #syncDir(): Promise<void> {
    this.#dirDirty = false;
    try {
      await this.#fs.syncDir(this.#cfg.dir);
    } catch (e) {
      this.#dirDirty = true;
      throw e;
    }
  }

  /** Runs `fn` after the syncs before it, beside the write loop; failures are logged. */
  #inBackground(fn: () => Promise<void>): void {
    this.#syncs = this.#syncs.then(fn).catch((e) => {
      this.#log.warn(`spool: fdatasync in ${this.#cfg.dir} failed: ${errorText(e)}`);
    });
  }

  /** A chunk could not be written (`written` bytes of it were): its records are dropped. */
  async #lostChunk(item: WriteChunk, written: number, e: unknown): Promise<void> {
    const seg = item.seg;
    this.#markFailed(item.seq);
    if (e instanceof Deno.errors.NotFound) {
      // The directory is gone: the check counts what went with it and makes it again.
      this.#wFile = undefined;
      this.#wFileId = -1;
      await this.#checkFiles(true);
    }
    // The records the disk took whole stay; a torn one after them is cut off the file.
    let { records: kept, bytes: keep } = completeRecords(item.data, written);
    if (keep < written) {
      try {
        await this.#wFile?.truncate(seg.written + keep);
      } catch {
        // Left in place: the reader skips the torn record and counts it as corrupt.
        keep = written;
      }
    }
    if (seg.deleted) return; // counted with its segment
    const lost = item.records - kept;
    seg.written += keep;
    seg.bytes -= item.data.length - keep;
    this.#totalBytes -= item.data.length - keep;
    seg.records! -= lost;
    this.#unread -= lost;
    this.#lostWrites += lost;
    this.#drop(lost);
    if (!this.#writeError) {
      this.#log.error(
        `spool: writing to ${this.#path(seg.id)} failed (${
          errorText(e)
        }); dropping ${lost} message(s) and every message that cannot be written until it works again: free space in ${this.#cfg.dir} or lower spool.maxBytes`,
      );
    }
    this.#writeError = e instanceof Error ? e : new Error(String(e));
    this.#writeErrorAt = Date.now();
  }

  /**
   * Checks that the spool's files are still there (an operator or a cleanup job
   * may remove them). Missing segments are taken out, their unread records
   * counted as dropped, and the directory is made again; the spool carries on.
   * `suspect`: an operation just failed with NotFound, so look at every segment.
   */
  async #checkFiles(suspect: boolean): Promise<void> {
    const dir = this.#cfg.dir;
    let dirGone = false;
    try {
      await this.#fs.stat(dir);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) return;
      dirGone = true;
    }
    const look = dirGone || suspect
      ? [...this.#segments]
      : this.#segments.filter((s) => s.id === this.#wFileId || s === this.#rSeg);
    const missing: Segment[] = [];
    for (const seg of look) {
      if (seg.written === 0 || seg.deleted) continue; // not created yet
      if (dirGone) {
        missing.push(seg);
        continue;
      }
      try {
        await this.#fs.stat(this.#path(seg.id));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) missing.push(seg);
      }
    }
    if (missing.length === 0 && !dirGone) return;
    let lost = 0;
    for (const seg of missing) {
      if (seg.deleted) continue;
      lost += this.#forget(seg);
      if (this.#wFileId === seg.id) {
        try {
          this.#wFile?.close();
        } catch { /* gone */ }
        this.#wFile = undefined;
        this.#wFileId = -1;
      }
      if (this.#rFileId === seg.id) {
        this.#rFile?.close();
        this.#rFile = undefined;
        this.#rFileId = -1;
      }
    }
    this.#drop(lost);
    let again = "";
    if (dirGone) {
      try {
        await this.#fs.mkdir(dir);
        again = "; made the directory again";
      } catch (e) {
        again = `; cannot make it again (${errorText(e)})`;
      }
    }
    const text = `spool files removed while running: ${missing.length} segment(s) of ${dir}${
      dirGone ? " (the whole directory)" : ""
    }, ${lost} unsent message(s) lost`;
    this.#removedNote = { at: Date.now(), text };
    this.#log.error(
      `spool: ${missing.length} segment file(s) in ${dir} were removed while the agent ran${
        dirGone ? " (the directory too)" : ""
      }: ${lost} unsent message(s) lost${again}; the spool carries on. Do not clean ${dir} by hand or with tmpfiles rules`,
    );
  }

  async #writeCheckpoint(): Promise<void> {
    this.#checkpointDirty = false;
    const text = JSON.stringify({ segment: this.#ackSeg, offset: this.#ackOff });
    const path = `${this.#cfg.dir}/${CHECKPOINT}`;
    // Deletions queued before this checkpoint happen first (see `#recover`).
    await this.#meta;
    try {
      await this.#fs.writeFile(`${path}.tmp`, new TextEncoder().encode(text));
      await this.#fs.rename(`${path}.tmp`, path);
      this.#dirDirty = true;
      await this.#syncDir();
    } catch (e) {
      this.#checkpointDirty = true;
      throw e;
    }
  }

  async #recover(): Promise<void> {
    const dir = this.#cfg.dir;
    const fs = this.#fs;
    await fs.mkdir(dir);
    // Can it be written at all (a read-only file system, a directory of someone else's)?
    // A full disk is not that: the spool starts, drops what it cannot write, and
    // recovers when space is freed.
    const probe = `${dir}/.probe`;
    try {
      await fs.writeFile(probe, new Uint8Array(0));
      await fs.remove(probe);
    } catch (e) {
      if (!isNoSpace(e)) throw e;
      this.#writeError = e as Error;
      this.#writeErrorAt = Date.now();
      this.#log.error(`spool: ${dir} is full; messages that cannot be written are dropped`);
    }
    let cp = { segment: -1, offset: 0 };
    try {
      const parsed = JSON.parse(
        new TextDecoder().decode(await fs.readFile(`${dir}/${CHECKPOINT}`)),
      );
      if (Number.isSafeInteger(parsed.segment) && Number.isSafeInteger(parsed.offset)) cp = parsed;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        this.#log.warn(
          `spool: ignoring unreadable ${dir}/${CHECKPOINT} (${e}); resending from the start`,
        );
      }
    }
    const ids: number[] = [];
    for (const name of await fs.list(dir)) {
      const m = /^(\d{16})\.seg$/.exec(name);
      if (!m) continue;
      const id = Number(m[1]);
      if (!Number.isSafeInteger(id) || id >= Number.MAX_SAFE_INTEGER - 1) {
        this.#log.warn(`spool: ignoring ${dir}/${name}: not a segment name this agent writes`);
        continue;
      }
      ids.push(id);
    }
    ids.sort((a, b) => a - b);
    // Rules (the writer keeps them): segments before the checkpoint's are undelivered
    // segments written at a stop; the checkpoint's is undelivered from its offset on.
    for (const [i, id] of ids.entries()) {
      const path = this.#path(id);
      try {
        const info = await fs.stat(path);
        const seg = this.#newSegment(id);
        seg.bytes = seg.written = info.size;
        seg.createdAt = info.mtime ?? Date.now();
        seg.start = id === cp.segment ? Math.min(cp.offset, info.size) : 0;
        if (seg.start >= seg.bytes) {
          await fs.remove(path).catch(() => {});
          continue;
        }
        if (i === ids.length - 1) {
          // The newest segment may end in a torn record: count it now and cut that off.
          const { records, goodEnd, corrupt } = await this.#count(path, seg.start, info.size);
          seg.records = records;
          if (goodEnd < info.size && corrupt > 0) {
            this.#corrupt++;
            // Reads stop there even when the file cannot be cut (read-only).
            seg.bytes = seg.written = goodEnd;
            await fs.truncate(path, goodEnd).then(
              () => this.#log.warn(`spool: cut a torn record off the end of ${path} at ${goodEnd}`),
              (e) =>
                this.#log.warn(
                  `spool: a torn record ends ${path} at ${goodEnd}; cannot cut it (${
                    errorText(e)
                  }), reads stop there`,
                ),
            );
          }
          this.#unread += records;
        } else {
          seg.records = undefined;
          this.#uncounted += seg.bytes - seg.start;
        }
        this.#segments.push(seg);
        this.#totalBytes += seg.bytes;
      } catch (e) {
        this.#corrupt++;
        this.#log.error(
          `spool: skipping segment ${path}, which cannot be read (${
            errorText(e)
          }); its messages are not sent: check the file and the disk`,
        );
      }
    }
    const known = [...ids, ...(cp.segment >= 0 ? [cp.segment] : [])];
    // New segments go after every one known, the checkpoint's too (it may be deleted).
    this.#nextId = Math.max(FIRST_ID, ...known.map((id) => id + 1));
    this.#lowestId = Math.min(FIRST_ID, ...known);
    this.#ackSeg = cp.segment;
    this.#ackOff = cp.offset;
    const first = this.#segments[0];
    if (first) this.#enter(first);
    if (this.#segments.length > 0) {
      this.#log.info(
        `spool: recovering ${this.#segments.length} segment(s), ${this.#totalBytes} bytes, from ${dir}`,
      );
    }
    if (this.#uncounted > 0) this.#counting = this.#countRecovered();
  }

  /** Counts the records of the segments found at start, oldest first, beside the relay. */
  async #countRecovered(): Promise<void> {
    for (const seg of [...this.#segments]) {
      if (seg.records !== undefined || seg.deleted || this.#closed) continue;
      try {
        const { records } = await this.#count(this.#path(seg.id), seg.start, seg.written);
        if (seg.deleted || seg.records !== undefined) continue;
        this.#uncounted -= seg.bytes - seg.start;
        seg.records = records;
        this.#unread += Math.max(0, records - seg.read);
      } catch (e) {
        if (seg.deleted || seg.records !== undefined) continue;
        // Skipped and counted, like a segment that cannot be read at the start.
        this.#corrupt++;
        this.#log.error(
          `spool: skipping segment ${this.#path(seg.id)}, which cannot be read (${
            errorText(e)
          }); its messages are not sent: check the file and the disk`,
        );
        this.#uncounted -= seg.bytes - seg.start;
        seg.records = seg.read;
      }
    }
    this.#log.info(`spool: recovered ${this.#unread} message(s) from ${this.#cfg.dir}`);
  }

  /** Counts the good records of a segment file from `start`, and where the last one ends. */
  async #count(
    path: string,
    start: number,
    size: number,
  ): Promise<{ records: number; goodEnd: number; corrupt: number }> {
    const file = await this.#fs.open(path, "read");
    try {
      await file.seek(start);
      let buf = new Uint8Array(Math.min(this.#rBase, Math.max(HEADER, size - start)));
      let off = start;
      let fill = 0;
      let records = 0;
      let corrupt = 0;
      let goodEnd = start;
      for (;;) {
        const n = fill < buf.length ? await file.read(buf.subarray(fill)) : 0;
        if (n !== null) fill += n;
        const final = n === null || off + fill >= size;
        const base = off;
        const view = new DataView(buf.buffer);
        const res = scanRecords(buf, view, 0, fill, MAX_RECORD, final, (_s, e) => {
          records++;
          goodEnd = base + e;
        });
        corrupt += res.corrupt;
        if (final) break;
        if (res.next === 0 && fill === buf.length) {
          // One record longer than the buffer: make room for it.
          const bigger = new Uint8Array(Math.max(buf.length * 2, HEADER + view.getUint32(4, true)));
          bigger.set(buf);
          buf = bigger;
          continue;
        }
        buf.copyWithin(0, res.next, fill);
        off += res.next;
        fill -= res.next;
      }
      return { records, goodEnd, corrupt };
    } finally {
      file.close();
    }
  }
}

function isNoSpace(e: unknown): boolean {
  return /no space|ENOSPC|quota/i.test(errorText(e));
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
