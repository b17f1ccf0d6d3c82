/**
 * Live copies of the messages passing through (`agent tap`), without slowing
 * the relay.
 *
 * @module
 */

import { eachFrame } from "../ground/mod.ts";

/** What a tap wants to see. */
export interface TapFilter {
  /** Only messages received by this input (its name, e.g. `tcp:127.0.0.1:5514`). */
  input?: string;
  /** Only messages written to this collector entry (its address as status shows it). */
  collector?: string;
  /** Only messages containing this text, or matching this regular expression. */
  match?: string | RegExp;
}

/** One message a tap saw. */
export interface TapEvent {
  /** When it passed (ms since the epoch). */
  at: number;
  /** The input that received it (input-side taps). */
  input?: string;
  /** The collector entry it was written to (collector-side taps). */
  collector?: string;
  /** The message, byte for byte. */
  message: Uint8Array;
}

/** Messages a tap holds for a slow reader before it skips (and counts) new ones. */
const TAP_MESSAGES = 1_000;
/** Bytes a tap holds for a slow reader before it skips new messages. */
const TAP_BYTES = 1024 * 1024;

const decoder = new TextDecoder();
/**
 * One character per byte (windows-1252 maps every byte to one code point): a
 * text match is searched in the run's bytes as a string, natively, and a
 * string index is a byte offset.
 */
const bytewise = new TextDecoder("windows-1252");

/** One tap: its filter, its small buffer, and what it skipped. */
export class Tap {
  /** What it wants to see. */
  readonly filter: TapFilter;
  /** A text `match`, one character per UTF-8 byte (see `bytewise`). */
  readonly needle: string | undefined;
  #queue: TapEvent[] = [];
  #bytes = 0;
  #wake: (() => void) | undefined;
  #closed = false;
  /** Messages that matched but were skipped: the reader was slower than the relay. */
  skipped = 0;

  /** A tap for `filter` (see {@linkcode Taps.open}). */
  constructor(filter: TapFilter) {
    this.filter = filter;
    this.needle = typeof filter.match === "string"
      ? bytewise.decode(new TextEncoder().encode(filter.match))
      : undefined;
  }

  /** Whether there is no room: a message now would be skipped. */
  get full(): boolean {
    return this.#queue.length >= TAP_MESSAGES || this.#bytes >= TAP_BYTES;
  }

  /** Takes `event` if there is room; never waits. */
  push(event: TapEvent): void {
    if (this.#closed) return;
    if (this.#queue.length >= TAP_MESSAGES || this.#bytes + event.message.length > TAP_BYTES) {
      this.skipped++;
      return;
    }
    this.#queue.push(event);
    this.#bytes += event.message.length;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** What the tap holds now, waiting for something when it holds nothing; `[]` once closed. */
  async take(): Promise<TapEvent[]> {
    while (this.#queue.length === 0 && !this.#closed) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const out = this.#queue;
    this.#queue = [];
    this.#bytes = 0;
    return out;
  }

  /** Ends the tap: a waiting {@linkcode Tap.take} returns `[]`. */
  close(): void {
    this.#closed = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/**
 * The taps of one agent. The relay offers each message to it only while a tap
 * is open ({@linkcode Taps.active}: one check per read otherwise); a message
 * that matches is copied into each tap's own small buffer, or skipped and
 * counted when that is full: a slow reader never slows the relay, and a tap
 * that is gone costs nothing.
 *
 * @example
 * ```ts
 * import { Taps } from "./taps.ts";
 * const taps = new Taps();
 * const tap = taps.open({ match: "sshd" });
 * const data = new TextEncoder().encode("24 <38>host sshd: accepted");
 * taps.offerFrames({ input: "tcp:127.0.0.1:5514" }, data, 0, data.length);
 * const [event] = await tap.take(); // event.message: "<38>host sshd: accepted"
 * taps.close(tap);
 * ```
 */
export class Taps {
  #taps = new Set<Tap>();
  #inputSide = 0;
  #collectorSide = 0;

  /** Whether any input-side tap is open (the relay offers what inputs receive). */
  get inputs(): boolean {
    return this.#inputSide > 0;
  }

  /** Whether any collector-side tap is open (the relay offers what it writes). */
  get collectors(): boolean {
    return this.#collectorSide > 0;
  }

  /** Opens a tap; a `collector` filter makes it see what is written, else what is received. */
  open(filter: TapFilter): Tap {
    const tap = new Tap(filter);
    this.#taps.add(tap);
    if (filter.collector !== undefined) this.#collectorSide++;
    else this.#inputSide++;
    return tap;
  }

  /** Closes `tap`. */
  close(tap: Tap): void {
    if (!this.#taps.delete(tap)) return;
    if (tap.filter.collector !== undefined) this.#collectorSide--;
    else this.#inputSide--;
    tap.close();
  }

  /** Offers the message `src[start..end)` from `where` (that passed at `at`, ms). */
  offer(
    where: { input?: string; collector?: string },
    src: Uint8Array,
    start: number,
    end: number,
    at: number = Date.now(),
  ): void {
    let text: string | undefined;
    let bytes: string | undefined;
    for (const tap of this.#taps) {
      const f = tap.filter;
      if (where.collector !== undefined) {
        if (f.collector !== where.collector) continue;
      } else if (f.collector !== undefined || (f.input !== undefined && f.input !== where.input)) {
        continue;
      }
      if (tap.needle !== undefined) {
        bytes ??= bytewise.decode(src.subarray(start, end));
        if (!bytes.includes(tap.needle)) continue;
      } else if (f.match instanceof RegExp) {
        text ??= decoder.decode(src.subarray(start, end));
        if (!f.match.test(text)) continue;
      }
      if (tap.full) {
        tap.skipped++;
        continue;
      }
      tap.push({ at, ...where, message: src.slice(start, end) });
    }
  }

  /**
   * Offers each message of the octet-counted frames `src[start..end)` from
   * `where`. A tap with a text `match` searches the whole run at once (the
   * frames are looked at only where it is found), so looking costs little when
   * little matches; the others see each message.
   */
  offerFrames(
    where: { input?: string; collector?: string },
    src: Uint8Array,
    start: number,
    end: number,
  ): void {
    const at = Date.now();
    let perMessage = false;
    let run: string | undefined;
    for (const tap of this.#taps) {
      if (!this.#wants(tap, where)) continue;
      if (tap.needle === undefined) {
        perMessage = true;
        continue;
      }
      run ??= bytewise.decode(src.subarray(start, end));
      this.#search(tap, tap.needle, run, where, src, start, end, at);
    }
    if (!perMessage) return;
    eachFrame(src, start, end, (s, e) => {
      for (const tap of this.#taps) {
        if (tap.needle !== undefined || !this.#wants(tap, where)) continue;
        this.#take(tap, where, src, s, e, at);
      }
    });
  }

  /** Whether `tap` looks at messages from `where`. */
  #wants(tap: Tap, where: { input?: string; collector?: string }): boolean {
    const f = tap.filter;
    if (where.collector !== undefined) return f.collector === where.collector;
    return f.collector === undefined && (f.input === undefined || f.input === where.input);
  }

  /** Gives `tap` the message `src[s..e)` if its regular expression (if any) matches. */
  #take(
    tap: Tap,
    where: { input?: string; collector?: string },
    src: Uint8Array,
    s: number,
    e: number,
    at: number,
  ): void {
    const match = tap.filter.match;
    if (match instanceof RegExp && !match.test(decoder.decode(src.subarray(s, e)))) return;
    if (tap.full) {
      tap.skipped++;
      return;
    }
    tap.push({ at, ...where, message: src.slice(s, e) });
  }

  /**
   * Finds `needle` in the run `src[start..end)` (`run`: it, one character per
   * byte) and gives `tap` each message it is in.
   */
  #search(
    tap: Tap,
    needle: string,
    run: string,
    where: { input?: string; collector?: string },
    src: Uint8Array,
    start: number,
    end: number,
    at: number,
  ): void {
    // Where the needle is found next, as an offset into `run`.
    let hit = run.indexOf(needle);
    if (hit < 0) return;
    eachFrame(src, start, end, (body, bodyEnd) => {
      // The hits before this frame's end: in its header, across an edge, or in its body.
      while (start + hit < bodyEnd) {
        if (start + hit >= body && start + hit + needle.length <= bodyEnd) {
          if (tap.full) tap.skipped++;
          else tap.push({ at, ...where, message: src.slice(body, bodyEnd) });
          hit = run.indexOf(needle, bodyEnd - start);
        } else {
          hit = run.indexOf(needle, hit + 1); // not in one message
        }
        if (hit < 0) return false;
      }
    });
  }
}
