/**
 * The spool's segments: the list of segment files, their ids and names, the
 * figures kept over them (bytes, unread records, drops, damage), their
 * deletion, and whether the directory's entries are durable.
 *
 * @module
 */

import { type Clock, errorText, type Logger } from "../ground/mod.ts";
import type { RecordFormat } from "./_record.ts";
import type { SpoolFs } from "./spool_fs.ts";

const SEGMENT_SUFFIX = ".seg";
/** Ids start high so that segments can be put in front of the first one (see `Spool.close`). */
const FIRST_ID = 1_000_000_000_000;

/** One segment file, as the spool accounts for it. */
export interface Segment {
  /** Its number, in its file name (ascending: oldest first). */
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
  /** Taken out of the spool (its file deleted or gone). */
  deleted: boolean;
  /** Its records' format: 2 for every segment this agent writes, 1 for an older agent's. */
  format: RecordFormat;
}

/** The segments of a spool directory, oldest first, and the figures over them. */
export class Segments {
  #dir: string;
  #fs: SpoolFs;
  #log: Logger;
  #clock: Clock;
  #onDrop: (count: number) => void;
  #list: Segment[] = [];
  #nextId = FIRST_ID;
  /** The lowest segment id this spool has seen: segments written at a stop go below it. */
  #lowestId = FIRST_ID;
  #totalBytes = 0;
  /** Unread records of counted segments. */
  #unread = 0;
  /** Unread bytes of segments not yet counted after a restart. */
  #uncounted = 0;
  #dropped = 0;
  #expired = 0;
  #corrupt = 0;
  /** Deletions queued by {@linkcode Segments.remove}, one after the other. */
  #deletions: Promise<void> = Promise.resolve();
  /** An entry of the directory was created, renamed or removed since it was last fsynced. */
  #dirDirty = false;

  /** `onDrop` hears every count added to (or taken back from) `dropped`. */
  constructor(
    dir: string,
    fs: SpoolFs,
    log: Logger,
    clock: Clock,
    onDrop: (count: number) => void,
  ) {
    this.#dir = dir;
    this.#fs = fs;
    this.#log = log;
    this.#clock = clock;
    this.#onDrop = onDrop;
  }

  /** The segments, oldest first. */
  get list(): readonly Segment[] {
    return this.#list;
  }

  /** The oldest segment. */
  get head(): Segment | undefined {
    return this.#list[0];
  }

  /** The newest segment. */
  get tail(): Segment | undefined {
    return this.#list[this.#list.length - 1];
  }

  /** The first segment with an id above `id`. */
  after(id: number): Segment | undefined {
    return this.#list.find((s) => s.id > id);
  }

  /** The segment that follows `seg` in the list. */
  next(seg: Segment): Segment | undefined {
    return this.#list[this.#list.indexOf(seg) + 1];
  }

  /** The id the next new segment gets. */
  get nextId(): number {
    return this.#nextId;
  }

  /** Bytes of the segment files (appended, written or not). */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** Unread records of counted segments. */
  get unread(): number {
    return this.#unread;
  }

  /** Whether records are waiting to be read. */
  get hasUnread(): boolean {
    return this.#unread > 0 || this.#uncounted > 0;
  }

  /** Unread records, those of segments not yet counted estimated. */
  get messages(): number {
    return this.#unread + estimate(this.#uncounted);
  }

  /** Records dropped so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Records expired (older than `maxAge` when their turn came) so far. */
  get expired(): number {
    return this.#expired;
  }

  /** Counts `count` records as expired. */
  expire(count: number): void {
    this.#expired += count;
  }

  /** Damaged records skipped so far. */
  get corrupt(): number {
    return this.#corrupt;
  }

  /** The path of segment `id`. */
  path(id: number): string {
    return `${this.#dir}/${String(id).padStart(16, "0")}${SEGMENT_SUFFIX}`;
  }

  /** A new, empty segment after every other. */
  addNext(): Segment {
    const seg = this.#newSegment(this.#nextId++);
    this.#list.push(seg);
    return seg;
  }

  /** A new, empty segment before every other (for what a stop has in hand). */
  addFirst(): Segment {
    const seg = this.#newSegment(--this.#lowestId);
    this.#list.unshift(seg);
    return seg;
  }

  /** Adds a segment found at start (the newest last); uncounted while `records` is undefined. */
  addRecovered(seg: Segment): void {
    if (seg.records === undefined) this.#uncounted += seg.bytes - seg.start;
    else this.#unread += seg.records;
    this.#list.push(seg);
    this.#totalBytes += seg.bytes;
  }

  /** After recovery: new segments go after every id in `known`, those of a stop before them. */
  knownIds(known: number[]): void {
    this.#nextId = Math.max(FIRST_ID, ...known.map((id) => id + 1));
    this.#lowestId = Math.min(FIRST_ID, ...known);
  }

  /** A segment found at start is counted: `records` good ones. */
  counted(seg: Segment, records: number): void {
    this.#uncounted -= seg.bytes - seg.start;
    seg.records = records;
    this.#unread += Math.max(0, records - seg.read);
  }

  /** A segment found at start cannot be counted: skipped (counted as damaged). */
  uncountable(seg: Segment): void {
    this.#corrupt++;
    this.#uncounted -= seg.bytes - seg.start;
    seg.records = seg.read;
  }

  /** The directory cannot be used: no segments. */
  clear(): void {
    this.#list = [];
    this.#totalBytes = this.#unread = this.#uncounted = 0;
  }

  /** A record of `bytes` was appended to `seg`. */
  appended(seg: Segment, bytes: number, messages: number): void {
    seg.bytes += bytes;
    seg.records! += messages;
    this.#totalBytes += bytes;
    this.#unread += messages;
  }

  /** `bytes` appended to `seg`, holding `records` records, never reached its file. */
  unappended(seg: Segment, bytes: number, records: number): void {
    seg.bytes -= bytes;
    this.#totalBytes -= bytes;
    seg.records! -= records;
    this.#unread -= records;
  }

  /** `count` records of `seg` were read. */
  read(seg: Segment, count: number): void {
    seg.read += count;
    if (seg.records !== undefined) this.#unread -= count;
  }

  /** `count` records of `seg`, read before, are to be read again (a rewind). */
  reread(seg: Segment, count: number): void {
    seg.read -= count;
    if (seg.records !== undefined) this.#unread += count;
  }

  /** Records of `seg` not yet read (estimated while it is not counted). */
  unreadIn(seg: Segment): number {
    if (seg.records === undefined) return Math.max(0, estimate(seg.bytes - seg.start) - seg.read);
    return seg.records - seg.read;
  }

  /** Counts `count` records as dropped. */
  drop(count: number): void {
    if (count === 0) return;
    this.#dropped += count;
    this.#onDrop(count);
  }

  /** Takes back `count` records counted as dropped: they stay in the spool and are resent. */
  resent(count: number): void {
    this.#dropped -= count;
    this.#onDrop(-count);
  }

  /** Counts `count` damaged records. */
  corrupted(count: number): void {
    this.#corrupt += count;
  }

  /** Takes `seg` out of the list and the figures; returns its unread records. */
  forget(seg: Segment): number {
    seg.deleted = true;
    const i = this.#list.indexOf(seg);
    if (i >= 0) this.#list.splice(i, 1);
    this.#totalBytes -= seg.bytes;
    const unread = this.unreadIn(seg);
    if (seg.records === undefined) this.#uncounted -= seg.bytes - seg.start;
    else this.#unread -= seg.records - seg.read;
    return unread;
  }

  /** Deletes the file of a forgotten segment once the deletions queued before it are done. */
  remove(id: number): void {
    this.#deletions = this.#deletions.then(() => this.unlink(id));
  }

  /** Resolves once every deletion queued so far is done. */
  deletions(): Promise<void> {
    return this.#deletions;
  }

  /** Deletes the file of segment `id` now; a failure is logged. */
  async unlink(id: number): Promise<void> {
    const path = this.path(id);
    try {
      await this.#fs.remove(path);
      this.#dirDirty = true;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        this.#log.warn(`spool: could not delete ${path}: ${errorText(e)}`);
      }
    }
  }

  /** Whether an entry of the directory changed since it was last fsynced. */
  get dirDirty(): boolean {
    return this.#dirDirty;
  }

  /** An entry of the directory was created or renamed. */
  dirChanged(): void {
    this.#dirDirty = true;
  }

  /** fsync of the directory. */
  async syncDir(): Promise<void> {
    this.#dirDirty = false;
    try {
      await this.#fs.syncDir(this.#dir);
    } catch (e) {
      this.#dirDirty = true;
      throw e;
    }
  }

  /**
   * The segments among `look` whose files are gone (every written one when
   * the directory is), and whether the directory is; none when the directory
   * cannot be looked at (not a NotFound: nothing can be told).
   */
  async missing(look: readonly Segment[]): Promise<{ missing: Segment[]; dirGone: boolean }> {
    let dirGone = false;
    try {
      await this.#fs.stat(this.#dir);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) return { missing: [], dirGone };
      dirGone = true;
    }
    const missing: Segment[] = [];
    for (const seg of dirGone ? [...this.#list] : look) {
      if (seg.written === 0 || seg.deleted) continue; // not created yet
      if (dirGone) {
        missing.push(seg);
        continue;
      }
      try {
        await this.#fs.stat(this.path(seg.id));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) missing.push(seg);
      }
    }
    return { missing, dirGone };
  }

  #newSegment(id: number): Segment {
    return {
      id,
      bytes: 0,
      written: 0,
      records: 0,
      read: 0,
      start: 0,
      createdAt: this.#clock.now(),
      deleted: false,
      format: 2,
    };
  }
}

/** Messages in `bytes` of records not yet counted, estimated (256-byte messages, framed). */
function estimate(bytes: number): number {
  return bytes === 0 ? 0 : Math.max(1, Math.round(bytes / 262));
}
