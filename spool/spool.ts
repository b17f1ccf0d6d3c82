/**
 * The durable on-disk queue.
 *
 * @module
 */

import type { Batch, SpoolPosition } from "../relay/batch.ts";
import type { SpoolConfig } from "../config/config.ts";
import type { Logger } from "../control/logger.ts";
import { completeRecords, HEADER, scanRecords, writeRecord } from "./_record.ts";
import { eachFrame, writeOctetHeader } from "../relay/_octet.ts";

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

interface Segment {
  id: number;
  /** Bytes appended, written or not. */
  bytes: number;
  /** Bytes on disk (written by the write loop). */
  written: number;
  /** Good records from `start` on. */
  records: number;
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
  /** Records dropped because the spool was full. */
  dropped: number;
  /** Damaged records skipped (a torn tail, a failed checksum). */
  corrupt: number;
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
 * @example
 * ```ts
 * const spool = await Spool.open(config.spool, 65536, log);
 * spool.append(batch);
 * const out = await spool.read();
 * if (out) spool.ack(out.end!);
 * await spool.close([]);
 * ```
 */
export class Spool {
  #cfg: SpoolConfig;
  #log: Logger;
  #maxRecord: number;
  #segmentBytes: number;
  #segments: Segment[] = [];
  #nextId: number;
  #totalBytes = 0;
  #unread = 0;
  #dropped = 0;
  #corrupt = 0;
  /** Called with the number of records each time records are dropped. */
  onDrop: (count: number) => void = () => {};

  // Reader.
  #rSeg: Segment | undefined;
  #rOff = 0;
  #rRecords = 0;
  #rFile: Deno.FsFile | undefined;
  #rFileId = -1;
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
  #wFile: Deno.FsFile | undefined;
  #wFileId = -1;
  #unsynced = false;
  #lastSync = 0;
  /**
   * fdatasync calls, one after the other, beside the write loop: a sync of a
   * file with much dirty data takes long, and writes (so inputs) must not wait
   * for it (except with `sync: "always"`, which asks for exactly that).
   */
  #syncs: Promise<void> = Promise.resolve();
  #syncQueued = false;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #backlog: { promise: Promise<void>; resolve: () => void } | undefined;
  #tickTimer: ReturnType<typeof setInterval> | undefined;
  /** Set while writes fail (disk full, I/O error); cleared by the next good write. */
  #writeError: Error | undefined;
  /** Chunks handed to the write loop, and how many of them it has finished. */
  #chunksQueued = 0;
  #chunksDone = 0;
  /** Callers of `settled`, each waiting for the write loop to finish chunk `seq`. */
  #settledWaiters: { seq: number; resolve: () => void }[] = [];

  // Acknowledged position and its checkpoint file.
  #ackSeg = -1;
  #ackOff = 0;
  #checkpointDirty = false;
  #meta: Promise<void> = Promise.resolve();

  private constructor(cfg: SpoolConfig, maxRecord: number, log: Logger) {
    this.#cfg = cfg;
    this.#log = log;
    this.#maxRecord = maxRecord;
    this.#segmentBytes = Math.max(
      4 * (maxRecord + HEADER),
      Math.min(16 * 1024 * 1024, Math.floor(cfg.maxBytes / 8)),
    );
    const readBytes = Math.max(CHUNK_BYTES, 2 * (maxRecord + HEADER));
    this.#rBuf = new Uint8Array(readBytes);
    this.#rView = new DataView(this.#rBuf.buffer);
    this.#chunk = new Uint8Array(Math.max(CHUNK_BYTES, maxRecord + HEADER));
    this.#chunkView = new DataView(this.#chunk.buffer);
    this.#nextId = FIRST_ID;
  }

  /**
   * Opens (creating it if needed) and recovers the spool in `cfg.dir`: a torn
   * last record is cut off and counted; damaged records further in are skipped
   * and counted when read.
   *
   * @param maxRecord the largest message any input passes on
   */
  static async open(cfg: SpoolConfig, maxRecord: number, log: Logger): Promise<Spool> {
    const spool = new Spool(cfg, maxRecord, log);
    await spool.#recover();
    // Periodic sync (sync: "interval") and checkpoint writes ride on the write loop.
    spool.#tickTimer = setInterval(() => spool.#kick(), cfg.syncIntervalMs);
    return spool;
  }

  /** Figures for status. */
  stats(now = Date.now()): SpoolStats {
    // Before the first read there is no read segment yet: the oldest is the first one.
    const head = this.#unread > 0 ? this.#rSeg ?? this.#segments[0] : undefined;
    return {
      messages: this.#unread,
      bytes: this.#totalBytes,
      oldestAgeSeconds: head ? Math.max(0, Math.floor((now - head.createdAt) / 1000)) : 0,
      dropped: this.#dropped,
      corrupt: this.#corrupt,
    };
  }

  /** Whether records are waiting to be read. */
  get hasUnread(): boolean {
    return this.#unread > 0;
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
    eachFrame(data, 0, data.length, (s, e) => this.#appendRecord(data, s, e));
    this.#scheduleFlush();
  }

  /**
   * Resolves once every record appended so far is written to its segment file,
   * and fdatasync'ed when `sync` is `"always"` (`"interval"` syncs within
   * `syncIntervalMs` after, `"never"` leaves it to the OS): from then on the
   * records survive the agent being killed. The RELP input acknowledges
   * messages only then. Records that could not be written (dropped and
   * counted) settle too.
   */
  settled(): Promise<void> {
    this.#flushChunk();
    const seq = this.#chunksQueued;
    if (this.#chunksDone >= seq) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push({ seq, resolve }));
  }

  /**
   * The next run of unread records (about 256 KiB) as a batch whose `end` is the
   * position to {@linkcode ack} once it is delivered; `undefined` when there is
   * nothing to read.
   */
  async read(): Promise<Batch | undefined> {
    for (;;) {
      if (this.#unread === 0) return undefined;
      let seg = this.#rSeg;
      if (seg === undefined || seg.deleted) {
        seg = this.#segments[0];
        if (seg === undefined) return undefined;
        this.#enter(seg);
      }
      if (this.#rOff >= seg.written) {
        if (seg.written < seg.bytes) {
          // What is unread has not reached the disk yet: write it now.
          this.#flushChunk();
          await this.#idle();
          continue;
        }
        const next = this.#segments[this.#segments.indexOf(seg) + 1];
        if (next === undefined) return undefined;
        this.#enter(next);
        continue;
      }
      const batch = await this.#readFrom(seg);
      if (batch !== undefined) return batch;
    }
  }

  /** Marks everything up to `pos` delivered: whole segments before it are deleted. */
  ack(pos: SpoolPosition): void {
    if (
      pos.segment < this.#ackSeg || (pos.segment === this.#ackSeg && pos.offset <= this.#ackOff)
    ) {
      return;
    }
    this.#ackSeg = pos.segment;
    this.#ackOff = pos.offset;
    this.#checkpointDirty = true;
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
   * but not delivered, oldest first) goes into a segment placed before all
   * others, the checkpoint is set to the read position and written, and every
   * file is synced. The spool cannot be used afterwards.
   */
  async close(inHand: Batch[]): Promise<void> {
    if (this.#tickTimer !== undefined) clearInterval(this.#tickTimer);
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushChunk();
    await this.#idle();
    const rSeg = this.#rSeg;
    // Everything before the read position was delivered or is in `inHand`.
    for (const seg of [...this.#segments]) {
      if (rSeg !== undefined && seg.id < rSeg.id) this.#remove(seg, 0);
    }
    const firstId = this.#segments[0]?.id ?? this.#nextId;
    if (inHand.some((b) => b.count > 0)) {
      const seg = this.#newSegment(firstId - 1);
      this.#segments.unshift(seg);
      this.#chunkSeg = seg;
      this.#noRotate = true;
      for (const b of inHand) this.append(b);
      this.#flushChunk();
      await this.#idle();
    }
    if (rSeg !== undefined && !rSeg.deleted) {
      this.#ackSeg = rSeg.id;
      this.#ackOff = this.#rOff;
    } else {
      this.#ackSeg = this.#segments[0]?.id ?? this.#nextId;
      this.#ackOff = 0;
    }
    this.#checkpointDirty = true;
    await this.#syncs;
    if (this.#wFile) {
      if (this.#cfg.sync !== "never") await this.#wFile.syncData();
      this.#wFile.close();
      this.#wFile = undefined;
    }
    this.#rFile?.close();
    this.#rFile = undefined;
    await this.#writeCheckpoint();
    this.#settle(Infinity);
  }

  /** The write loop finished chunk `seq` (and every one before it). */
  #settle(seq: number): void {
    this.#chunksDone = Math.max(this.#chunksDone, seq);
    const waiters = this.#settledWaiters;
    while (waiters.length > 0 && waiters[0]!.seq <= this.#chunksDone) waiters.shift()!.resolve();
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
      start: 0,
      createdAt: Date.now(),
      deleted: false,
    };
  }

  #appendRecord(src: Uint8Array, start: number, end: number): void {
    const size = HEADER + end - start;
    if (this.#pending + this.#chunkLen + size > MAX_PENDING_WRITE) {
      this.#drop(1);
      return;
    }
    while (this.#totalBytes + size > this.#cfg.maxBytes) {
      const head = this.#segments[0];
      if (this.#cfg.whenFull === "drop-newest" || head === undefined || head === this.#chunkSeg) {
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
    this.#chunkLen = writeRecord(this.#chunk, this.#chunkView, this.#chunkLen, src, start, end);
    this.#chunkRecords++;
    seg.bytes += size;
    seg.records++;
    this.#totalBytes += size;
    this.#unread++;
  }

  #drop(count: number): void {
    if (count === 0) return;
    this.#dropped += count;
    this.onDrop(count);
  }

  /** Records of `seg` not yet read. */
  #unreadIn(seg: Segment): number {
    if (this.#rSeg === seg) return seg.records - this.#rRecords;
    if (this.#rSeg !== undefined && !this.#rSeg.deleted && seg.id < this.#rSeg.id) return 0;
    return seg.records;
  }

  /** Deletes a segment; `dropped` of its records were never read. */
  #remove(seg: Segment, dropped: number): void {
    seg.deleted = true;
    this.#segments.splice(this.#segments.indexOf(seg), 1);
    this.#totalBytes -= seg.bytes;
    this.#unread -= dropped;
    this.#drop(dropped);
    if (this.#rSeg === seg) {
      const next = this.#segments[0];
      if (next) this.#enter(next);
      else this.#rSeg = undefined;
    }
    const path = this.#path(seg.id);
    this.#meta = this.#meta.then(() =>
      Deno.remove(path).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) {
          this.#log.warn(`spool: could not delete ${path}: ${e.message}`);
        }
      })
    );
  }

  #enter(seg: Segment): void {
    this.#rSeg = seg;
    this.#rOff = seg.start;
    this.#rRecords = 0;
  }

  async #readFrom(seg: Segment): Promise<Batch | undefined> {
    if (this.#rFileId !== seg.id) {
      this.#rFile?.close();
      this.#rFile = await Deno.open(this.#path(seg.id), { read: true });
      this.#rFileId = seg.id;
    }
    const file = this.#rFile!;
    const want = Math.min(this.#rBuf.length, seg.written - this.#rOff);
    await file.seek(this.#rOff, Deno.SeekMode.Start);
    let got = 0;
    while (got < want) {
      const n = await file.read(this.#rBuf.subarray(got, want));
      if (n === null) break;
      got += n;
    }
    if (seg.deleted || this.#rSeg !== seg) return undefined; // dropped while we read
    const final = this.#rOff + got >= seg.written;
    // The batch holds each payload framed as `LEN SP MSG`: at most 11 bytes more than a record's 8.
    // Each record of at least 9 bytes becomes `LEN SP MSG`, at most one byte longer.
    const out = new Uint8Array(got + Math.ceil(got / (HEADER + 1)) + 16);
    let outLen = 0;
    let count = 0;
    const buf = this.#rBuf;
    const res = scanRecords(buf, this.#rView, 0, got, this.#maxRecord, final, (s, e) => {
      outLen = writeOctetHeader(out, outLen, e - s);
      out.set(buf.subarray(s, e), outLen);
      outLen += e - s;
      count++;
    });
    if (res.corrupt > 0) {
      this.#corrupt += res.corrupt;
      this.#log.warn(
        `spool: skipped ${res.corrupt} damaged record(s) in ${
          this.#path(seg.id)
        } near offset ${this.#rOff}`,
      );
    }
    if (res.next === 0 && !final) {
      throw new Error(`spool: cannot parse ${this.#path(seg.id)} at offset ${this.#rOff}`);
    }
    this.#rOff += res.next;
    this.#rRecords += count;
    this.#unread -= count;
    if (count === 0) return undefined;
    return {
      data: out.subarray(0, outLen),
      count,
      end: { segment: seg.id, offset: this.#rOff },
    };
  }

  #scheduleFlush(): void {
    if (this.#chunkLen >= CHUNK_BYTES / 2) this.#flushChunk();
    else if (this.#chunkLen > 0 && this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = undefined;
        this.#flushChunk();
      }, 0);
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
        this.#settle(item.seq);
        continue;
      }
      let off = 0;
      try {
        await this.#openForWrite(item.seg);
        while (off < item.data.length) off += await this.#wFile!.write(item.data.subarray(off));
        if (this.#cfg.sync === "always") await this.#wFile!.syncData();
        else this.#unsynced = true;
        item.seg.written += off;
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
      if (item.seg.deleted) await Deno.remove(this.#path(item.seg.id)).catch(() => {});
      this.#settle(item.seq);
      this.#syncIfDue();
    }
    try {
      this.#syncIfDue();
      if (this.#checkpointDirty) await this.#writeCheckpoint();
    } catch (e) {
      this.#log.warn(`spool: sync or checkpoint in ${this.#cfg.dir} failed: ${errorText(e)}`);
    }
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
        if (sync) await old.syncData();
        old.close();
      });
    }
    this.#wFile = await Deno.open(this.#path(seg.id), { write: true, create: true, append: true });
    this.#wFileId = seg.id;
  }

  #syncIfDue(): void {
    const file = this.#wFile;
    if (!this.#unsynced || this.#cfg.sync !== "interval" || !file || this.#syncQueued) return;
    const now = Date.now();
    // Not due yet: the periodic tick runs the loop again in time.
    if (now - this.#lastSync < this.#cfg.syncIntervalMs) return;
    this.#unsynced = false;
    this.#lastSync = now;
    this.#syncQueued = true;
    this.#inBackground(async () => {
      this.#syncQueued = false;
      await file.syncData();
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
    const lost = item.records - kept;
    seg.written += keep;
    seg.bytes -= item.data.length - keep;
    this.#totalBytes -= item.data.length - keep;
    seg.records -= lost;
    this.#unread -= lost;
    this.#drop(lost);
    if (!this.#writeError) {
      this.#log.error(
        `spool: writing to ${this.#path(seg.id)} failed (${
          errorText(e)
        }); dropping ${lost} message(s) and every message that cannot be written until it works again: free space in ${this.#cfg.dir} or lower spool.maxBytes`,
      );
    }
    this.#writeError = e instanceof Error ? e : new Error(String(e));
  }

  async #writeCheckpoint(): Promise<void> {
    this.#checkpointDirty = false;
    const text = JSON.stringify({ segment: this.#ackSeg, offset: this.#ackOff });
    const path = `${this.#cfg.dir}/${CHECKPOINT}`;
    // Deletions queued before this checkpoint happen first (see `#recover`).
    await this.#meta;
    await Deno.writeTextFile(`${path}.tmp`, text);
    await Deno.rename(`${path}.tmp`, path);
  }

  async #recover(): Promise<void> {
    const dir = this.#cfg.dir;
    await Deno.mkdir(dir, { recursive: true });
    let cp = { segment: -1, offset: 0 };
    try {
      const parsed = JSON.parse(await Deno.readTextFile(`${dir}/${CHECKPOINT}`));
      if (Number.isSafeInteger(parsed.segment) && Number.isSafeInteger(parsed.offset)) cp = parsed;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        this.#log.warn(
          `spool: ignoring unreadable ${dir}/${CHECKPOINT} (${e}); resending from the start`,
        );
      }
    }
    const ids: number[] = [];
    for await (const entry of Deno.readDir(dir)) {
      const m = /^(\d{16})\.seg$/.exec(entry.name);
      if (entry.isFile && m) ids.push(Number(m[1]));
    }
    ids.sort((a, b) => a - b);
    // Rules (the writer keeps them): segments before the checkpoint's are undelivered
    // segments written at a stop; the checkpoint's is undelivered from its offset on.
    for (const [i, id] of ids.entries()) {
      const path = this.#path(id);
      const info = await Deno.stat(path);
      const seg = this.#newSegment(id);
      seg.bytes = seg.written = info.size;
      seg.createdAt = info.mtime?.getTime() ?? Date.now();
      seg.start = id === cp.segment ? Math.min(cp.offset, info.size) : 0;
      const { records, goodEnd, corrupt } = await this.#count(path, seg.start, info.size);
      seg.records = records;
      if (i === ids.length - 1 && goodEnd < info.size && corrupt > 0) {
        // A torn tail from a write cut short: cut it off.
        await Deno.truncate(path, goodEnd);
        seg.bytes = seg.written = goodEnd;
        this.#corrupt++;
        this.#log.warn(`spool: cut a torn record off the end of ${path} at offset ${goodEnd}`);
      }
      if (seg.records === 0 && seg.start >= seg.bytes) {
        await Deno.remove(path);
        continue;
      }
      this.#segments.push(seg);
      this.#totalBytes += seg.bytes;
      this.#unread += seg.records;
    }
    this.#nextId = Math.max(FIRST_ID, (ids[ids.length - 1] ?? 0) + 1);
    const first = this.#segments[0];
    if (first) this.#enter(first);
    if (this.#unread > 0) {
      this.#log.info(
        `spool: recovered ${this.#unread} message(s) in ${this.#segments.length} segment(s) from ${dir}`,
      );
    }
  }

  /** Counts the good records of a segment file from `start`, and where the last one ends. */
  async #count(
    path: string,
    start: number,
    size: number,
  ): Promise<{ records: number; goodEnd: number; corrupt: number }> {
    using file = await Deno.open(path, { read: true });
    await file.seek(start, Deno.SeekMode.Start);
    const buf = this.#rBuf;
    let off = start;
    let fill = 0;
    let records = 0;
    let corrupt = 0;
    let goodEnd = start;
    for (;;) {
      const n = await file.read(buf.subarray(fill));
      if (n !== null) fill += n;
      const final = n === null || off + fill >= size;
      const base = off;
      const res = scanRecords(buf, this.#rView, 0, fill, this.#maxRecord, final, (_s, e) => {
        records++;
        goodEnd = base + e;
      });
      corrupt += res.corrupt;
      if (final) break;
      buf.copyWithin(0, res.next, fill);
      off += res.next;
      fill -= res.next;
    }
    return { records, goodEnd, corrupt };
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
