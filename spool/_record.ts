/**
 * The spool's record format: `CRC32 (u32 LE) | LEN (u32 LE) | PAYLOAD`, the CRC
 * taken over LEN and PAYLOAD, so a damaged length is caught as well as damaged
 * data. A record holds one message, byte for byte.
 *
 * @module
 */

import { crc32 } from "node:zlib";

/** Bytes of record header. */
export const HEADER = 8;

/**
 * The longest payload a record may hold: the format's own limit (the largest
 * `maxMessageSize` a config may set), whatever the inputs' limits are now, so
 * that records written under an earlier config stay valid.
 */
export const MAX_RECORD = 16 * 1024 * 1024;

/** Writes a record for `src[start..end)` at `dst[at..]`; returns the offset after it. */
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

/** What {@linkcode scanRecords} found. */
export interface ScanResult {
  /** Where scanning stopped: the end, or the start of a record that needs more bytes. */
  next: number;
  /** Damaged regions skipped (each counted once). */
  corrupt: number;
}

/**
 * Walks the records in `buf[start..end)`, calling `visit` with each good payload.
 * A damaged record is skipped by searching forward for the next record whose CRC
 * holds. `final` says that no more bytes follow `end`: a record cut short there is
 * damaged, not incomplete. `trusted`: the bytes are this process's own, never
 * stored (a chunk still in memory), so the checksums are not computed again.
 */
export function scanRecords(
  buf: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  maxRecord: number,
  final: boolean,
  visit: (payloadStart: number, payloadEnd: number) => void,
  trusted = false,
): ScanResult {
  let p = start;
  let corrupt = 0;
  while (p < end) {
    if (p + HEADER > end) {
      if (final) {
        corrupt++;
        p = end;
      }
      break;
    }
    const len = view.getUint32(p + 4, true);
    if (len > 0 && len <= maxRecord) {
      const recEnd = p + HEADER + len;
      if (recEnd > end) {
        // Incomplete here, or damaged: only more bytes can tell, unless there are none.
        if (!final && end - p < maxRecord + HEADER) break;
      } else if (trusted || crc32(buf.subarray(p + 4, recEnd)) === view.getUint32(p, true)) {
        visit(p + HEADER, recEnd);
        p = recEnd;
        continue;
      }
    }
    corrupt++;
    p = resync(buf, view, p + 1, end, maxRecord, final);
  }
  return { next: p, corrupt };
}

/** The first offset from `from` where a good record starts, or may start once more bytes come. */
function resync(
  buf: Uint8Array,
  view: DataView,
  from: number,
  end: number,
  maxRecord: number,
  final: boolean,
): number {
  for (let o = from; o + HEADER <= end; o++) {
    const len = view.getUint32(o + 4, true);
    if (len === 0 || len > maxRecord) continue;
    const recEnd = o + HEADER + len;
    if (recEnd > end) {
      if (!final) return o;
      continue;
    }
    if (crc32(buf.subarray(o + 4, recEnd)) === view.getUint32(o, true)) return o;
  }
  return final ? end : Math.max(from, end - HEADER + 1);
}

/**
 * How many whole records, and how many bytes of them, the first `end` bytes of
 * `buf` hold: `buf` is a run of records this process wrote (a write chunk).
 */
export function completeRecords(buf: Uint8Array, end: number): { records: number; bytes: number } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 0;
  let records = 0;
  while (p + HEADER <= end) {
    const next = p + HEADER + view.getUint32(p + 4, true);
    if (next > end) break;
    p = next;
    records++;
  }
  return { records, bytes: p };
}
