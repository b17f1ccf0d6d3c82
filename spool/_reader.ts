/**
 * The spool's read path: records read back from the segment files as
 * octet-counted batches, from the chunks just written while they are still in
 * memory, and segments that cannot be read skipped.
 *
 * @module
 */

import {
  type Batch,
  type Clock,
  closeQuietly,
  errorText,
  type Logger,
  Queue,
  type SpoolPosition,
  writeOctetHeader,
} from "../ground/mod.ts";
import {
  BATCH_HEADER,
  HEADER as HEADER_V1,
  headerBytes,
  recordBytes,
  scanRecords,
} from "./_record.ts";
import type { Segment, Segments } from "./_segments.ts";
import { CHUNK_BYTES } from "./_writer.ts";
import type { SpoolFile, SpoolFs } from "./spool_fs.ts";

/** Written chunks kept in memory for the reader, so that it need not read them back. */
const CACHE_BYTES = 4 * 1024 * 1024;

/** What the reader needs from the rest of the spool. */
export interface ReaderParts {
  fs: SpoolFs;
  log: Logger;
  /** Time, for `maxAge`. */
  clock: Clock;
  /** Records older than this (ms since they reached the spool) are skipped unsent; 0: none. */
  maxAge: number;
  segments: Segments;
  /** Hands what was appended to the write loop. */
  flush(): void;
  /** Resolves once the write loop has finished its next chunk. */
  progress(): Promise<void>;
  /** A read found a file gone: the spool's files are checked. */
  filesMissing(): Promise<void>;
  /** Takes a segment out of the spool (one that cannot be read). */
  forget(seg: Segment): void;
}

/** The read position and reading from it. */
export class Reader {
  #fs: SpoolFs;
  #log: Logger;
  #segments: Segments;
  #parts: ReaderParts;
  #rSeg: Segment | undefined;
  #rOff = 0;
  #rFile: SpoolFile | undefined;
  #rFileId = -1;
  #rBase: number;
  #rBuf: Uint8Array;
  #rView: DataView;
  /**
   * Chunks written and not yet read, in the order written, up to CACHE_BYTES: the
   * reader takes them from here instead of reading the file back (a write-ahead
   * log read only after a restart, or when the reader falls further behind).
   */
  #cache = new Queue<{ segment: number; offset: number; data: Uint8Array }>();
  #cacheBytes = 0;
  #closed = false;
  /** The segment whose expired records were last logged (once per segment). */
  #expiredLogged = -1;
  /**
   * The furthest position forwarded that a rewind went back from: batches read
   * before it were forwarded once (`resent`), and none straddles it.
   */
  #replayUntil: SpoolPosition | undefined;

  /** `maxRecord`: the largest message the inputs pass on now (sizes the read buffer). */
  constructor(maxRecord: number, parts: ReaderParts) {
    this.#fs = parts.fs;
    this.#log = parts.log;
    this.#segments = parts.segments;
    this.#parts = parts;
    this.#rBase = Math.max(CHUNK_BYTES, 2 * (maxRecord + BATCH_HEADER + 16));
    this.#rBuf = new Uint8Array(this.#rBase);
    this.#rView = new DataView(this.#rBuf.buffer);
  }

  /** Bytes of the read buffer (a file is read that much at a time). */
  get bufferBytes(): number {
    return this.#rBase;
  }

  /** The segment being read (possibly deleted: reading goes on after it), if any yet. */
  get segment(): Segment | undefined {
    return this.#rSeg;
  }

  /** The offset in {@linkcode Reader.segment} of the next record to read. */
  get offset(): number {
    return this.#rOff;
  }

  /** Reads `seg` from its start. */
  enter(seg: Segment): void {
    this.#rSeg = seg;
    this.#rOff = seg.start;
  }

  /**
   * Goes back to `to` (the start of a batch read earlier, in a segment that is
   * still there, or the first one after it): what was read from there on is
   * read again, and what comes before `forwarded` is marked `resent`.
   */
  rewind(to: SpoolPosition, forwarded: SpoolPosition): void {
    const current = this.#rSeg;
    if (current === undefined || !before(to, { segment: current.id, offset: this.#rOff })) return;
    if (this.#replayUntil === undefined || before(this.#replayUntil, forwarded)) {
      this.#replayUntil = forwarded;
    }
    // Chunks cached below the read position were read from the file: never to be taken again.
    const at = { segment: current.id, offset: this.#rOff };
    for (let c = this.#cache.at(0); c !== undefined && before(c, at); c = this.#cache.at(0)) {
      this.#cache.shift();
      this.#cacheBytes -= c.data.length;
    }
    const seg = this.#segments.list.find((s) => s.id >= to.segment);
    if (seg === undefined) return;
    this.enter(seg);
    if (seg.id === to.segment) this.#rOff = Math.max(seg.start, to.offset);
  }

  /** No read position (the spool cannot be used). */
  reset(): void {
    this.#rSeg = undefined;
  }

  /** See `Spool.read`. */
  async read(): Promise<Batch | undefined> {
    const segments = this.#segments;
    for (;;) {
      if (!segments.hasUnread || this.#closed) return undefined;
      let seg = this.#rSeg;
      if (seg === undefined || seg.deleted) {
        // The one after the deleted segment: those before it were read already.
        seg = segments.after(seg?.id ?? -Infinity);
        if (seg === undefined) return undefined;
        this.enter(seg);
      }
      if (this.#rOff >= seg.written) {
        if (seg.written < seg.bytes) {
          // What is unread has not reached the disk yet: hand it to the write loop and
          // read what it writes as soon as it is written (not when the loop is idle).
          this.#parts.flush();
          await this.#parts.progress();
          continue;
        }
        const next = segments.next(seg);
        if (next === undefined) return undefined;
        this.enter(next);
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

  /** The rest of `seg`, read now (a stop puts it into a new segment); throws when it cannot. */
  async readRest(seg: Segment): Promise<Batch[]> {
    const out: Batch[] = [];
    while (this.#rSeg === seg && this.#rOff < seg.written) {
      const b = await this.#readFrom(seg);
      if (b === undefined) break;
      out.push(b);
    }
    return out;
  }

  /** `seg` was forgotten: reading goes on with the segment after it, if there is one yet. */
  forgot(seg: Segment): void {
    if (this.#rSeg !== seg) return;
    // Those before it were read already. With none yet, it stays on the deleted one:
    // `read` goes on after it.
    const next = this.#segments.after(seg.id);
    if (next) this.enter(next);
  }

  /** Closes the file of segment `id` if it is the one open for reading (it is gone). */
  closeFile(id: number): void {
    if (this.#rFileId !== id) return;
    this.#rFile?.close();
    this.#rFile = undefined;
    this.#rFileId = -1;
  }

  /** The spool stops: nothing more is read. */
  close(): void {
    this.#closed = true;
    closeQuietly(this.#rFile);
    this.#rFile = undefined;
  }

  /** Keeps a chunk just written for the reader while there is room in the cache. */
  remember(segment: number, offset: number, data: Uint8Array): void {
    if (this.#cacheBytes + data.length > CACHE_BYTES) return;
    this.#cache.push({ segment, offset, data });
    this.#cacheBytes += data.length;
  }

  /** The cached chunk at `offset` of `segment`, taken out; older ones are dropped on the way. */
  #cached(segment: number, offset: number): Uint8Array | undefined {
    for (let c = this.#cache.at(0); c !== undefined; c = this.#cache.at(0)) {
      if (c.segment > segment || (c.segment === segment && c.offset > offset)) return undefined;
      this.#cache.shift();
      this.#cacheBytes -= c.data.length;
      if (c.segment === segment && c.offset === offset) return c.data;
    }
    return undefined;
  }

  async #readFrom(seg: Segment): Promise<Batch | undefined> {
    const path = this.#segments.path(seg.id);
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
          this.#rFile = await this.#fs.open(path, "read");
          this.#rFileId = seg.id;
        }
        const file = this.#rFile;
        let want = Math.min(buf.length, seg.written - this.#rOff);
        const until = this.#replayUntil;
        if (until !== undefined && until.segment === seg.id && until.offset > this.#rOff) {
          want = Math.min(want, until.offset - this.#rOff);
        }
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
      const format = seg.format;
      // Version 2: the records' payloads are the batch, as it came in. Version 1 (an older
      // agent's spool): each record of at least 9 bytes becomes `LEN SP MSG`, at most one
      // byte longer.
      const out = new Uint8Array(format === 2 ? got : got + Math.ceil(got / (HEADER_V1 + 1)) + 16);
      let outLen = 0;
      let count = 0;
      let expired = 0;
      let arrivedAt = Infinity;
      // Older than this is expired (format 1 has no arrival: its segment's last write).
      const oldest = this.#parts.maxAge > 0 ? this.#parts.clock.now() - this.#parts.maxAge : -1;
      const src = buf;
      const res = scanRecords(format, src, view, 0, got, final, (s, e, n, arrival) => {
        const at = arrival === 0 ? seg.createdAt : arrival;
        if (at < oldest) {
          expired += n;
          return;
        }
        if (format === 1) outLen = writeOctetHeader(out, outLen, e - s);
        out.set(src.subarray(s, e), outLen);
        outLen += e - s;
        count += n;
        arrivedAt = Math.min(arrivedAt, at);
      }, cached !== undefined);
      if (res.next === 0 && !final && got >= headerBytes(format)) {
        // A record longer than the buffer (a big maxMessageSize, or a damaged length that
        // only its checksum can refute): read it whole with a buffer of its size.
        const need = recordBytes(format, view, 0);
        if (need > buf.length) {
          buf = new Uint8Array(need);
          continue;
        }
        throw new Error(`cannot parse ${path} at offset ${this.#rOff}`);
      }
      if (res.corrupt > 0) {
        this.#segments.corrupted(res.corrupt);
        this.#log.warn(
          `spool: skipped ${res.corrupt} damaged record(s) in ${path} near offset ${this.#rOff}`,
        );
      }
      if (expired > 0) this.#expired(seg, path, expired);
      const start = { segment: seg.id, offset: this.#rOff };
      this.#rOff += res.next;
      this.#segments.read(seg, count + expired);
      const end = { segment: seg.id, offset: this.#rOff };
      const until = this.#replayUntil;
      const resent = until !== undefined && before(start, until);
      if (count === 0) return undefined;
      const batch: Batch = { data: out.subarray(0, outLen), count, start, end, arrivedAt };
      if (resent) batch.resent = true;
      return batch;
    }
  }

  /**
   * `count` records of `seg` were older than `maxAge`: skipped unsent and
   * counted; logged once per segment. (Acknowledged with the next batch sent,
   * or by a stop: after a crash before either, they are skipped and counted
   * again.)
   */
  #expired(seg: Segment, path: string, count: number): void {
    this.#segments.expire(count);
    if (this.#expiredLogged === seg.id) return;
    this.#expiredLogged = seg.id;
    this.#log.warn(
      `spool: dropping messages older than spool.maxAge (${
        Math.round(this.#parts.maxAge / 1000)
      } s) from ${path} unsent (${count} so far; counted as expired)`,
    );
  }

  /** Reading `seg` failed: its file is gone (see `filesMissing`) or unreadable (skipped). */
  async #readFailed(seg: Segment, e: unknown): Promise<void> {
    this.#rFile?.close();
    this.#rFile = undefined;
    this.#rFileId = -1;
    if (e instanceof Deno.errors.NotFound) {
      await this.#parts.filesMissing();
      return;
    }
    const segments = this.#segments;
    const lost = segments.unreadIn(seg);
    this.#log.error(
      `spool: cannot read ${segments.path(seg.id)} (${
        errorText(e)
      }); skipping its ${lost} unread message(s): check the file and the disk`,
    );
    segments.corrupted(lost);
    this.#parts.forget(seg);
  }
}

/** Whether position `a` comes before `b`. */
function before(a: SpoolPosition, b: SpoolPosition): boolean {
  return a.segment < b.segment || (a.segment === b.segment && a.offset < b.offset);
}
