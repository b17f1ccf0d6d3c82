/**
 * The acknowledged position and its checkpoint file, written crash-consistent
 * (a temp file fdatasync'ed, renamed over the old one, the directory fsynced).
 *
 * @module
 */

import type { Logger, SpoolPosition } from "../ground/mod.ts";
import type { Segments } from "./_segments.ts";
import type { SpoolFs } from "./spool_fs.ts";

const CHECKPOINT = "checkpoint.json";

/**
 * The checkpoint in `dir`: where delivery resumes after a restart; the start
 * (segment -1) when there is none or it cannot be read (logged).
 */
export async function readCheckpoint(
  fs: SpoolFs,
  dir: string,
  log: Logger,
): Promise<SpoolPosition> {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(await fs.readFile(`${dir}/${CHECKPOINT}`)));
    if (Number.isSafeInteger(parsed.segment) && Number.isSafeInteger(parsed.offset)) return parsed;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      log.warn(`spool: ignoring unreadable ${dir}/${CHECKPOINT} (${e}); resending from the start`);
    }
  }
  return { segment: -1, offset: 0 };
}

/** The acknowledged position, and writing it to the checkpoint file. */
export class Checkpoint {
  #dir: string;
  #fs: SpoolFs;
  #segments: Pick<Segments, "deletions" | "dirChanged" | "syncDir">;
  #segment = -1;
  #offset = 0;
  #dirty = false;

  /** Deletions of `segments` queued before a write happen before it. */
  constructor(
    dir: string,
    fs: SpoolFs,
    segments: Pick<Segments, "deletions" | "dirChanged" | "syncDir">,
  ) {
    this.#dir = dir;
    this.#fs = fs;
    this.#segments = segments;
  }

  /** The segment of the acknowledged position. */
  get segment(): number {
    return this.#segment;
  }

  /** The acknowledged position (segment -1: none). */
  get position(): SpoolPosition {
    return { segment: this.#segment, offset: this.#offset };
  }

  /** Whether the position moved since the file was last written. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /** Sets the position (the one read at start, or the one a stop resumes from). */
  set(pos: SpoolPosition): void {
    this.#segment = pos.segment;
    this.#offset = pos.offset;
  }

  /**
   * Moves the position to `pos` when it is further on. Positions below the one
   * restored at start are in segments written at a stop: the checkpoint never
   * moves back.
   */
  advance(pos: SpoolPosition): void {
    if (
      pos.segment > this.#segment || (pos.segment === this.#segment && pos.offset > this.#offset)
    ) {
      this.#segment = pos.segment;
      this.#offset = pos.offset;
      this.#dirty = true;
    }
  }

  /** Writes the position to the checkpoint file, durably; dirty again when that fails. */
  async write(): Promise<void> {
    this.#dirty = false;
    const text = JSON.stringify({ segment: this.#segment, offset: this.#offset });
    const path = `${this.#dir}/${CHECKPOINT}`;
    // Deletions queued before this checkpoint happen first (see `recover`).
    await this.#segments.deletions();
    try {
      await this.#fs.writeFile(`${path}.tmp`, new TextEncoder().encode(text));
      await this.#fs.rename(`${path}.tmp`, path);
      this.#segments.dirChanged();
      await this.#segments.syncDir();
    } catch (e) {
      this.#dirty = true;
      throw e;
    }
  }
}
