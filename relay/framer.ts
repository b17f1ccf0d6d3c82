/**
 * Stream framing for TCP and unix-stream inputs.
 *
 * @module
 */

import { LF, NINE, SP, ZERO } from "../ground/mod.ts";
import type { Counters } from "./counters.ts";

/** Where a framer delivers what it finds. */
export interface FrameSink {
  /** A run of `count` complete octet-counted frames, `LEN SP MSG` back to back, verbatim. */
  frames(src: Uint8Array, start: number, end: number, count: number): void;
  /** One message body, to be framed by the sink. */
  message(src: Uint8Array, start: number, end: number): void;
  /**
   * Inputs call this before each read: a promise means "wait for it first" (the
   * spool's writes have fallen behind), undefined means "go on".
   */
  ready?(): Promise<void> | undefined;
}

/** A connection's read buffer to start with and to shrink back to. */
const SMALL_BUFFER = 16 * 1024;
/** rsyslog's imtcp takes at most 9 digits of octet count; so do we. */
const MAX_DIGITS = 9;

/**
 * Splits a byte stream into syslog messages, detecting per frame (as rsyslog's
 * imtcp does) whether it is octet-counted (`LEN SP MSG`, RFC 6587 3.4.1: the frame
 * starts with a digit) or LF-terminated (anything else).
 *
 * The framer owns the read buffer: read into {@linkcode StreamFramer.space}, then
 * call {@linkcode StreamFramer.commit} with the byte count. Consecutive octet-counted
 * frames are handed on as one run without copying or re-encoding them, which keeps
 * the per-message cost to parsing the length.
 *
 * Limits: a message longer than `maxMessageSize` is cut to it and counted as
 * truncated; an octet count that is not digits followed by a space is counted as
 * malformed and the frame is taken as LF-terminated instead (imtcp does the same).
 * Empty LF frames are skipped. Memory is one buffer, sized to what the connection
 * holds: 16 KiB, doubled while reads fill it or a frame is longer (up to
 * `maxMessageSize + 16`), and given back to 16 KiB once the connection is quiet
 * again (a burst or a hostile sender's long lines do not keep it grown).
 *
 * @example
 * ```ts
 * import { StreamFramer } from "./framer.ts";
 * import { Counters } from "./counters.ts";
 *
 * const framer = new StreamFramer({
 *   frames: (_src, _start, _end, count) => console.log(`${count} octet-counted message(s)`),
 *   message: (src, start, end) => console.log(new TextDecoder().decode(src.subarray(start, end))),
 * }, new Counters(), 65536);
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 5514 });
 * for (;;) {
 *   const n = await conn.read(framer.space);
 *   if (n === null) break;
 *   framer.commit(n);
 * }
 * ```
 */
export class StreamFramer {
  #sink: FrameSink;
  #counters: Counters;
  #max: number;
  #buf: Uint8Array;
  #fill = 0;
  /** Bytes of an oversized octet-counted frame still to discard. */
  #skip = 0;
  /** Discarding the rest of an oversized LF frame up to its LF. */
  #skipToLf = false;
  /** How far past the start of the buffered frame an LF search has already looked. */
  #scanned = 0;

  /**
   * A framer for one connection, with its read buffer allocated.
   *
   * @param sink receives frames and messages
   * @param counters `truncated` and `malformed` are counted here
   * @param maxMessageSize longer messages are cut to this many bytes
   */
  constructor(sink: FrameSink, counters: Counters, maxMessageSize: number) {
    this.#sink = sink;
    this.#counters = counters;
    this.#max = maxMessageSize;
    this.#buf = new Uint8Array(Math.min(SMALL_BUFFER, maxMessageSize + 16));
  }

  /** The free part of the buffer to read into; never empty. */
  get space(): Uint8Array {
    if (this.#fill === this.#buf.length) this.#resize(this.#buf.length * 2);
    return this.#buf.subarray(this.#fill);
  }

  /** Bytes of the buffer now (for tests: it grows and shrinks with what it holds). */
  get capacity(): number {
    return this.#buf.length;
  }

  /** A buffer of `size` bytes (at most `maxMessageSize + 16`) holding what this one holds. */
  #resize(size: number): void {
    const buf = new Uint8Array(Math.max(this.#fill, Math.min(size, this.#max + 16)));
    buf.set(this.#buf.subarray(0, this.#fill));
    this.#buf = buf;
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.#fill;
  }

  /**
   * The stream has ended: an unterminated LF frame still buffered is passed on
   * as a message; an incomplete octet-counted frame is counted as malformed.
   */
  end(): void {
    const n = this.#fill;
    if (n === 0 || this.#skip > 0 || this.#skipToLf) return;
    const c = this.#buf[0]!;
    if (c >= ZERO && c <= NINE && this.#scanned === 0) this.#counters.malformed++;
    else this.#sink.message(this.#buf, 0, n);
    this.#fill = 0;
  }

  /** Processes `n` bytes just read into {@linkcode space}. */
  commit(n: number): void {
    const room = this.#buf.length - this.#fill;
    this.#frame(n);
    // A read that filled the buffer: a busy connection reads more at a time. A small read
    // with little left over: quiet again, the buffer goes back to its small size.
    if (n === room && this.#buf.length < this.#max + 16) {
      this.#resize(this.#buf.length * 2);
    } else if (
      this.#buf.length > SMALL_BUFFER && n < SMALL_BUFFER / 4 && this.#fill < SMALL_BUFFER / 4
    ) {
      this.#resize(SMALL_BUFFER);
    }
  }

  #frame(n: number): void {
    const buf = this.#buf;
    const end = this.#fill + n;
    const max = this.#max;
    // An LF search of the frame carried over from the last call resumes where it stopped.
    const resume = this.#scanned;
    this.#scanned = 0;
    let p = 0;
    let runStart = 0;
    let runCount = 0;
    while (p < end) {
      if (this.#skip > 0) {
        const k = Math.min(this.#skip, end - p);
        this.#skip -= k;
        p += k;
        continue;
      }
      if (this.#skipToLf) {
        const i = buf.indexOf(LF, p);
        if (i < 0 || i >= end) {
          p = end;
          break;
        }
        this.#skipToLf = false;
        p = i + 1;
        continue;
      }
      const c = buf[p]!;
      // A carried-over frame whose LF search had started is already known not to be counted.
      if (c >= ZERO && c <= NINE && !(p === 0 && resume > 0)) {
        let q = p;
        let len = 0;
        while (q < end && q - p <= MAX_DIGITS) {
          const d = buf[q]!;
          if (d < ZERO || d > NINE) break;
          len = len * 10 + d - ZERO;
          q++;
        }
        if (q === end && q - p <= MAX_DIGITS) break; // the header is not complete yet
        if (buf[q] === SP && q - p <= MAX_DIGITS && len > 0) {
          const body = q + 1;
          if (len <= max) {
            if (body + len > end) break; // wait for the rest of the frame
            if (c === ZERO) {
              // RFC 6587's MSG-LEN has no leading zero: pass it on to be framed anew.
              if (runCount > 0) {
                this.#sink.frames(buf, runStart, p, runCount);
                runCount = 0;
              }
              this.#sink.message(buf, body, body + len);
              p = body + len;
              continue;
            }
            if (runCount === 0) runStart = p;
            runCount++;
            p = body + len;
            continue;
          }
          // Oversized: pass on the first max bytes once they are here, discard the rest.
          if (body + max > end) break;
          if (runCount > 0) {
            this.#sink.frames(buf, runStart, p, runCount);
            runCount = 0;
          }
          this.#sink.message(buf, body, body + max);
          this.#counters.truncated++;
          this.#skip = len - max;
          p = body + max;
          continue;
        }
        this.#counters.malformed++;
        // Not an octet count after all: take this frame as LF-terminated.
      }
      if (runCount > 0) {
        this.#sink.frames(buf, runStart, p, runCount);
        runCount = 0;
      }
      const i = buf.indexOf(LF, p === 0 ? resume : p);
      if (i < 0 || i >= end) {
        if (end - p > max) {
          this.#sink.message(buf, p, p + max);
          this.#counters.truncated++;
          this.#skipToLf = true;
          p += max;
          continue;
        }
        this.#scanned = end - p;
        break;
      }
      if (i > p) {
        if (i - p > max) {
          this.#sink.message(buf, p, p + max);
          this.#counters.truncated++;
        } else {
          this.#sink.message(buf, p, i);
        }
      }
      p = i + 1;
    }
    if (runCount > 0) this.#sink.frames(buf, runStart, p, runCount);
    if (p > 0 && p < end) buf.copyWithin(0, p, end);
    this.#fill = end - p;
  }
}
