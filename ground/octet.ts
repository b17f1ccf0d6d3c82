/**
 * Octet-counting helpers (RFC 6587 3.4.1) shared by the ingest and the spool.
 *
 * @module
 */

const SP = 0x20;
const ZERO = 0x30;

/** Writes `LEN SP` for a message of `len` bytes at `buf[at..]`; returns the offset after it. */
export function writeOctetHeader(buf: Uint8Array, at: number, len: number): number {
  let digits = 1;
  for (let v = len; v >= 10; v = Math.floor(v / 10)) digits++;
  for (let i = digits - 1, v = len; i >= 0; i--, v = Math.floor(v / 10)) {
    buf[at + i] = ZERO + (v % 10);
  }
  buf[at + digits] = SP;
  return at + digits + 1;
}

/**
 * Calls `visit` with the body of each frame of a run of frames known to be
 * well-formed (the framer checked them, or the ingest made them), and where
 * the frame's `LEN` starts.
 */
export function eachFrame(
  data: Uint8Array,
  start: number,
  end: number,
  visit: (bodyStart: number, bodyEnd: number, frameStart: number) => void,
): void {
  let p = start;
  while (p < end) {
    const frameStart = p;
    let len = 0;
    while (data[p] !== SP) len = len * 10 + data[p++]! - ZERO;
    p++;
    visit(p, p + len, frameStart);
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
    out[n++] = 0x0a;
  });
  return out.subarray(0, n);
}
