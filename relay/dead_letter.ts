/**
 * Messages a collector refuses for good, set aside where an operator can find them.
 *
 * @module
 */

import { DEAD_LETTER_MAX_BYTES } from "../config/mod.ts";
import { errorText } from "../ground/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The dead-letter file's name in the spool directory. */
export const DEAD_LETTER_FILE = "dead-letter.log";

/**
 * Appends each message set aside to a file, one line each:
 * `<ISO time> <collector> <reason as JSON> <message as JSON>` (JSON strings, so
 * a message with line breaks or any bytes stays on one line). At
 * {@linkcode DEAD_LETTER_MAX_BYTES} the file is renamed to `<path>.1`
 * (replacing the one before) and a new one begun: the two never hold more
 * than twice that. Failures are reported to `onError`, never thrown.
 *
 * @example
 * ```ts
 * import { DeadLetters } from "./dead_letter.ts";
 *
 * const dead = new DeadLetters("/var/spool/syslog-agent/dead-letter.log", (e) => console.warn(e));
 * const message = new TextEncoder().encode("<13>hello");
 * await dead.add(message, "10.0.0.5:2514", 'collector answered "500 bad" 3 times');
 * ```
 */
export class DeadLetters {
  readonly path: string;
  #onError: (message: string) => void;
  #maxBytes: number;
  #chain: Promise<void> = Promise.resolve();

  constructor(path: string, onError: (message: string) => void, maxBytes = DEAD_LETTER_MAX_BYTES) {
    this.path = path;
    this.#onError = onError;
    this.#maxBytes = maxBytes;
  }

  /** Appends `message` with `collector` and `reason`; resolves once it is written (or failed). */
  add(message: Uint8Array, collector: string, reason: string, now = new Date()): Promise<void> {
    const line = encoder.encode(
      `${now.toISOString()} ${collector} ${JSON.stringify(reason)} ${
        JSON.stringify(decoder.decode(message))
      }\n`,
    );
    this.#chain = this.#chain.then(() => this.#write(line));
    return this.#chain;
  }

  async #write(line: Uint8Array): Promise<void> {
    try {
      const size = await Deno.stat(this.path).then((s) => s.size, () => 0);
      if (size > 0 && size + line.length > this.#maxBytes) {
        await Deno.rename(this.path, `${this.path}.1`);
      }
      await Deno.writeFile(this.path, line, { append: true, mode: 0o640 });
    } catch (e) {
      this.#onError(
        `dead letters: cannot write ${this.path}: ${
          errorText(e)
        }; check the spool directory's permissions and free space`,
      );
    }
  }
}
