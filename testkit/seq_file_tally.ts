/**
 * The tally of what a collector has written so far, reading only what was
 * added to its file since the last look.
 *
 * @module
 */

import { seqOf, SeqTally } from "./seq_check.ts";

const decoder = new TextDecoder();

/**
 * Sequence numbers (`seq=NNNNNNNN`) in the complete lines of a growing file
 * that carry `marker` (see `seqOf`), kept in a {@linkcode SeqTally}: call
 * {@linkcode SeqFileTally.update} to read what was appended.
 *
 * @example
 * ```ts
 * import { SeqFileTally } from "./seq_file_tally.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/f`, "app[1]: seq=00000000\napp[1]: seq=00000002\n");
 * const t = new SeqFileTally(`${dir}/f`, "app[");
 * await t.update();
 * // t.tally.unique 2, t.tally.missing(3).first [1]
 * ```
 */
export class SeqFileTally {
  /** What has arrived so far. */
  readonly tally: SeqTally = new SeqTally();
  #path: string;
  #marker: string | undefined;
  #offset = 0;
  #rest = "";

  /**
   * @param path the file a collector writes, one message per line
   * @param marker only lines holding this count (default: every line with `seq=`)
   */
  constructor(path: string, marker?: string) {
    this.#path = path;
    this.#marker = marker;
  }

  /** Reads what was appended since the last call (nothing while the file does not exist). */
  async update(): Promise<void> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.#path, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    try {
      await file.seek(this.#offset, Deno.SeekMode.Start);
      const buf = new Uint8Array(1 << 20);
      for (;;) {
        const n = await file.read(buf);
        if (n === null) break;
        this.#offset += n;
        this.#take(decoder.decode(buf.subarray(0, n), { stream: true }));
      }
    } finally {
      file.close();
    }
  }

  #take(text: string): void {
    const lines = (this.#rest + text).split("\n");
    this.#rest = lines.pop() ?? "";
    for (const line of lines) {
      const seq = seqOf(line, this.#marker);
      if (seq !== undefined) this.tally.add(seq);
    }
  }
}
