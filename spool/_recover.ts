/**
 * Recovery at start: the spool directory checked, the checkpoint read, the
 * segment files listed, the newest counted (a torn last record cut off), and
 * the older ones counted in the background.
 *
 * @module
 */

import { type Clock, errorText, type Logger, type SpoolPosition } from "../ground/mod.ts";
import { readCheckpoint } from "./_checkpoint.ts";
import { isNoSpace } from "./_no_space.ts";
import { formatOf, headerBytes, recordBytes, type RecordFormat, scanRecords } from "./_record.ts";
import type { Segment, Segments } from "./_segments.ts";
import type { SpoolFs } from "./spool_fs.ts";

/** What recovery needs. */
export interface RecoverParts {
  fs: SpoolFs;
  log: Logger;
  clock: Clock;
  /** Empty; the segments found are added to it. */
  segments: Segments;
  /** The largest read of a file at a time. */
  bufferBytes: number;
  /** The disk is full at start (writes will fail until space is freed). */
  diskFull(e: Error): void;
  /** Whether the spool has stopped (the background count stops too). */
  closed(): boolean;
}

/** What recovery found. */
export interface Recovered {
  /** The acknowledged position of the checkpoint (segment -1: none). */
  checkpoint: SpoolPosition;
  /** Resolves once every segment found is counted. */
  counting: Promise<void>;
}

/**
 * Recovers the spool in `dir`: makes the directory if needed, checks that it
 * can be written, reads the checkpoint, and adds the segments found to
 * `parts.segments`. Only the listing and the newest segment are read before it
 * returns; the older ones are counted in the background (`counting`). A
 * segment that cannot be read is skipped and counted as damaged. Throws when
 * the directory cannot be used.
 */
export async function recover(dir: string, parts: RecoverParts): Promise<Recovered> {
  const { fs, log, clock, segments } = parts;
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
    parts.diskFull(e as Error);
    log.error(`spool: ${dir} is full; messages that cannot be written are dropped`);
  }
  const cp = await readCheckpoint(fs, dir, log);
  const ids: number[] = [];
  for (const name of await fs.list(dir)) {
    const m = /^(\d{16})\.seg$/.exec(name);
    if (!m) continue;
    const id = Number(m[1]);
    if (!Number.isSafeInteger(id) || id >= Number.MAX_SAFE_INTEGER - 1) {
      log.warn(`spool: ignoring ${dir}/${name}: not a segment name this agent writes`);
      continue;
    }
    ids.push(id);
  }
  ids.sort((a, b) => a - b);
  // Rules (the writer keeps them): segments before the checkpoint's are undelivered
  // segments written at a stop; the checkpoint's is undelivered from its offset on.
  for (const [i, id] of ids.entries()) {
    const path = segments.path(id);
    try {
      const info = await fs.stat(path);
      const format = await formatOfFile(fs, path);
      const seg: Segment = {
        id,
        bytes: info.size,
        written: info.size,
        records: undefined,
        read: 0,
        start: id === cp.segment ? Math.min(cp.offset, info.size) : 0,
        createdAt: info.mtime ?? clock.now(),
        deleted: false,
        format,
      };
      if (seg.start >= seg.bytes) {
        await fs.remove(path).catch(() => {});
        continue;
      }
      if (i === ids.length - 1) {
        // The newest segment may end in a torn record: count it now and cut that off.
        const { records, goodEnd, corrupt } = await count(
          fs,
          path,
          format,
          seg.start,
          info.size,
          parts.bufferBytes,
        );
        seg.records = records;
        if (goodEnd < info.size && corrupt > 0) {
          segments.corrupted(1);
          // Reads stop there even when the file cannot be cut (read-only).
          seg.bytes = seg.written = goodEnd;
          await fs.truncate(path, goodEnd).then(
            () => log.warn(`spool: cut a torn record off the end of ${path} at ${goodEnd}`),
            (e) =>
              log.warn(
                `spool: a torn record ends ${path} at ${goodEnd}; cannot cut it (${
                  errorText(e)
                }), reads stop there`,
              ),
          );
        }
      }
      segments.addRecovered(seg);
    } catch (e) {
      segments.corrupted(1);
      log.error(
        `spool: skipping segment ${path}, which cannot be read (${
          errorText(e)
        }); its messages are not sent: check the file and the disk`,
      );
    }
  }
  // New segments go after every one known, the checkpoint's too (it may be deleted).
  segments.knownIds([...ids, ...(cp.segment >= 0 ? [cp.segment] : [])]);
  if (segments.list.length > 0) {
    log.info(
      `spool: recovering ${segments.list.length} segment(s), ${segments.totalBytes} bytes, from ${dir}`,
    );
  }
  const uncounted = segments.list.some((s) => s.records === undefined);
  return { checkpoint: cp, counting: uncounted ? countRecovered(dir, parts) : Promise.resolve() };
}

/** Counts the records of the segments found at start, oldest first, beside the relay. */
async function countRecovered(dir: string, parts: RecoverParts): Promise<void> {
  const { fs, log, segments } = parts;
  for (const seg of [...segments.list]) {
    if (seg.records !== undefined || seg.deleted || parts.closed()) continue;
    const path = segments.path(seg.id);
    try {
      const { records } = await count(
        fs,
        path,
        seg.format,
        seg.start,
        seg.written,
        parts.bufferBytes,
      );
      if (seg.deleted || seg.records !== undefined) continue;
      segments.counted(seg, records);
    } catch (e) {
      if (seg.deleted || seg.records !== undefined) continue;
      // Skipped and counted, like a segment that cannot be read at the start.
      log.error(
        `spool: skipping segment ${path}, which cannot be read (${
          errorText(e)
        }); its messages are not sent: check the file and the disk`,
      );
      segments.uncountable(seg);
    }
  }
  log.info(`spool: recovered ${segments.unread} message(s) from ${dir}`);
}

/** The record format of a segment file, by its first bytes. */
async function formatOfFile(fs: SpoolFs, path: string): Promise<RecordFormat> {
  const file = await fs.open(path, "read");
  try {
    const head = new Uint8Array(4);
    let got = 0;
    while (got < 4) {
      const n = await file.read(head.subarray(got));
      if (n === null) break;
      got += n;
    }
    return formatOf(head.subarray(0, got));
  } finally {
    file.close();
  }
}

/** Counts the messages of a segment file's good records from `start`, and where the last ends. */
async function count(
  fs: SpoolFs,
  path: string,
  format: RecordFormat,
  start: number,
  size: number,
  bufferBytes: number,
): Promise<{ records: number; goodEnd: number; corrupt: number }> {
  const file = await fs.open(path, "read");
  try {
    await file.seek(start);
    let buf = new Uint8Array(Math.min(bufferBytes, Math.max(headerBytes(format), size - start)));
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
      const res = scanRecords(format, buf, view, 0, fill, final, (_s, e, n) => {
        records += n;
        goodEnd = base + e;
      });
      corrupt += res.corrupt;
      if (final) break;
      if (res.next === 0 && fill === buf.length) {
        // One record longer than the buffer: make room for it.
        const bigger = new Uint8Array(Math.max(buf.length * 2, recordBytes(format, view, 0)));
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
