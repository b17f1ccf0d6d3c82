/**
 * Spool segment files written directly, for tests and benchmarks that need a
 * spool left by an earlier run: `<16-digit id>.seg` files of sequence-numbered
 * messages in record format version 1 (one record per message, what agents
 * before batch records wrote: a spool an upgrade must deliver), and the
 * records of a version 2 file, for tests that damage one.
 *
 * @module
 */

import { HEADER, writeRecord } from "../spool/mod.ts";
import { seqMessage } from "./seq_check.ts";

/** The id of the first segment the agent writes (spool.ts FIRST_ID). */
export const FIRST_SEGMENT_ID = 1_000_000_000_000;

const encoder = new TextEncoder();

/** The file name of segment `id`. */
export function segmentName(id: number): string {
  return `${String(id).padStart(16, "0")}.seg`;
}

/** The records of messages `first..first+count-1` (see `seqMessage`), as one segment's bytes. */
export function segmentBytes(first: number, count: number, size: number, tag = "app"): Uint8Array {
  const out = new Uint8Array(count * (HEADER + size));
  const view = new DataView(out.buffer);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const msg = encoder.encode(seqMessage(first + i, size, tag));
    at = writeRecord(out, view, at, msg, 0, msg.length);
  }
  return out.subarray(0, at);
}

/** Options of {@linkcode writeSpool}. */
export interface WriteSpoolOptions {
  /** The spool directory (created). */
  dir: string;
  /** Messages 0..messages-1 (plus `first`). */
  messages: number;
  /** Bytes of each message. */
  size: number;
  /** Messages per segment file. */
  perSegment: number;
  /** APP-NAME of the messages. */
  tag?: string;
  /** First sequence number (default 0). */
  first?: number;
  /** Id of the first segment (default the agent's first). */
  firstId?: number;
}

/** Writes segment files of sequence-numbered messages, oldest first; returns their ids. */
export async function writeSpool(o: WriteSpoolOptions): Promise<number[]> {
  await Deno.mkdir(o.dir, { recursive: true });
  const ids: number[] = [];
  let id = o.firstId ?? FIRST_SEGMENT_ID;
  const first = o.first ?? 0;
  for (let done = 0; done < o.messages; done += o.perSegment) {
    const n = Math.min(o.perSegment, o.messages - done);
    await Deno.writeFile(
      `${o.dir}/${segmentName(id)}`,
      segmentBytes(first + done, n, o.size, o.tag),
    );
    ids.push(id++);
  }
  return ids;
}

/** A version 2 (batch) record of a segment file: where it starts, its payload's length, its messages. */
export interface BatchRecordAt {
  /** Offset of its header. */
  at: number;
  /** Bytes of its payload (after the 24-byte header). */
  len: number;
  /** Messages it holds. */
  count: number;
}

/** The version 2 records of a segment file's bytes, in order (stops at a torn one). */
export function batchRecords(data: Uint8Array): BatchRecordAt[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: BatchRecordAt[] = [];
  for (let p = 0; p + 24 <= data.length;) {
    const len = view.getUint32(p + 8, true);
    if (p + 24 + len > data.length) break;
    out.push({ at: p, len, count: view.getUint32(p + 12, true) });
    p += 24 + len;
  }
  return out;
}
