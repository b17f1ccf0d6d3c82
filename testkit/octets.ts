/**
 * Octet-counted frames (`LEN SP MSG`, RFC 6587) in tests: batches built from
 * messages, and frames read back, strictly (a batch the agent made) or as a
 * collector reads a stream (a cut-off last frame left out).
 *
 * @module
 */

import { type Batch, SP, ZERO } from "../ground/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A batch of `messages`, each framed `LEN SP MSG`, back to back.
 *
 * @example
 * ```ts
 * import { octetBatch } from "./octets.ts";
 *
 * octetBatch(["<13>a", "<13>bc"]); // { data: "5 <13>a6 <13>bc" as bytes, count: 2 }
 * ```
 */
export function octetBatch(messages: string[]): Batch {
  return { data: octets(messages), count: messages.length };
}

/** `messages`, each framed `LEN SP MSG`, back to back. */
export function octets(messages: string[]): Uint8Array {
  return encoder.encode(messages.map((m) => `${encoder.encode(m).length} ${m}`).join(""));
}

/**
 * The bodies of the frames of `data`, which must be exactly well-formed frames
 * back to back (1 to 9 digits without a leading zero, a space, the whole body):
 * throws otherwise.
 */
export function octetBodies(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < data.length) {
    const start = p;
    let len = 0;
    while (p < data.length && data[p] !== SP) {
      const d = data[p]! - ZERO;
      if (d < 0 || d > 9) throw new Error(`octet count: a digit expected at ${p}`);
      if (d === 0 && p === start) throw new Error(`octet count: a leading zero at ${p}`);
      len = len * 10 + d;
      p++;
    }
    if (p === start || p - start > 9) throw new Error(`octet count: 1 to 9 digits at ${start}`);
    p++;
    if (p + len > data.length) throw new Error(`octet count: the frame at ${start} is cut off`);
    out.push(data.slice(p, p + len));
    p += len;
  }
  return out;
}

/** The messages of `batch`, decoded; throws unless it is exactly `batch.count` well-formed frames. */
export function batchMessages(batch: Batch): string[] {
  const out = octetBodies(batch.data).map((b) => decoder.decode(b));
  if (out.length !== batch.count) {
    throw new Error(`batch: ${out.length} frames, its count says ${batch.count}`);
  }
  return out;
}

/** The messages of the complete octet-counted frames of `data`; a cut-off last frame is left out. */
export function octetFrames(data: Uint8Array): string[] {
  const out: string[] = [];
  let p = 0;
  while (p < data.length) {
    let q = p;
    let len = 0;
    while (q < data.length && data[q] !== SP) len = len * 10 + data[q++]! - ZERO;
    if (q >= data.length || q + 1 + len > data.length) break;
    out.push(decoder.decode(data.subarray(q + 1, q + 1 + len)));
    p = q + 1 + len;
  }
  return out;
}
