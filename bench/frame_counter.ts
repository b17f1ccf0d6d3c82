/**
 * Counts syslog messages in one TCP stream, whatever its framing: octet
 * counted (RFC 6587, `LEN SP MSG`, what the agent, rsyslogd's omfwd and the
 * minimal relay send) or LF-terminated (syslog-ng's `network()` destination).
 * The framing is taken from the stream's first byte: a digit means octet
 * counting, anything else LF.
 *
 * @module
 */

/**
 * Incremental message counter for one connection; feed it every chunk read.
 *
 * @example Counting octet-counted frames split across reads
 * ```ts
 * import { deepStrictEqual as assertEquals } from "node:assert/strict";
 * import { FrameCounter } from "./frame_counter.ts";
 *
 * const c = new FrameCounter();
 * const bytes = new TextEncoder().encode("5 hello3 abc");
 * c.push(bytes.subarray(0, 4));
 * c.push(bytes.subarray(4));
 * assertEquals(c.count, 2);
 * assertEquals(c.framing, "octet-counted");
 * ```
 */
export class FrameCounter {
  #framing: "octet-counted" | "lf" | undefined;
  #count = 0;
  /** Octet counting: bytes of the current message body still to skip. */
  #skip = 0;
  /** Octet counting: the length being read (digits so far), or -1 between frames. */
  #len = -1;
  #error: string | undefined;

  /** Complete messages seen so far. */
  get count(): number {
    return this.#count;
  }

  /** The framing detected from the first byte; undefined before any byte arrived. */
  get framing(): "octet-counted" | "lf" | undefined {
    return this.#framing;
  }

  /** Set once the stream broke its framing (a non-digit where a length was due). */
  get error(): string | undefined {
    return this.#error;
  }

  /** Feeds the next chunk of the stream; returns the messages it completed. */
  push(chunk: Uint8Array): number {
    if (chunk.length === 0 || this.#error !== undefined) return 0;
    this.#framing ??= chunk[0]! >= 0x30 && chunk[0]! <= 0x39 ? "octet-counted" : "lf";
    const before = this.#count;
    if (this.#framing === "lf") {
      let i = chunk.indexOf(10);
      while (i >= 0) {
        this.#count++;
        i = chunk.indexOf(10, i + 1);
      }
      return this.#count - before;
    }
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        if (this.#skip === 0) this.#count++;
        continue;
      }
      const b = chunk[i++]!;
      if (b >= 0x30 && b <= 0x39) {
        this.#len = (this.#len < 0 ? 0 : this.#len * 10) + (b - 0x30);
      } else if (b === 0x20 && this.#len > 0) {
        this.#skip = this.#len;
        this.#len = -1;
      } else {
        this.#error = `octet-counted stream broken: byte ${b} after ${this.#count} messages`;
        break;
      }
    }
    return this.#count - before;
  }
}
