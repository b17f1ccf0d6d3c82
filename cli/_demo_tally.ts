/**
 * Counting what arrived at the demo's collector, reading only what was added
 * to its file since the last look.
 *
 * @module
 */

const decoder = new TextDecoder();

/**
 * Sequence numbers (`seq=NNNNNNNN`) in the lines of a growing file that carry
 * `marker`: how many lines, how many distinct numbers, and which of 0..n-1
 * are missing.
 */
export class SeqTally {
  #path: string;
  #marker: string;
  #offset = 0;
  #rest = "";
  #seen = new Uint8Array(1 << 16);
  /** Lines with a sequence number. */
  lines = 0;
  /** Distinct sequence numbers. */
  unique = 0;

  constructor(path: string, marker: string) {
    this.#path = path;
    this.#marker = marker;
  }

  /** Extra copies received: `lines - unique`. */
  get duplicates(): number {
    return this.lines - this.unique;
  }

  /** Reads what was appended since the last call. */
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

  /** How many of 0..n-1 have not arrived, and the first few of them. */
  missing(n: number): { count: number; first: number[] } {
    const first: number[] = [];
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (i >= this.#seen.length || this.#seen[i] === 0) {
        count++;
        if (first.length < 10) first.push(i);
      }
    }
    return { count, first };
  }

  #take(text: string): void {
    const all = this.#rest + text;
    const lines = all.split("\n");
    this.#rest = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.includes(this.#marker)) continue;
      const at = line.indexOf("seq=");
      if (at < 0) continue;
      const seq = Number(line.slice(at + 4, at + 12));
      if (!Number.isSafeInteger(seq) || seq < 0) continue;
      this.lines++;
      if (seq >= this.#seen.length) {
        let size = this.#seen.length;
        while (size <= seq) size *= 2;
        const grown = new Uint8Array(size);
        grown.set(this.#seen);
        this.#seen = grown;
      }
      if (this.#seen[seq] === 0) {
        this.#seen[seq] = 1;
        this.unique++;
      }
    }
  }
}
