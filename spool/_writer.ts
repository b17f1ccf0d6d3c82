/**
 * The spool's write path: records appended into chunks, one write loop that
 * writes the chunks in order and applies the `sync` policy, the answers of
 * `settled`, and what happens when a write fails.
 *
 * The loop commits in groups: each cycle takes every chunk queued when it
 * starts, writes each run of chunks bound for one segment with one `write`,
 * and under `sync: "always"` one fdatasync (and the directory's fsync, when a
 * segment was created) covers the whole cycle; every `settled` the cycle
 * covers resolves together. While a cycle writes and syncs, the next one
 * gathers, so the cost of a sync is paid per cycle, not per read: the busier
 * the inputs, the more messages one fdatasync covers.
 *
 * @module
 */

import {
  type Batch,
  type Clock,
  closeQuietly,
  concat,
  eachFrame,
  errorText,
  type Logger,
} from "../ground/mod.ts";
import {
  SPOOL_BACKLOG_HIGH_BYTES,
  SPOOL_BACKLOG_LOW_BYTES,
  type SpoolConfig,
} from "../config/mod.ts";
import { BATCH_HEADER, completeRecords, writeBatchRecord } from "./_record.ts";
import type { Segment, Segments } from "./_segments.ts";
import type { SpoolFile, SpoolFs } from "./spool_fs.ts";

/** Bytes of a chunk handed to the write loop (a read buffer holds as many). */
export const CHUNK_BYTES = 256 * 1024;
/**
 * The most frames one record holds, in bytes (a single bigger message is a
 * record of its own): a damaged record costs at most this much, while one
 * header and one checksum still cover a read's worth of messages at a host's
 * rates (200 messages of 256 bytes).
 */
const RECORD_PAYLOAD_BYTES = 64 * 1024;
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
  /** When its first record was appended (clock ms). */
  at: number;
}

/** What was appended and is not yet durable (see {@linkcode Writer.lag}). */
export interface DurabilityLag {
  /** Records not yet durable. */
  messages: number;
  /** Their bytes, record headers included. */
  bytes: number;
  /** When the oldest of them was appended (clock ms); undefined when there are none. */
  since: number | undefined;
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
  /** When the first record of the chunk being filled was appended. */
  #chunkAt = 0;
  /** Set while `writeAtStop` writes the segment of in-hand batches, which is not split. */
  #noRotate = false;
  #queue: WriteChunk[] = [];
  /** Bytes and records of `#queue`. */
  #pending = 0;
  #pendingRecords = 0;
  /** The chunks of the cycle being written and synced, and their bytes and records. */
  #cycle: WriteChunk[] = [];
  #cycleBytes = 0;
  #cycleRecords = 0;
  /** An fdatasync of a file left in this cycle failed: the cycle's promises are not kept. */
  #cycleSyncError: unknown;
  /** A write of this cycle failed: it does not say that writing works again. */
  #cycleFailed = false;
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
  #lastFailure: { error: Error; at: number } | undefined;
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
      4 * (maxRecord + BATCH_HEADER + 16),
      Math.min(16 * 1024 * 1024, Math.floor(cfg.maxBytes / 8)),
    );
    this.#chunk = new Uint8Array(Math.max(CHUNK_BYTES, maxRecord + BATCH_HEADER + 16));
    this.#chunkView = new DataView(this.#chunk.buffer);
  }

  /**
   * The last write error and when it happened, kept after writes work again
   * (a disk that hovers at full fails and gets through by turns).
   */
  get error(): { error: Error; at: number } | undefined {
    return this.#lastFailure;
  }

  /** Whether writes fail now (since the last failure, none has got through whole). */
  get failing(): boolean {
    return this.#writeError !== undefined;
  }

  /** Bytes appended and not yet written. */
  get waiting(): number {
    return this.#pending + this.#cycleBytes + this.#chunkLen;
  }

  /**
   * What was appended and is not yet durable: not yet written, or under
   * `sync: "always"` not yet fdatasync'ed. It is what a `kill -9` (or, under
   * `always`, a power cut) of the agent would take of messages whose sender
   * was not waiting for an acknowledgement.
   */
  get lag(): DurabilityLag {
    const first = this.#cycle[0] ?? this.#queue[0];
    return {
      messages: this.#cycleRecords + this.#pendingRecords + this.#chunkRecords,
      bytes: this.waiting,
      since: first?.at ?? (this.#chunkRecords > 0 ? this.#chunkAt : undefined),
    };
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
    this.#lastFailure = { error: e, at: this.#clock.now() };
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

  /**
   * Appends `batch` as one record (its octet-counted frames as they are, no
   * parsing), or as several, split between frames, when it is bigger than
   * {@linkcode RECORD_PAYLOAD_BYTES}. Never waits.
   */
  append(batch: Batch): void {
    const data = batch.data;
    const arrival = batch.arrivedAt ?? this.#clock.now();
    const room = RECORD_PAYLOAD_BYTES;
    if (data.length <= room) {
      this.#appendRecord(data, 0, data.length, batch.count, arrival);
    } else {
      let runStart = 0;
      let count = 0;
      eachFrame(data, 0, data.length, (_s, e, frameStart) => {
        if (count > 0 && e - runStart > room) {
          this.#appendRecord(data, runStart, frameStart, count, arrival);
          runStart = frameStart;
          count = 0;
        }
        count++;
      });
      if (count > 0) this.#appendRecord(data, runStart, data.length, count, arrival);
    }
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
    const records = this.#chunkRecords;
    this.#queue.push({ seg: this.#chunkSeg, data, records, seq, at: this.#chunkAt });
    this.#pending += data.length;
    this.#pendingRecords += records;
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
    for (const b of batches) this.append(b);
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
    closeQuietly(this.#wFile);
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
    closeQuietly(this.#wFile);
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

  /** Appends one record of the `count` frames `src[start..end)`, arrived at `arrival`. */
  #appendRecord(
    src: Uint8Array,
    start: number,
    end: number,
    count: number,
    arrival: number,
  ): void {
    const size = BATCH_HEADER + end - start;
    if (this.waiting + size > MAX_PENDING_WRITE) {
      this.refuse(count);
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
        this.refuse(count);
        return;
      }
      this.#parts.dropOldest(head);
    }
    let seg = this.#chunkSeg;
    if (
      seg === undefined || seg.deleted ||
      (seg.bytes > 0 && seg.bytes + size > this.#segmentBytes && !this.#noRotate)
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
    if (this.#chunkRecords === 0) this.#chunkAt = this.#clock.now();
    this.#chunkLen = writeBatchRecord(
      this.#chunk,
      this.#chunkView,
      this.#chunkLen,
      src,
      start,
      end,
      count,
      arrival,
    );
    this.#chunkRecords += count;
    segments.appended(seg, size, count);
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
    while (this.#queue.length > 0) {
      // The cycle: everything queued now. Appends from here on gather for the next one.
      const cycle = this.#queue;
      this.#queue = [];
      this.#cycle = cycle;
      this.#cycleBytes = this.#pending;
      this.#cycleRecords = this.#pendingRecords;
      this.#pending = this.#pendingRecords = 0;
      this.#cycleSyncError = undefined;
      this.#cycleFailed = false;
      // Inputs held back by the backlog read on while this cycle is written.
      this.#releaseBacklog();
      // Segments deleted to make room go first: the files never exceed maxBytes.
      await segments.deletions();
      const written: WriteChunk[] = [];
      let first = 0;
      while (first < cycle.length) {
        const seg = cycle[first]!.seg;
        let end = first + 1;
        while (end < cycle.length && cycle[end]!.seg === seg) end++;
        await this.#writeRun(cycle.slice(first, end), written);
        first = end;
      }
      await this.#commit(written);
      this.#cycle = [];
      this.#cycleBytes = this.#cycleRecords = 0;
      this.#settle(cycle[cycle.length - 1]!.seq);
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

  /**
   * Writes `run` (chunks of one segment, in order) with one `write` call (more
   * only when the kernel takes part of it); chunks written whole join `written`,
   * the others are lost and counted.
   */
  async #writeRun(run: WriteChunk[], written: WriteChunk[]): Promise<void> {
    const seg = run[0]!.seg;
    if (seg.deleted) {
      for (const item of run) this.#markFailed(item.seq);
      return;
    }
    const data = run.length === 1 ? run[0]!.data : concat(run.map((item) => item.data));
    let off = 0;
    let failure: { error: unknown } | undefined;
    try {
      await this.#openForWrite(seg);
      while (off < data.length) off += await this.#wFile!.write(data.subarray(off));
    } catch (e) {
      failure = { error: e };
    }
    let at = 0;
    for (const item of run) {
      const got = Math.max(0, Math.min(item.data.length, off - at));
      at += item.data.length;
      if (got === item.data.length) {
        seg.written += got;
        this.#parts.written(seg.id, seg.written - got, item.data);
        written.push(item);
      } else {
        await this.#lostChunk(item, got, failure!.error, got > 0 || at - item.data.length === off);
      }
    }
    // Dropped while being written: opening it may have created the file again after its
    // deletion, which would leave dropped messages on disk, beyond maxBytes.
    if (seg.deleted) await this.#segments.unlink(seg.id);
  }

  /**
   * Makes the chunks `written` in this cycle durable as `sync` says: under
   * `"always"`, one fdatasync of the file open for writing (those of files left
   * in the cycle were synced when they were left) and the directory's fsync
   * when a segment was created, before any of them is promised.
   */
  async #commit(written: WriteChunk[]): Promise<void> {
    if (written.length === 0) return;
    if (this.#cfg.sync !== "always") {
      this.#unsynced = true;
    } else {
      try {
        if (this.#cycleSyncError !== undefined) throw this.#cycleSyncError;
        await this.#wFile?.syncData();
        // A new segment's name must be durable before its records are promised.
        if (this.#segments.dirDirty) await this.#segments.syncDir();
      } catch (e) {
        // Written but not known durable: not promised (a RELP sender resends), not counted lost.
        for (const item of written) this.#markFailed(item.seq);
        if (!this.#writeError) {
          this.#log.error(
            `spool: fdatasync in ${this.#cfg.dir} failed (${
              errorText(e)
            }); messages written since the last good sync are not acknowledged: check the disk`,
          );
        }
        this.fail(e instanceof Error ? e : new Error(String(e)));
        return;
      }
    }
    // Works again only when nothing of this cycle failed (a run may have partly got through).
    if (this.#writeError && this.#cycleSyncError === undefined && !this.#cycleFailed) {
      this.#log.info(`spool: writing to ${this.#cfg.dir} works again`);
      this.#writeError = undefined;
    }
  }

  #releaseBacklog(): void {
    if (this.#backlog && this.#pending + this.#chunkLen <= SPOOL_BACKLOG_LOW_BYTES) {
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
      if (this.#cfg.sync === "always") {
        // Part of this cycle may be in it: synced now, for the cycle's commit.
        try {
          await old.syncData();
        } catch (e) {
          this.#cycleSyncError = e;
        } finally {
          old.close();
        }
      } else {
        const sync = this.#cfg.sync !== "never";
        this.#inBackground(async () => {
          try {
            if (sync) await old.syncData();
          } finally {
            old.close();
          }
        });
      }
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

  /**
   * A chunk could not be written (`written` bytes of it were): its records are
   * dropped. `first`: the write failed in this chunk (the ones after it in the
   * same run were not tried), so a missing directory is looked into here.
   */
  async #lostChunk(item: WriteChunk, written: number, e: unknown, first: boolean): Promise<void> {
    const seg = item.seg;
    this.#cycleFailed = true;
    this.#markFailed(item.seq);
    if (first && e instanceof Deno.errors.NotFound) {
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
