/**
 * The spool's write path: records appended into chunks, one write loop that
 * writes the chunks in order and applies the `sync` policy, the answers of
 * `settled`, and what happens when a write fails.
 *
 * @module
 */

import { type Batch, type Clock, eachFrame, type Logger } from "../ground/mod.ts";
import {
  SPOOL_BACKLOG_HIGH_BYTES,
  SPOOL_BACKLOG_LOW_BYTES,
  type SpoolConfig,
} from "../config/mod.ts";
import { errorText } from "./_error_text.ts";
import { completeRecords, HEADER, writeRecord } from "./_record.ts";
import type { Segment, Segments } from "./_segments.ts";
import type { SpoolFile, SpoolFs } from "./spool_fs.ts";

/** Bytes of a chunk handed to the write loop (a read buffer holds as many). */
export const CHUNK_BYTES = 256 * 1024;
/** Bytes waiting to be written beyond which appends are dropped rather than held in memory. */
const MAX_PENDING_WRITE = 64 * 1024 * 1024;
/** Failed write chunks remembered for {@linkcode Writer.settled}. */
const FAILED_KEPT = 1024;

/** A point in the stream of appends, for `Spool.settled`. */
export interface SpoolMark {
  /** Chunks handed to the write loop when the mark was taken. */
  chunk: number;
  /** Records dropped on append when the mark was taken. */
  drops: number;
}

interface WriteChunk {
  seg: Segment;
  data: Uint8Array;
  records: number;
  /** Its place in the order of chunks handed to the write loop (1, 2, …). */
  seq: number;
}

/** What the writer needs from the rest of the spool. */
export interface WriterParts {
  fs: SpoolFs;
  log: Logger;
  clock: Clock;
  segments: Segments;
  /** The checkpoint, written when the loop has nothing left to write. */
  checkpoint: { readonly dirty: boolean; write(): Promise<void> };
  /** Deletes the oldest segment to make room (`drop-oldest`); its unread records are dropped. */
  dropOldest(seg: Segment): void;
  /** A write found its file or directory gone: the spool's files are checked. */
  filesMissing(): Promise<void>;
  /** `data` was written to segment `segment` at `offset` (for the reader's cache). */
  written(segment: number, offset: number, data: Uint8Array): void;
}

/** Appends and the write loop. */
export class Writer {
  #cfg: SpoolConfig;
  #fs: SpoolFs;
  #log: Logger;
  #clock: Clock;
  #segments: Segments;
  #parts: WriterParts;
  #segmentBytes: number;
  #chunk: Uint8Array;
  #chunkView: DataView;
  #chunkLen = 0;
  #chunkRecords = 0;
  #chunkSeg: Segment | undefined;
  /** Set while `writeAtStop` writes the segment of in-hand batches, which is not split. */
  #noRotate = false;
  #queue: WriteChunk[] = [];
  #pending = 0;
  #writing: Promise<void> | undefined;
  #wFile: SpoolFile | undefined;
  #wFileId = -1;
  #unsynced = false;
  #lastSync = 0;
  #lastCheckpoint = 0;
  /**
   * fdatasync calls, one after the other, beside the write loop: a sync of a
   * file with much dirty data takes long, and writes (so inputs) must not wait
   * for it (except with `sync: "always"`, which asks for exactly that).
   */
  #syncs: Promise<void> = Promise.resolve();
  #syncQueued = false;
  #flushQueued = false;
  #backlog: { promise: Promise<void>; resolve: () => void } | undefined;
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
  /** Readers waiting for the write loop to finish its next chunk. */
  #progressWaiters: (() => void)[] = [];
  #finished = false;

  /** `maxRecord`: the largest message the inputs pass on now (sizes the chunk and segments). */
  constructor(cfg: SpoolConfig, maxRecord: number, parts: WriterParts) {
    this.#cfg = cfg;
    this.#fs = parts.fs;
    this.#log = parts.log;
    this.#clock = parts.clock;
    this.#segments = parts.segments;
    this.#parts = parts;
    this.#segmentBytes = Math.max(
      4 * (maxRecord + HEADER),
      Math.min(16 * 1024 * 1024, Math.floor(cfg.maxBytes / 8)),
    );
    this.#chunk = new Uint8Array(Math.max(CHUNK_BYTES, maxRecord + HEADER));
    this.#chunkView = new DataView(this.#chunk.buffer);
  }

  /** The last write error while writes fail (cleared by a good write), and when it happened. */
  get error(): { error: Error; at: number } | undefined {
    return this.#writeError && { error: this.#writeError, at: this.#writeErrorAt };
  }

  /** Bytes appended and not yet written. */
  get waiting(): number {
    return this.#pending + this.#chunkLen;
  }

  /** Records lost because a write failed. */
  get lostWrites(): number {
    return this.#lostWrites;
  }

  /** The id of the segment whose file is open for writing, or -1. */
  get fileId(): number {
    return this.#wFileId;
  }

  /** Writes fail with `e` (found before any write: the disk is full at start). */
  fail(e: Error): void {
    this.#writeError = e;
    this.#writeErrorAt = this.#clock.now();
  }

  /** See `Spool.backlog`. */
  backlog(): Promise<void> | undefined {
    if (this.#backlog) return this.#backlog.promise;
    if (this.#pending + this.#chunkLen <= SPOOL_BACKLOG_HIGH_BYTES) return undefined;
    this.flush();
    let resolve!: () => void;
    const promise = new Promise<void>((r) => resolve = r);
    this.#backlog = { promise, resolve };
    return promise;
  }

  /** Appends the octet-counted frames of `data`. Never waits. */
  append(data: Uint8Array): void {
    eachFrame(data, 0, data.length, (s, e) => this.#appendRecord(data, s, e));
    this.#scheduleFlush();
  }

  /** `count` records that cannot be appended at all: dropped, and `settled` answers `false`. */
  refuse(count: number): void {
    this.#appendDrops += count;
    this.#segments.drop(count);
  }

  /** See `Spool.mark`. */
  mark(): SpoolMark {
    return { chunk: this.#chunksQueued, drops: this.#appendDrops };
  }

  /** See `Spool.settled`. */
  settled(since: SpoolMark): Promise<boolean> {
    this.flush();
    const seq = this.#chunksQueued;
    const answer = () => this.#appendDrops === since.drops && !this.#failedIn(since.chunk, seq);
    if (this.#chunksDone >= seq) return Promise.resolve(answer());
    return new Promise((resolve) => {
      this.#settledWaiters.push({ seq, resolve: () => resolve(answer()) });
    });
  }

  /** Resolves once the write loop has finished its next chunk (or the writer its work). */
  progress(): Promise<void> {
    return new Promise<void>((resolve) => this.#progressWaiters.push(resolve));
  }

  /** Hands the current chunk to the write loop. */
  flush(): void {
    if (this.#chunkLen === 0 || this.#chunkSeg === undefined) return;
    const data = this.#chunk.slice(0, this.#chunkLen);
    const seq = ++this.#chunksQueued;
    this.#queue.push({ seg: this.#chunkSeg, data, records: this.#chunkRecords, seq });
    this.#pending += data.length;
    this.#chunkLen = 0;
    this.#chunkRecords = 0;
    this.kick();
  }

  /** Starts the write loop unless it runs (also the periodic sync and checkpoint, on the tick). */
  kick(): void {
    if (this.#writing === undefined) {
      this.#writing = this.#writeLoop().finally(() => {
        this.#writing = undefined;
        // Chunks handed over while the loop was finishing (its last sync or checkpoint).
        if (this.#queue.length > 0) this.kick();
      });
    }
  }

  /** Resolves once every chunk handed to the write loop is written. */
  async idle(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  /** Resolves once the background fdatasync calls queued so far are done. */
  syncs(): Promise<void> {
    return this.#syncs;
  }

  /**
   * Writes `batches` into `seg` (new, before every other: what a stop has in
   * hand), in one segment however big, and waits until they are written.
   */
  async writeAtStop(seg: Segment, batches: Batch[]): Promise<void> {
    this.#chunkSeg = seg;
    this.#noRotate = true;
    for (const b of batches) this.append(b.data);
    this.flush();
    await this.idle();
  }

  /** fdatasync of the file open for writing, unless `sync` is `"never"`. */
  async syncFile(): Promise<void> {
    if (this.#wFile !== undefined && this.#cfg.sync !== "never") await this.#wFile.syncData();
  }

  /** `seg` was forgotten: its records still in the chunk went with it. */
  forgot(seg: Segment): void {
    if (this.#chunkSeg === seg) {
      // Its records still in the chunk buffer went with it (counted in `unread`).
      this.#chunkSeg = undefined;
      this.#chunkLen = this.#chunkRecords = 0;
    }
  }

  /** Closes the file of segment `id` if it is the one open for writing (it is gone). */
  closeFile(id: number): void {
    if (this.#wFileId !== id) return;
    try {
      this.#wFile?.close();
    } catch { /* gone */ }
    this.#wFile = undefined;
    this.#wFileId = -1;
  }

  /**
   * The spool stops: chunks never written (the disk failed under the stop) are
   * failed, so that no waiter hears `true`; every waiter is answered.
   */
  finish(): void {
    this.#finished = true;
    for (let seq = this.#chunksDone + 1; seq <= this.#chunksQueued; seq++) this.#markFailed(seq);
    try {
      this.#wFile?.close();
    } catch { /* already closed */ }
    this.#wFile = undefined;
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

  #appendRecord(src: Uint8Array, start: number, end: number): void {
    const size = HEADER + end - start;
    if (this.#pending + this.#chunkLen + size > MAX_PENDING_WRITE) {
      this.refuse(1);
      return;
    }
    const segments = this.#segments;
    while (segments.totalBytes + size > this.#cfg.maxBytes) {
      const head = segments.head;
      // A head not yet counted after a restart cannot be dropped with an exact count:
      // until the count catches up (soon), a full spool drops the new message instead.
      if (
        this.#cfg.whenFull === "drop-newest" || head === undefined || head === this.#chunkSeg ||
        head.records === undefined
      ) {
        this.refuse(1);
        return;
      }
      this.#parts.dropOldest(head);
    }
    let seg = this.#chunkSeg;
    if (
      seg === undefined || seg.deleted || (seg.bytes + size > this.#segmentBytes && !this.#noRotate)
    ) {
      this.flush();
      seg = segments.addNext();
      this.#chunkSeg = seg;
    }
    if (this.#chunkLen + size > this.#chunk.length) this.flush();
    if (size > this.#chunk.length) {
      // A message bigger than the buffers were sized for (a reload raised maxMessageSize).
      this.#chunk = new Uint8Array(size);
      this.#chunkView = new DataView(this.#chunk.buffer);
    }
    this.#chunkLen = writeRecord(this.#chunk, this.#chunkView, this.#chunkLen, src, start, end);
    this.#chunkRecords++;
    segments.appended(seg, size);
  }

  #scheduleFlush(): void {
    if (this.#chunkLen >= CHUNK_BYTES / 2) this.flush();
    else if (this.#chunkLen > 0 && !this.#flushQueued) {
      // What one read brought in goes to the write loop as one chunk, right after it.
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        this.flush();
      });
    }
  }

  async #writeLoop(): Promise<void> {
    const segments = this.#segments;
    for (;;) {
      const item = this.#queue.shift();
      if (item === undefined) break;
      this.#pending -= item.data.length;
      // Segments deleted to make room go first: the files never exceed maxBytes.
      await segments.deletions();
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
          if (segments.dirDirty) await segments.syncDir();
        } else this.#unsynced = true;
        item.seg.written += off;
        this.#parts.written(item.seg.id, item.seg.written - off, item.data);
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
      if (item.seg.deleted) await segments.unlink(item.seg.id);
      this.#settle(item.seq);
      this.#syncIfDue();
    }
    try {
      this.#syncIfDue();
      // At most once a syncIntervalMs (a file, a rename and an fsync of the directory each:
      // after every chunk, it cost spool.mode "always" a third of its CPU); not due yet, the
      // periodic tick runs the loop again in time. A stop writes it at once.
      const now = this.#clock.now();
      if (
        this.#parts.checkpoint.dirty && !this.#finished &&
        now - this.#lastCheckpoint >= this.#cfg.syncIntervalMs
      ) {
        this.#lastCheckpoint = now;
        await this.#parts.checkpoint.write();
      }
    } catch (e) {
      this.#log.warn(`spool: sync or checkpoint in ${this.#cfg.dir} failed: ${errorText(e)}`);
    }
  }

  #releaseBacklog(): void {
    if (this.#backlog && this.#pending <= SPOOL_BACKLOG_LOW_BYTES) {
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
    this.#wFile = await this.#fs.open(this.#segments.path(seg.id), "append");
    this.#wFileId = seg.id;
    if (seg.written === 0) this.#segments.dirChanged();
  }

  #syncIfDue(): void {
    const file = this.#wFile;
    const segments = this.#segments;
    if (this.#cfg.sync !== "interval" || this.#syncQueued) return;
    if (!this.#unsynced && !segments.dirDirty) return;
    const now = this.#clock.now();
    // Not due yet: the periodic tick runs the loop again in time.
    if (now - this.#lastSync < this.#cfg.syncIntervalMs) return;
    const data = this.#unsynced;
    this.#unsynced = false;
    this.#lastSync = now;
    this.#syncQueued = true;
    this.#inBackground(async () => {
      this.#syncQueued = false;
      if (data && file) await file.syncData();
      if (segments.dirDirty) await segments.syncDir();
    });
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
      await this.#parts.filesMissing();
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
    this.#segments.unappended(seg, item.data.length - keep, lost);
    this.#lostWrites += lost;
    this.#segments.drop(lost);
    if (!this.#writeError) {
      this.#log.error(
        `spool: writing to ${this.#segments.path(seg.id)} failed (${
          errorText(e)
        }); dropping ${lost} message(s) and every message that cannot be written until it works again: free space in ${this.#cfg.dir} or lower spool.maxBytes`,
      );
    }
    this.fail(e instanceof Error ? e : new Error(String(e)));
  }
}
