/**
 * What the fleet's collectors wrote: each collector's file is read from where
 * the last look ended, every line counted for that collector (its inflow) and
 * its sequence number added to the tally of the agent whose tag it carries
 * (one tally per agent over all collectors, so a message delivered to two
 * collectors is a duplicate).
 *
 * @module
 */

import { SeqTally } from "../testkit/mod.ts";

const decoder = new TextDecoder();
const MARK = " - - - seq=";

/**
 * The tag (APP-NAME) and sequence number of a line written by `seqMessage`
 * (`<13>1 TIME host TAG - - - seq=NNNNNNNN …`); undefined for any other line.
 *
 * @example
 * ```ts
 * import { tagAndSeq } from "./fleet_tally.ts";
 *
 * tagAndSeq("<13>1 2026-11-25T00:00:00Z host a07 - - - seq=00000042 xx"); // { tag: "a07", seq: 42 }
 * ```
 */
export function tagAndSeq(line: string): { tag: string; seq: number } | undefined {
  const m = line.indexOf(MARK);
  if (m < 0) return undefined;
  const tag = line.slice(line.lastIndexOf(" ", m - 1) + 1, m);
  let end = m + MARK.length;
  while (end < line.length && line.charCodeAt(end) >= 48 && line.charCodeAt(end) <= 57) end++;
  if (end === m + MARK.length || tag === "") return undefined;
  return { tag, seq: Number(line.slice(m + MARK.length, end)) };
}

/** Per-agent sequence tallies over the files of several collectors. */
export class FleetTally {
  /** One tally per agent, by tag. */
  readonly agents: Map<string, SeqTally>;
  /** Lines that carried no known tag, per collector. */
  readonly foreign: number[];
  #files: string[];
  #offsets: number[];
  #rests: string[];
  #buf = new Uint8Array(1 << 20);

  /**
   * A tally of nothing yet over `files` (each collector's file, one message per
   * line) for the agents tagged `tags`.
   *
   * @param files each collector's file (one message per line)
   * @param tags every agent's tag
   */
  constructor(files: string[], tags: string[]) {
    this.#files = files;
    this.#offsets = files.map(() => 0);
    this.#rests = files.map(() => "");
    this.foreign = files.map(() => 0);
    this.agents = new Map(tags.map((t) => [t, new SeqTally()]));
  }

  /**
   * Reads what collector `c`'s file got since the last call; returns how many
   * complete lines that was (0 while the file does not exist).
   */
  async read(c: number): Promise<number> {
    const path = this.#files[c];
    if (path === undefined) throw new RangeError(`FleetTally: no collector ${c}`);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return 0;
      throw e;
    }
    let lines = 0;
    try {
      await file.seek(this.#offsets[c] ?? 0, Deno.SeekMode.Start);
      for (;;) {
        const n = await file.read(this.#buf);
        if (n === null) break;
        this.#offsets[c] = (this.#offsets[c] ?? 0) + n;
        const parts = ((this.#rests[c] ?? "") + decoder.decode(this.#buf.subarray(0, n))).split(
          "\n",
        );
        this.#rests[c] = parts.pop() ?? "";
        lines += parts.length;
        for (const line of parts) this.#add(c, line);
      }
    } finally {
      file.close();
    }
    return lines;
  }

  /** Distinct messages of every agent together. */
  get unique(): number {
    let n = 0;
    for (const t of this.agents.values()) n += t.unique;
    return n;
  }

  #add(c: number, line: string): void {
    const ts = tagAndSeq(line);
    const tally = ts === undefined ? undefined : this.agents.get(ts.tag);
    if (ts === undefined || tally === undefined) this.foreign[c] = (this.foreign[c] ?? 0) + 1;
    else tally.add(ts.seq);
  }
}
