/**
 * The spool's record formats. A segment file holds records of one format,
 * told by its first bytes.
 *
 * - **Version 2** (written since the spool commits batches whole): one record
 *   per batch, `MAGIC "SAG2" | CRC32 | LEN | COUNT | ARRIVAL (u64 ms) |
 *   PAYLOAD` (little-endian u32s; 24 bytes of header), the payload the batch's
 *   octet-counted frames as they came in, the CRC over everything after it. One
 *   header and one checksum per batch, and nothing to parse or re-frame on the
 *   way in or out; `ARRIVAL` (when the batch reached the spool) lets old data
 *   age out (`spool.maxAge`).
 * - **Version 1** (older agents): one record per message, `CRC32 | LEN |
 *   MESSAGE` (8 bytes of header), the CRC over LEN and MESSAGE. Read, never
 *   written: a spool left by an older agent is delivered by a newer one.
 *
 * A damaged length is caught by the checksum as well as damaged data; a
 * damaged record is skipped by searching forward for the next one whose
 * checksum holds.
 *
 * @module
 */

import { eachFrame } from "../ground/mod.ts";
import { crc32 } from "./_crc32.ts";

/** Bytes of a version 1 record's header. */
export const HEADER = 8;

/** Bytes of a version 2 (batch) record's header. */
export const BATCH_HEADER = 24;

/** The first four bytes of a version 2 record: "SAG2". */
const MAGIC = 0x32474153;

/** A segment's record format. */
export type RecordFormat = 1 | 2;

/**
 * The longest message a record may hold: the format's own limit (the largest
 * `maxMessageSize` a config may set), whatever the inputs' limits are now, so
 * that records written under an earlier config stay valid.
 */
export const MAX_RECORD = 16 * 1024 * 1024;

/** The longest batch payload: one longest message and its octet count (the writer splits). */
const MAX_BATCH_PAYLOAD = MAX_RECORD + 64;

/** The format of a segment whose first bytes are `head` (empty: a new one, version 2). */
export function formatOf(head: Uint8Array): RecordFormat {
  if (head.length < 4) return 2;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return view.getUint32(0, true) === MAGIC ? 2 : 1;
}

/** Bytes of a record's header in `format`. */
export function headerBytes(format: RecordFormat): number {
  return format === 2 ? BATCH_HEADER : HEADER;
}

/** Writes a version 1 record for `src[start..end)` at `dst[at..]`; returns the offset after it. */
export function writeRecord(
  dst: Uint8Array,
  view: DataView,
  at: number,
  src: Uint8Array,
  start: number,
  end: number,
): number {
  const len = end - start;
  view.setUint32(at + 4, len, true);
  dst.set(src.subarray(start, end), at + HEADER);
  view.setUint32(at, crc32(dst.subarray(at + 4, at + HEADER + len)), true);
  return at + HEADER + len;
}

/**
 * Writes a version 2 record at `dst[at..]` for the octet-counted frames
 * `src[start..end)`, `count` messages that reached the spool at `arrival`
 * (ms); returns the offset after it.
 */
export function writeBatchRecord(
  dst: Uint8Array,
  view: DataView,
  at: number,
  src: Uint8Array,
  start: number,
  end: number,
  count: number,
  arrival: number,
): number {
  const len = end - start;
  view.setUint32(at, MAGIC, true);
  view.setUint32(at + 8, len, true);
  view.setUint32(at + 12, count, true);
  view.setUint32(at + 16, arrival % 0x1_0000_0000, true);
  view.setUint32(at + 20, Math.floor(arrival / 0x1_0000_0000), true);
  dst.set(src.subarray(start, end), at + BATCH_HEADER);
  view.setUint32(at + 4, crc32(dst.subarray(at + 8, at + BATCH_HEADER + len)), true);
  return at + BATCH_HEADER + len;
}

/** What {@linkcode scanRecords} found. */
export interface ScanResult {
  /** Where scanning stopped: the end, or the start of a record that needs more bytes. */
  next: number;
  /** Damaged regions skipped (each counted once). */
  corrupt: number;
}

/**
 * Called with each good record: its payload `buf[start..end)` (version 1: one
 * message; version 2: octet-counted frames), how many messages it holds, and
 * when it reached the spool (0: not recorded, version 1).
 */
export type RecordVisit = (start: number, end: number, count: number, arrival: number) => void;

/** Where the record at `p` ends, or -1 when its header cannot be a record's. */
function recordEnd(format: RecordFormat, view: DataView, p: number): number {
  if (format === 1) {
    const len = view.getUint32(p + 4, true);
    return len > 0 && len <= MAX_RECORD ? p + HEADER + len : -1;
  }
  if (view.getUint32(p, true) !== MAGIC) return -1;
  const len = view.getUint32(p + 8, true);
  const count = view.getUint32(p + 12, true);
  return len > 0 && len <= MAX_BATCH_PAYLOAD && count > 0 && count <= len
    ? p + BATCH_HEADER + len
    : -1;
}

/** Whether the record `buf[p..recEnd)` has the checksum it carries. */
function checks(format: RecordFormat, buf: Uint8Array, view: DataView, p: number, recEnd: number) {
  return format === 1
    ? crc32(buf.subarray(p + 4, recEnd)) === view.getUint32(p, true)
    : crc32(buf.subarray(p + 8, recEnd)) === view.getUint32(p + 4, true);
}

/**
 * Walks the records of `format` in `buf[start..end)`, calling `visit` with each
 * good one. A damaged record is skipped by searching forward for the next
 * record whose checksum holds. `final` says that no more bytes follow `end`: a
 * record cut short there is damaged, not incomplete. `trusted`: the bytes are
 * this process's own, never stored (a chunk still in memory), so the checksums
 * are not computed again.
 */
export function scanRecords(
  format: RecordFormat,
  buf: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  final: boolean,
  visit: RecordVisit,
  trusted = false,
): ScanResult {
  const header = headerBytes(format);
  const max = header + (format === 1 ? MAX_RECORD : MAX_BATCH_PAYLOAD);
  let p = start;
  let corrupt = 0;
  while (p < end) {
    if (p + header > end) {
      if (final) {
        corrupt++;
        p = end;
      }
      break;
    }
    const recEnd = recordEnd(format, view, p);
    if (recEnd > 0) {
      if (recEnd > end) {
        // Incomplete here, or damaged: only more bytes can tell, unless there are none.
        if (!final && end - p < max) break;
      } else if (trusted || checks(format, buf, view, p, recEnd)) {
        if (format === 1) visit(p + HEADER, recEnd, 1, 0);
        else {
          const arrival = view.getUint32(p + 16, true) +
            view.getUint32(p + 20, true) * 0x1_0000_0000;
          visit(p + BATCH_HEADER, recEnd, view.getUint32(p + 12, true), arrival);
        }
        p = recEnd;
        continue;
      }
    }
    corrupt++;
    p = resync(format, buf, view, p + 1, end, max, final);
  }
  return { next: p, corrupt };
}

/** The first offset from `from` where a good record starts, or may start once more bytes come. */
function resync(
  format: RecordFormat,
  buf: Uint8Array,
  view: DataView,
  from: number,
  end: number,
  max: number,
  final: boolean,
): number {
  const header = headerBytes(format);
  for (let o = from; o + header <= end; o++) {
    const recEnd = recordEnd(format, view, o);
    if (recEnd < 0) continue;
    if (recEnd > end) {
      if (!final && end - o < max) return o;
      continue;
    }
    if (checks(format, buf, view, o, recEnd)) return o;
  }
  return final ? end : Math.max(from, end - header + 1);
}

/** The bytes the record at `p` needs whole (its header read), or its header's size. */
export function recordBytes(format: RecordFormat, view: DataView, p: number): number {
  const header = headerBytes(format);
  if (p + header > view.byteLength) return header;
  return header + view.getUint32(p + (format === 1 ? 4 : 8), true);
}

/**
 * How many messages, in how many bytes of whole records, the first `end` bytes
 * of `buf` hold: `buf` is a run of version 2 records this process wrote (a
 * write chunk).
 */
export function completeRecords(buf: Uint8Array, end: number): { records: number; bytes: number } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 0;
  let records = 0;
  while (p + BATCH_HEADER <= end) {
    const next = p + BATCH_HEADER + view.getUint32(p + 8, true);
    if (next > end) break;
    records += view.getUint32(p + 12, true);
    p = next;
  }
  return { records, bytes: p };
}

/**
 * Calls `visit` with each message of a whole segment file's bytes `data`,
 * whatever its format; the damaged regions skipped (for tests and tools that
 * look into a spool).
 */
export function scanSegment(
  data: Uint8Array,
  visit: (message: Uint8Array) => void,
): { messages: number; corrupt: number } {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const format = formatOf(data);
  let messages = 0;
  const res = scanRecords(format, data, view, 0, data.length, true, (s, e) => {
    if (format === 1) {
      messages++;
      visit(data.subarray(s, e));
      return;
    }
    eachFrame(data, s, e, (bs, be) => {
      messages++;
      visit(data.subarray(bs, be));
    });
  });
  return { messages, corrupt: res.corrupt };
}
