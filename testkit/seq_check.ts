/**
 * Sequence-numbered syslog messages: build them, read what a collector wrote,
 * and tally what is missing, duplicated or out of order.
 *
 * @module
 */

/** Result of {@link checkSeqs}. */
export interface SeqReport {
  /** Lines that carried a sequence number (and the tag, when one was given). */
  received: number;
  /** Distinct sequence numbers among them. */
  unique: number;
  /** The first 20 missing sequence numbers of 0..expected-1, ascending. */
  missing: number[];
  /** How many of 0..expected-1 never arrived. */
  missingCount: number;
  /** Extra copies: `received - unique`. */
  duplicates: number;
  /**
   * First arrivals of a number lower than one already seen (a late message,
   * an order violation). Resent duplicates do not count here.
   */
  outOfOrder: number;
}

const encoder = new TextEncoder();

/**
 * An RFC 5424 syslog line carrying `seq`, padded with `x` to exactly `size`
 * bytes (UTF-8), without a trailing newline:
 * `<13>1 2026-11-25T00:00:00Z host app - - - seq=00000042 xxxx…`.
 * `tag` (default "app") is the APP-NAME field; it must not contain spaces.
 * Throws a RangeError when `size` is smaller than the header.
 */
export function seqMessage(seq: number, size: number, tag = "app"): string {
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new RangeError(`seqMessage: seq must be a non-negative integer, got ${seq}`);
  }
  if (tag === "" || /\s/.test(tag)) {
    throw new RangeError(`seqMessage: tag must be a non-empty word, got ${JSON.stringify(tag)}`);
  }
  const head = `<13>1 2026-11-25T00:00:00Z host ${tag} - - - seq=${String(seq).padStart(8, "0")}`;
  const headBytes = encoder.encode(head).length;
  if (size === headBytes) return head;
  if (!Number.isSafeInteger(size) || size < headBytes) {
    throw new RangeError(`seqMessage: size must be at least ${headBytes} bytes, got ${size}`);
  }
  return `${head} ${"x".repeat(size - headBytes - 1)}`;
}

/**
 * The sequence number a line carries: the digits after `seq=`. Without
 * `marker`, the first `seq=` followed by a digit; with it, the line must
 * contain `marker`, and the number is the one after the first `seq=` from
 * where the marker starts. `undefined` when there is none.
 *
 * @example
 * ```ts
 * import { seqOf } from "./seq_check.ts";
 *
 * seqOf("<13>1 2026-11-25T00:00:00Z host app - - - seq=00000042 x"); // 42
 * seqOf("<14>Nov 25 10:00:00 demo-app[7]: seq=00000003 x", "demo-app["); // 3
 * ```
 */
export function seqOf(line: string, marker?: string): number | undefined {
  let at = 0;
  if (marker !== undefined) {
    at = line.indexOf(marker);
    if (at < 0) return undefined;
  }
  for (;;) {
    at = line.indexOf("seq=", at);
    if (at < 0) return undefined;
    let end = at + 4;
    while (end < line.length && line.charCodeAt(end) >= 48 && line.charCodeAt(end) <= 57) end++;
    if (end > at + 4) return Number(line.slice(at + 4, end));
    if (marker !== undefined) return undefined;
    at += 4;
  }
}

/** Numbers below this are kept in a bitmap; higher ones (a stray line) in a set. */
const BITMAP_LIMIT = 1 << 26;

/**
 * The tally of sequence numbers as they arrive: how many, how many distinct,
 * which of 0..n-1 are missing, and how many came after a higher one (order).
 * {@linkcode checkSeqs} counts lines with it; `SeqFileTally` a growing file.
 *
 * @example
 * ```ts
 * import { SeqTally } from "./seq_check.ts";
 *
 * const t = new SeqTally();
 * for (const seq of [0, 2, 1, 2]) t.add(seq);
 * // t.received 4, t.unique 3, t.duplicates 1, t.outOfOrder 1, t.missing(4).count 1
 * ```
 */
export class SeqTally {
  /** Numbers added (lines that carried one). */
  received = 0;
  /** Distinct numbers among them. */
  unique = 0;
  /**
   * First arrivals of a number lower than one already seen (a late message,
   * an order violation). Resent duplicates do not count here.
   */
  outOfOrder = 0;
  #seen = new Uint8Array(1 << 16);
  #extra = new Set<number>();
  #highest = -1;

  /** Extra copies: `received - unique`. */
  get duplicates(): number {
    return this.received - this.unique;
  }

  /** Counts one arrival of `seq`. */
  add(seq: number): void {
    this.received++;
    if (seq < BITMAP_LIMIT) {
      if (seq >= this.#seen.length) {
        let size = this.#seen.length;
        while (size <= seq) size *= 2;
        const grown = new Uint8Array(size);
        grown.set(this.#seen);
        this.#seen = grown;
      }
      if (this.#seen[seq] !== 0) return;
      this.#seen[seq] = 1;
    } else {
      if (this.#extra.has(seq)) return;
      this.#extra.add(seq);
    }
    this.unique++;
    if (seq < this.#highest) this.outOfOrder++;
    else this.#highest = seq;
  }

  /** How many of 0..n-1 have not arrived, and the first `first` (default 20) of them. */
  missing(n: number, first = 20): { count: number; first: number[] } {
    const list: number[] = [];
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (i >= this.#seen.length || this.#seen[i] === 0) {
        count++;
        if (list.length < first) list.push(i);
      }
    }
    return { count, first: list };
  }

  /** What arrived, against the expected range 0..expected-1. */
  report(expected: number): SeqReport {
    const { count, first } = this.missing(Math.max(0, expected));
    return {
      received: this.received,
      unique: this.unique,
      missing: first,
      missingCount: count,
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
    };
  }
}

/**
 * Counts sequence numbers (`seq=(\d+)`) in `lines` against the expected
 * range 0..expected-1. Lines without a number are ignored; with `tag`, so are
 * lines whose APP-NAME (the word before `- - - seq=`) is another one.
 *
 * @example
 * ```ts
 * import { checkSeqs, seqMessage } from "./seq_check.ts";
 *
 * const lines = [0, 1, 1, 3].map((seq) => seqMessage(seq, 80));
 * const r = checkSeqs(lines, 4); // r.missing [2], r.duplicates 1
 * ```
 */
export function checkSeqs(lines: Iterable<string>, expected: number, tag?: string): SeqReport {
  // A marker, not a regex: a regex with a leading \S+ backtracks quadratically on long lines.
  const marker = tag === undefined ? undefined : ` ${tag} - - - seq=`;
  const tally = new SeqTally();
  for (const line of lines) {
    const seq = seqOf(line, marker);
    if (seq !== undefined) tally.add(seq);
  }
  return tally.report(expected);
}

/**
 * The complete (newline-terminated) lines of a file, without their `\n`.
 * A last line still being written (no newline yet) is left out, so a
 * half-written `seq=` is never counted. Returns `[]` when the file does not
 * exist yet.
 */
export async function readLines(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  const lines = text.split("\n");
  lines.pop(); // "" after the final newline, or an unfinished line
  return lines;
}
