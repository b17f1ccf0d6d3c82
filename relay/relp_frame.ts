/**
 * RELP framing (rsyslog's librelp `doc/relp.md`):
 * `TXNR SP COMMAND SP DATALEN [SP DATA] LF`, for both the RELP input and output.
 *
 * @module
 */

import { LF, NINE, SP, writeDecimal, ZERO } from "../ground/mod.ts";

/** The highest transaction number; the one after it is 1 again. */
export const RELP_MAX_TXNR = 999_999_999;

/** The transaction number after `txnr` (1 follows 999,999,999; 0 is for hints). */
export function nextTxnr(txnr: number): number {
  return txnr >= RELP_MAX_TXNR ? 1 : txnr + 1;
}

/** A frame that breaks the RELP framing rules; the connection cannot be trusted after it. */
export class RelpFramingError extends Error {
  override name = "RelpFramingError";
}

/** One parsed frame. */
export interface RelpFrame {
  /** Transaction number: 0 for hints, 1 to 999,999,999 otherwise. */
  txnr: number;
  /** The command (`open`, `syslog`, `close`, `rsp`, `serverclose`, …). */
  command: string;
  /**
   * DATA without the SP before it: at most the parser's `maxData` bytes. A view
   * that is only valid during the visit call; copy what you keep.
   */
  data: Uint8Array;
  /** Bytes of DATA beyond `maxData` that were discarded (only with `oversize: "truncate"`). */
  cut: number;
}

/** Options of {@linkcode RelpFrameParser}. */
export interface RelpFrameParserOptions {
  /** The largest DATALEN taken whole. */
  maxData: number;
  /**
   * A frame whose DATALEN exceeds `maxData`: `"error"` (default) throws
   * {@linkcode RelpFramingError}; `"truncate"` passes on the first `maxData`
   * bytes and discards the rest (`cut` says how many).
   */
  oversize?: "error" | "truncate";
}

/** NUMBER = 1*9DIGIT. */
const MAX_DIGITS = 9;
/** COMMAND = 1*32ALPHA. */
const MAX_COMMAND = 32;

const enum State {
  Txnr,
  Command,
  Datalen,
  /** After DATALEN: SP (then DATA) or, for DATALEN 0, the trailer. */
  AfterLen,
  Data,
  Trailer,
}

const decoder = new TextDecoder();

/**
 * An incremental RELP frame parser: feed it bytes as they arrive, split
 * anywhere, and it calls back with each complete frame. Memory is one buffer of
 * `maxData` bytes, used only when a frame's DATA spans two reads; otherwise DATA
 * is passed on as a view of the bytes fed in, without a copy.
 *
 * @example
 * ```ts
 * const parser = new RelpFrameParser({ maxData: 65536 });
 * parser.push(new TextEncoder().encode("2 rsp 6 200 OK\n"), (f) => console.log(f.txnr, f.command));
 * ```
 */
export class RelpFrameParser {
  #maxData: number;
  #truncate: boolean;
  #state = State.Txnr;
  #digits = 0;
  #txnr = 0;
  #command = new Uint8Array(MAX_COMMAND);
  #commandLen = 0;
  #datalen = 0;
  /** DATA collected across reads. */
  #data: Uint8Array | undefined;
  #fill = 0;
  /** DATA bytes still to read for the current frame (kept or discarded). */
  #want = 0;

  /** A parser for one connection; see {@linkcode RelpFrameParserOptions}. */
  constructor(opts: RelpFrameParserOptions) {
    this.#maxData = opts.maxData;
    this.#truncate = opts.oversize === "truncate";
  }

  /** Whether the parser is between frames (nothing of a frame is buffered). */
  get idle(): boolean {
    return this.#state === State.Txnr && this.#digits === 0;
  }

  /**
   * Parses `chunk`, calling `visit` for each frame completed by it.
   *
   * @throws {RelpFramingError} at the first byte that breaks the framing; the
   *   parser must not be used afterwards.
   */
  push(chunk: Uint8Array, visit: (frame: RelpFrame) => void): void {
    const end = chunk.length;
    let p = 0;
    while (p < end) {
      switch (this.#state) {
        case State.Txnr: {
          const c = chunk[p++]!;
          if (c >= ZERO && c <= NINE) {
            if (++this.#digits > MAX_DIGITS) {
              throw new RelpFramingError(`RELP TXNR has more than ${MAX_DIGITS} digits`);
            }
            this.#txnr = this.#txnr * 10 + c - ZERO;
          } else if (c === SP && this.#digits > 0) {
            this.#state = State.Command;
            this.#commandLen = 0;
          } else {
            throw new RelpFramingError(
              `RELP frame must start with a TXNR (digits then a space), got byte ${hex(c)}`,
            );
          }
          break;
        }
        case State.Command: {
          const c = chunk[p++]!;
          if (isAlpha(c)) {
            if (this.#commandLen === MAX_COMMAND) {
              throw new RelpFramingError(`RELP COMMAND is longer than ${MAX_COMMAND} letters`);
            }
            this.#command[this.#commandLen++] = c;
          } else if (c === SP && this.#commandLen > 0) {
            this.#state = State.Datalen;
            this.#digits = 0;
            this.#datalen = 0;
          } else {
            throw new RelpFramingError(
              `RELP COMMAND must be letters followed by a space, got byte ${hex(c)}`,
            );
          }
          break;
        }
        case State.Datalen: {
          const c = chunk[p]!;
          if (c >= ZERO && c <= NINE) {
            p++;
            if (++this.#digits > MAX_DIGITS) {
              throw new RelpFramingError(`RELP DATALEN has more than ${MAX_DIGITS} digits`);
            }
            this.#datalen = this.#datalen * 10 + c - ZERO;
          } else if (this.#digits > 0) {
            this.#state = State.AfterLen;
          } else {
            throw new RelpFramingError(`RELP DATALEN must be digits, got byte ${hex(c)}`);
          }
          break;
        }
        case State.AfterLen: {
          const c = chunk[p++]!;
          if (c === LF && this.#datalen === 0) {
            this.#emit(new Uint8Array(0), 0, visit);
          } else if (c === SP) {
            if (this.#datalen > this.#maxData && !this.#truncate) {
              throw new RelpFramingError(
                `RELP DATALEN ${this.#datalen} exceeds the maximum of ${this.#maxData} bytes`,
              );
            }
            this.#want = this.#datalen;
            this.#fill = 0;
            this.#state = this.#datalen === 0 ? State.Trailer : State.Data;
          } else {
            throw new RelpFramingError(
              `RELP DATALEN must be followed by a space or (for 0) LF, got byte ${hex(c)}`,
            );
          }
          break;
        }
        case State.Data: {
          const keep = Math.min(this.#datalen, this.#maxData);
          // The whole of DATA and its trailer in this chunk: pass a view, no copy.
          if (this.#fill === 0 && this.#want === this.#datalen && keep === this.#datalen) {
            const t = p + keep;
            if (t < end) {
              if (chunk[t] !== LF) throw trailerError(chunk[t]!);
              this.#emit(chunk.subarray(p, t), 0, visit);
              p = t + 1;
              break;
            }
          }
          const n = Math.min(this.#want, end - p);
          const room = keep - this.#fill;
          if (room > 0) {
            const k = Math.min(room, n);
            this.#data ??= new Uint8Array(this.#maxData);
            this.#data.set(chunk.subarray(p, p + k), this.#fill);
            this.#fill += k;
          }
          this.#want -= n;
          p += n;
          if (this.#want === 0) this.#state = State.Trailer;
          break;
        }
        case State.Trailer: {
          const c = chunk[p++]!;
          if (c !== LF) throw trailerError(c);
          const data = this.#data?.subarray(0, this.#fill) ?? new Uint8Array(0);
          this.#emit(data, this.#datalen - this.#fill, visit);
          break;
        }
      }
    }
  }

  #emit(data: Uint8Array, cut: number, visit: (frame: RelpFrame) => void): void {
    const frame: RelpFrame = {
      txnr: this.#txnr,
      command: decoder.decode(this.#command.subarray(0, this.#commandLen)),
      data,
      cut,
    };
    this.#state = State.Txnr;
    this.#digits = 0;
    this.#txnr = 0;
    this.#fill = 0;
    visit(frame);
  }
}

const encoder = new TextEncoder();

/** A whole frame: `TXNR SP COMMAND SP DATALEN [SP DATA] LF`. */
export function encodeFrame(txnr: number, command: string, data?: Uint8Array | string): Uint8Array {
  const body = typeof data === "string" ? encoder.encode(data) : data ?? new Uint8Array(0);
  const head = encoder.encode(
    body.length > 0 ? `${txnr} ${command} ${body.length} ` : `${txnr} ${command} 0`,
  );
  const out = new Uint8Array(head.length + body.length + 1);
  out.set(head);
  out.set(body, head.length);
  out[out.length - 1] = LF;
  return out;
}

/**
 * Writes the frame of a `syslog` command carrying `src[start..end)` at
 * `buf[at..]` (the caller makes sure it fits: `end - start + 32` bytes); returns
 * the offset after it.
 */
export function writeSyslogFrame(
  buf: Uint8Array,
  at: number,
  txnr: number,
  src: Uint8Array,
  start: number,
  end: number,
): number {
  let p = writeDecimal(buf, at, txnr);
  buf.set(SYSLOG, p);
  p += SYSLOG.length;
  p = writeDecimal(buf, p, end - start);
  if (end > start) {
    buf[p++] = SP;
    buf.set(src.subarray(start, end), p);
    p += end - start;
  }
  buf[p++] = LF;
  return p;
}

/** The status code at the start of an `rsp` frame's DATA (`200 OK` → 200), or -1. */
export function rspCode(data: Uint8Array): number {
  if (data.length < 3) return -1;
  let code = 0;
  for (let i = 0; i < 3; i++) {
    const c = data[i]!;
    if (c < ZERO || c > NINE) return -1;
    code = code * 10 + c - ZERO;
  }
  if (data.length > 3 && data[3] !== SP && data[3] !== LF) return -1;
  return code;
}

/** Text for a log line: printable ASCII, at most `max` characters. */
export function printable(data: Uint8Array, max = 80): string {
  const text = decoder.decode(data.subarray(0, max)).replace(/[^\x20-\x7e]/g, "?");
  return data.length > max ? `${text}…` : text;
}

const SYSLOG = encoder.encode(" syslog ");

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function hex(c: number): string {
  return `0x${c.toString(16).padStart(2, "0")}`;
}

function trailerError(c: number): RelpFramingError {
  return new RelpFramingError(
    `RELP frame must end with LF after DATALEN bytes of DATA, got byte ${hex(c)}`,
  );
}
