/**
 * Sequence-numbered syslog messages: build them, read what a collector wrote,
 * and count what is missing, duplicated or out of order.
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
 * Counts sequence numbers (`seq=(\d+)`) in `lines` against the expected
 * range 0..expected-1. Lines without a number are ignored; with `tag`, so are
 * lines whose APP-NAME (the word before `- - - seq=`) is another one.
 */
export function checkSeqs(lines: Iterable<string>, expected: number, tag?: string): SeqReport {
  const seen = new Uint8Array(Math.max(0, expected));
  const extra = new Set<number>(); // numbers outside 0..expected-1
  let received = 0;
  let unique = 0;
  let outOfOrder = 0;
  let highest = -1;
  for (const line of lines) {
    let seq: number;
    if (tag === undefined) {
      const m = /seq=(\d+)/.exec(line);
      if (m?.[1] === undefined) continue;
      seq = Number(m[1]);
    } else {
      // indexOf, not a regex: a regex with a leading \S+ backtracks quadratically on long lines.
      const marker = ` ${tag} - - - seq=`;
      const at = line.indexOf(marker);
      if (at < 0) continue;
      const m = /^\d+/.exec(line.slice(at + marker.length));
      if (m === null) continue;
      seq = Number(m[0]);
    }
    received++;
    const first = seq < expected ? seen[seq] === 0 : !extra.has(seq);
    if (!first) continue;
    if (seq < expected) seen[seq] = 1;
    else extra.add(seq);
    unique++;
    if (seq < highest) outOfOrder++;
    else highest = seq;
  }
  const missing: number[] = [];
  let missingCount = 0;
  for (let i = 0; i < seen.length; i++) {
    if (seen[i] === 0) {
      missingCount++;
      if (missing.length < 20) missing.push(i);
    }
  }
  return { received, unique, missing, missingCount, duplicates: received - unique, outOfOrder };
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
