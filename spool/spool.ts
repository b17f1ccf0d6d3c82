/**
 * The durable on-disk queue.
 *
 * `Spool` composes the parts of `spool/`: the segments and their figures
 * (`_segments.ts`), the write path (`_writer.ts`), the read path
 * (`_reader.ts`), the acknowledged position (`_checkpoint.ts`) and recovery
 * at start (`_recover.ts`). It owns what involves several of them: a segment
 * taken out, the check that the files are still there, the stop.
 *
 * @module
 */

import {
  type Batch,
  type Clock,
  errorText,
  type Logger,
  type SpoolPosition,
  systemClock,
} from "../ground/mod.ts";
import { SPOOL_FILES_CHECK_MS, type SpoolConfig } from "../config/mod.ts";
import { Checkpoint } from "./_checkpoint.ts";
import { isNoSpace } from "./_no_space.ts";
import { Reader } from "./_reader.ts";
import { recover } from "./_recover.ts";
import { type Segment, Segments } from "./_segments.ts";
import { type SpoolMark, Writer } from "./_writer.ts";
import { denoFs, type SpoolFs } from "./spool_fs.ts";

export type { SpoolMark } from "./_writer.ts";

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
  /** Records dropped from the head unsent, older than `spool.maxAge`. */
  expired: number;
  /** Damaged records skipped (a torn tail, a failed checksum). */
  corrupt: number;
  /**
   * The durability lag: messages appended and not yet durable (not yet written,
   * or not yet fdatasync'ed under `sync: "always"`), their bytes, and the age of
   * the oldest of them in seconds (ms precision; 0 when none). For inputs that
   * do not acknowledge, what a `kill -9` of the agent can take.
   */
  lag: { messages: number; bytes: number; ageSeconds: number };
}

/** Options of {@linkcode Spool.open}. */
export interface SpoolOptions {
  /** The file system (tests: a model of one). */
  fs?: SpoolFs;
  /** Time and timers: the periodic tick, ages, when things happened (default `systemClock`). */
  clock?: Clock;
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
 *   whenFull: "drop-oldest", sync: "interval", syncIntervalMs: 200, maxDrainRate: 0, maxAge: 0,
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
  #clock: Clock;
  #segments: Segments;
  #checkpoint: Checkpoint;
  #writer: Writer;
  #reader: Reader;
  /** Why the spool cannot be used (memory only), or undefined. */
  #unusable: string | undefined;
  /** The last files-removed event, for status. */
  #removedNote: { at: number; text: string } | undefined;
  #tickTimer: unknown;
  #checking = false;
  /** When the files were last looked at (the tick does it every SPOOL_FILES_CHECK_MS). */
  #checkedAt: number;
  #closed = false;
  /** Resolves once every segment recovered at start is counted. */
  #counting: Promise<void> = Promise.resolve();
  /** Called with the number of records each time records are dropped. */
  onDrop: (count: number) => void = () => {};

  private constructor(
    cfg: SpoolConfig,
    maxRecord: number,
    log: Logger,
    fs: SpoolFs,
    clock: Clock,
  ) {
    this.#cfg = cfg;
    this.#log = log;
    this.#fs = fs;
    this.#clock = clock;
    this.#checkedAt = clock.now();
    const segments = new Segments(cfg.dir, fs, log, clock, (n) => this.onDrop(n));
    this.#segments = segments;
    this.#checkpoint = new Checkpoint(cfg.dir, fs, segments);
    const filesMissing = () => this.#checkFiles(true);
    this.#writer = new Writer(cfg, maxRecord, {
      fs,
      log,
      clock,
      segments,
      checkpoint: this.#checkpoint,
      dropOldest: (seg) => this.#remove(seg, segments.unreadIn(seg)),
      filesMissing,
      written: (segment, offset, data) => this.#reader.remember(segment, offset, data),
    });
    this.#reader = new Reader(maxRecord, {
      fs,
      log,
      clock,
      maxAge: cfg.maxAge,
      segments,
      flush: () => this.#writer.flush(),
      progress: () => this.#writer.progress(),
      filesMissing,
      forget: (seg) => this.#forget(seg),
    });
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
    const spool = new Spool(cfg, maxRecord, log, opts.fs ?? denoFs, opts.clock ?? systemClock);
    try {
      const found = await recover(cfg.dir, {
        fs: spool.#fs,
        log,
        clock: spool.#clock,
        segments: spool.#segments,
        bufferBytes: spool.#reader.bufferBytes,
        diskFull: (e) => spool.#writer.fail(e),
        closed: () => spool.#closed,
      });
      spool.#checkpoint.set(found.checkpoint);
      const first = spool.#segments.head;
      if (first) spool.#reader.enter(first);
      spool.#counting = found.counting;
    } catch (e) {
      spool.#unusable = `${cfg.dir}: ${errorText(e)}`;
      spool.#segments.clear();
      spool.#reader.reset();
      log.error(
        `spool: cannot use ${cfg.dir} (${
          errorText(e)
        }); relaying from memory only, nothing is kept across a restart: fix the directory (owner, mode, mount) and restart the agent`,
      );
    }
    // Periodic sync (sync: "interval"), checkpoint writes and the check that the
    // files are still there (every SPOOL_FILES_CHECK_MS) ride on this tick.
    spool.#scheduleTick();
    return spool;
  }

  /** Figures for status. */
  stats(now: number = this.#clock.now()): SpoolStats {
    const messages = this.#segments.messages;
    const lag = this.#writer.lag;
    // Before the first read there is no read segment yet: the oldest is the first one.
    const r = this.#reader.segment;
    const head = messages > 0
      ? (r !== undefined && !r.deleted ? r : this.#segments.head)
      : undefined;
    return {
      messages,
      bytes: this.#segments.totalBytes,
      oldestAgeSeconds: head ? Math.max(0, Math.floor((now - head.createdAt) / 1000)) : 0,
      dropped: this.#segments.dropped,
      expired: this.#segments.expired,
      corrupt: this.#segments.corrupt,
      lag: {
        messages: lag.messages,
        bytes: lag.bytes,
        ageSeconds: lag.since === undefined ? 0 : Math.max(0, now - lag.since) / 1000,
      },
    };
  }

  /**
   * What is wrong with the spool for status, most severe first: unusable (memory
   * only), writes failing (disk full), files removed in the last 10 minutes;
   * `critical` tells which of them make the agent's state critical.
   */
  problem(now: number = this.#clock.now()): { text: string; critical: boolean } | undefined {
    if (this.#unusable !== undefined) {
      return { text: `spool unusable, memory only: ${this.#unusable}`, critical: true };
    }
    // A write that failed in the last minute; after that, only while writes are waiting (in
    // fallback mode a collector back up means no writes, and nothing to be critical about).
    const failure = this.#writer.error;
    const writer = this.#writer;
    if (
      failure !== undefined && (now - failure.at < 60_000 || (writer.failing && writer.waiting > 0))
    ) {
      const full = isNoSpace(failure.error);
      return {
        text: full
          ? `spool disk full in ${this.#cfg.dir}: messages are dropped until space is freed`
          : `spool writes fail in ${this.#cfg.dir}: ${failure.error.message}`,
        critical: true,
      };
    }
    const removed = this.#removedNote;
    if (removed !== undefined && now - removed.at < 600_000) {
      return { text: removed.text, critical: false };
    }
    return undefined;
  }

  /**
   * The running spool's word on its files, for `agent spool` (which reads them
   * without racing the writer): its directory, the acknowledged position, and
   * how far each segment file is written.
   */
  live(): { dir: string; checkpoint: SpoolPosition; written: [number, number][] } {
    return {
      dir: this.#cfg.dir,
      checkpoint: this.#checkpoint.position,
      written: this.#segments.list.filter((s) => !s.deleted).map((s) => [s.id, s.written]),
    };
  }

  /** Whether the spool can be written at all; when not, the queue keeps to memory. */
  get usable(): boolean {
    return this.#unusable === undefined;
  }

  /** Whether records are waiting to be read. */
  get hasUnread(): boolean {
    return this.#segments.hasUnread;
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
    return this.#writer.backlog();
  }

  /** Appends the messages of `batch` (octet-counted frames). Never waits. */
  append(batch: Batch): void {
    if (this.#unusable !== undefined || this.#closed) {
      this.#writer.refuse(batch.count);
      return;
    }
    this.#writer.append(batch);
  }

  /** The point in the stream of appends that {@linkcode Spool.settled} answers for. */
  mark(): SpoolMark {
    return this.#writer.mark();
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
    return this.#writer.settled(since);
  }

  /**
   * The next run of unread records (about 256 KiB) as a batch whose `end` is the
   * position to {@linkcode ack} once it is delivered; `undefined` when there is
   * nothing to read.
   */
  read(): Promise<Batch | undefined> {
    return this.#reader.read();
  }

  /**
   * Reads again from the start of `given[0]`: `given` are batches read and not
   * delivered, oldest first, from there to the read position (the one who took
   * them kept only their positions). Those whose segment was dropped meanwhile
   * (`whenFull`) are counted as dropped; the others are read again, those
   * before `forwarded` (the end of the last one forwarded) marked `resent`.
   */
  rewind(given: readonly Batch[], forwarded: SpoolPosition): void {
    const to = given[0]?.start;
    if (to === undefined || this.#closed || this.#unusable !== undefined) {
      this.#segments.drop(given.reduce((n, b) => n + b.count, 0));
      return;
    }
    const live = new Map(this.#segments.list.map((s) => [s.id, s]));
    for (const b of given) {
      const seg = b.end === undefined ? undefined : live.get(b.end.segment);
      if (seg === undefined) this.#segments.drop(b.count);
      else this.#segments.reread(seg, b.count);
    }
    this.#reader.rewind(to, forwarded);
  }

  /** Marks everything up to `pos` delivered: whole segments before it are deleted. */
  ack(pos: SpoolPosition): void {
    this.#checkpoint.advance(pos);
    const segments = this.#segments;
    for (;;) {
      const head = segments.head;
      if (head === undefined || head === segments.tail) break;
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
    if (this.#tickTimer !== undefined) this.#clock.clearTimeout(this.#tickTimer);
    this.#tickTimer = undefined;
    const segments = this.#segments;
    const writer = this.#writer;
    if (this.#unusable !== undefined) {
      const lost = inHand.reduce((n, b) => n + b.count, 0);
      if (lost > 0) this.#log.error(`spool: unusable; ${lost} message(s) in hand are lost`);
      segments.drop(lost);
      this.#finish();
      return;
    }
    try {
      writer.flush();
      await writer.idle();
      await writer.syncs();
      // Files removed under the running agent are counted now or never.
      await this.#checkFiles(true);
      // The read position: a segment, or just past a deleted one.
      const rSeg = this.#reader.segment;
      // Everything before the read position was delivered or is in `inHand`: those
      // segments leave the accounting now, and the disk once the replacement is durable.
      const replaced = rSeg === undefined ? [] : segments.list.filter((s) => s.id < rSeg.id);
      // Reading a segment written at an earlier stop (below the checkpoint, which says
      // "undelivered in full"): its unread rest goes into the new one with the in-hand
      // batches, so that nothing read is sent twice and the checkpoint stays where it is.
      const below = rSeg !== undefined && !rSeg.deleted && rSeg.id < this.#checkpoint.segment;
      if (below && this.#reader.offset > rSeg.start) {
        inHand = [...inHand, ...await this.#reader.readRest(rSeg)];
        replaced.push(rSeg);
      }
      for (const seg of replaced) this.#forget(seg);
      if (inHand.some((b) => b.count > 0)) {
        const before = { lost: writer.lostWrites, dropped: segments.dropped };
        await writer.writeAtStop(segments.addFirst(), inHand);
        if (writer.lostWrites > before.lost) {
          const failed = segments.dropped - before.dropped;
          // A full disk: the old checkpoint and the segments the new one was to replace
          // stay, so what was read from the spool is resent (duplicates, not drops).
          const onDisk = new Set([...replaced, ...segments.list].map((s) => s.id));
          const fromSpool = inHand.reduce(
            (n, b) => n + (b.end !== undefined && onDisk.has(b.end.segment) ? b.count : 0),
            0,
          );
          const resent = Math.min(failed, fromSpool);
          segments.resent(resent);
          this.#log.error(
            `spool: stopping: ${failed} message(s) in hand could not be written to ${this.#cfg.dir}; ${resent} of them stay in the spool and are resent, ${
              failed - resent
            } lost: free space in ${this.#cfg.dir}`,
          );
          this.#finish();
          return;
        }
      }
      await writer.syncFile();
      if (segments.dirDirty) await segments.syncDir();
      if (below) {
        // The checkpoint restored at start, or acknowledged since, stays.
      } else if (rSeg !== undefined) {
        this.#checkpoint.set({ segment: rSeg.id, offset: rSeg.deleted ? 0 : this.#reader.offset });
      } else {
        this.#checkpoint.set({ segment: segments.head?.id ?? segments.nextId, offset: 0 });
      }
      await this.#checkpoint.write();
      for (const seg of replaced) await segments.unlink(seg.id);
      if (replaced.length > 0) await segments.syncDir();
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
    this.#reader.close();
    this.#writer.finish();
  }

  #scheduleTick(): void {
    this.#tickTimer = this.#clock.setTimeout(() => {
      this.#tick();
      this.#scheduleTick();
    }, this.#cfg.syncIntervalMs);
  }

  #tick(): void {
    this.#writer.kick();
    const now = this.#clock.now();
    if (
      !this.#checking && this.#unusable === undefined &&
      now - this.#checkedAt >= SPOOL_FILES_CHECK_MS
    ) {
      this.#checking = true;
      this.#checkedAt = now;
      this.#checkFiles(false).finally(() => this.#checking = false);
    }
  }

  /** Takes `seg` out of the spool: the figures, the chunk being filled, the read position. */
  #forget(seg: Segment): number {
    const unread = this.#segments.forget(seg);
    this.#writer.forgot(seg);
    this.#reader.forgot(seg);
    return unread;
  }

  /** Deletes a segment; `dropped` of its records were never read. */
  #remove(seg: Segment, dropped: number): void {
    this.#forget(seg);
    this.#segments.drop(dropped);
    this.#segments.remove(seg.id);
  }

  /**
   * Checks that the spool's files are still there (an operator or a cleanup job
   * may remove them). Missing segments are taken out, their unread records
   * counted as dropped, and the directory is made again; the spool carries on.
   * `suspect`: an operation just failed with NotFound, so look at every segment.
   */
  async #checkFiles(suspect: boolean): Promise<void> {
    const dir = this.#cfg.dir;
    const segments = this.#segments;
    const look = suspect
      ? [...segments.list]
      : segments.list.filter((s) => s.id === this.#writer.fileId || s === this.#reader.segment);
    const { missing, dirGone } = await segments.missing(look);
    if (missing.length === 0 && !dirGone) return;
    let lost = 0;
    for (const seg of missing) {
      if (seg.deleted) continue;
      lost += this.#forget(seg);
      this.#writer.closeFile(seg.id);
      this.#reader.closeFile(seg.id);
    }
    segments.drop(lost);
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
    this.#removedNote = { at: this.#clock.now(), text };
    this.#log.error(
      `spool: ${missing.length} segment file(s) in ${dir} were removed while the agent ran${
        dirGone ? " (the directory too)" : ""
      }: ${lost} unsent message(s) lost${again}; the spool carries on. Do not clean ${dir} by hand or with tmpfiles rules`,
    );
  }
}
