/**
 * A spool file system whose fdatasync is slow, or held until released: a disk
 * that cannot keep up, for tests and the durability benchmark.
 *
 * @module
 */

import { denoFs, type SpoolFile, type SpoolFs } from "../spool/mod.ts";
import { sleep } from "./cleanup.ts";

/**
 * Wraps a {@linkcode SpoolFs} (default the real one): counts the writes and
 * fdatasyncs of the files it opens, adds `syncDelayMs` of real time after each
 * fdatasync, and while {@linkcode SlowSyncFs.hold} is in force keeps every
 * fdatasync from finishing until {@linkcode SlowSyncFs.release}.
 *
 * @example
 * ```ts
 * import { SlowSyncFs } from "./slow_sync_fs.ts";
 * const fs = new SlowSyncFs({ syncDelayMs: 5 }); // a disk whose fdatasync takes 5 ms more
 * // Spool.open(cfg, 65536, log, { fs })
 * ```
 */
export class SlowSyncFs implements SpoolFs {
  #inner: SpoolFs;
  #delayMs: number;
  #held: (() => void)[] | undefined;
  /** `write` calls on segment files. */
  writes = 0;
  /** fdatasync calls on segment files (started). */
  syncs = 0;
  /** fdatasync calls waiting for {@linkcode SlowSyncFs.release}. */
  get waiting(): number {
    return this.#held?.length ?? 0;
  }

  constructor(opts: { inner?: SpoolFs; syncDelayMs?: number } = {}) {
    this.#inner = opts.inner ?? denoFs;
    this.#delayMs = opts.syncDelayMs ?? 0;
  }

  /** From now on every fdatasync waits for {@linkcode SlowSyncFs.release}. */
  hold(): void {
    this.#held ??= [];
  }

  /** Lets the held fdatasyncs finish, and the next ones run freely. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const go of held) go();
  }

  async #sync(file: SpoolFile): Promise<void> {
    this.syncs++;
    await file.syncData();
    if (this.#delayMs > 0) await sleep(this.#delayMs);
    const held = this.#held;
    if (held !== undefined) await new Promise<void>((go) => held.push(go));
  }

  async open(path: string, mode: "read" | "append"): Promise<SpoolFile> {
    const file = await this.#inner.open(path, mode);
    return {
      write: (data) => {
        this.writes++;
        return file.write(data);
      },
      read: (buf) => file.read(buf),
      seek: (offset) => file.seek(offset),
      truncate: (len) => file.truncate(len),
      syncData: () => this.#sync(file),
      close: () => file.close(),
    };
  }

  mkdir(dir: string): Promise<void> {
    return this.#inner.mkdir(dir);
  }
  list(dir: string): Promise<string[]> {
    return this.#inner.list(dir);
  }
  stat(path: string): Promise<{ size: number; mtime: number | undefined }> {
    return this.#inner.stat(path);
  }
  remove(path: string): Promise<void> {
    return this.#inner.remove(path);
  }
  rename(from: string, to: string): Promise<void> {
    return this.#inner.rename(from, to);
  }
  readFile(path: string): Promise<Uint8Array> {
    return this.#inner.readFile(path);
  }
  writeFile(path: string, data: Uint8Array): Promise<void> {
    return this.#inner.writeFile(path, data);
  }
  truncate(path: string, len: number): Promise<void> {
    return this.#inner.truncate(path, len);
  }
  syncDir(dir: string): Promise<void> {
    return this.#inner.syncDir(dir);
  }
}
