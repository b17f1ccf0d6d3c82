/**
 * Octet counting (RFC 6587 3.4.1, `LEN SP MSG`): its bytes, and the walk over
 * frames known to be well-formed, shared by the ingest, the spool, the links
 * and the taps.
 *
 * @module
 */

/** The space after an octet count (and between RELP's header fields). */
export const SP = 0x20;
/** Line feed: the end of an LF-framed message (and of a RELP frame). */
export const LF = 0x0a;
/** The digit `0`. */
export const ZERO = 0x30;
/** The digit `9`. */
export const NINE = 0x39;

/** Writes `n` (a whole number) in decimal at `buf[at..]`; returns the offset after it. */
export function writeDecimal(buf: Uint8Array, at: number, n: number): number {
  let digits = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
  for (let i = digits - 1, v = n; i >= 0; i--, v = Math.floor(v / 10)) {
    buf[at + i] = ZERO + (v % 10);
  }
  return at + digits;
}

/** Writes `LEN SP` for a message of `len` bytes at `buf[at..]`; returns the offset after it. */
export function writeOctetHeader(buf: Uint8Array, at: number, len: number): number {
  const p = writeDecimal(buf, at, len);
  buf[p] = SP;
  return p + 1;
}

/**
 * Calls `visit` with the body of each frame of a run of frames known to be
 * well-formed (the framer checked them, or the ingest made them), and where
 * the frame's `LEN` starts; a `visit` that returns `false` ends the walk.
 */
export function eachFrame(
  data: Uint8Array,
  start: number,
  end: number,
  visit: (bodyStart: number, bodyEnd: number, frameStart: number) => boolean | void,
): void {
  let p = start;
  while (p < end) {
    const frameStart = p;
    let len = 0;
    while (data[p] !== SP) len = len * 10 + data[p++]! - ZERO;
    p++;
    if (visit(p, p + len, frameStart) === false) return;
    p += len;
  }
}

/** The messages of a batch of octet-counted frames, each followed by LF instead. */
export function octetToLf(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  let n = 0;
  eachFrame(data, 0, data.length, (s, e) => {
    out.set(data.subarray(s, e), n);
    n += e - s;
    out[n++] = LF;
  });
  return out.subarray(0, n);
}
