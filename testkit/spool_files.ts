/**
 * Spool segment files written directly, in the spool's record format
 * (spool/_record.ts), for tests and benchmarks that need a spool left by an
 * earlier run: `<16-digit id>.seg` files of sequence-numbered messages.
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
