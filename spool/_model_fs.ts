/**
 * A model of a file system for the spool's model-based test: files and
 * directory entries in memory, with what survives a crash tracked apart from
 * what the running process sees, and a crash that can land at any operation.
 *
 * The model is the pessimistic one the spool must be correct under: written
 * bytes survive only once fdatasync'ed (of the rest, any prefix may survive: a
 * torn write), and a created, renamed or removed directory entry only once its
 * directory is fsynced (else the old entry comes back).
 *
 * @module
 */

import type { SpoolFile, SpoolFs } from "./spool_fs.ts";

/** Thrown by every operation from the fault point on: the process is dead. */
export class CrashError extends Error {
  constructor(op: string) {
    super(`crashed at ${op}`);
    this.name = "CrashError";
  }
}

class Inode {
  data = new Uint8Array(64);
  len = 0;
  /** What a crash leaves of the file: the bytes as of the last fdatasync. */
  durable = new Uint8Array(0);

  bytes(): Uint8Array {
    return this.data.subarray(0, this.len);
  }

  append(src: Uint8Array): void {
    if (this.len + src.length > this.data.length) {
      const bigger = new Uint8Array(Math.max(this.data.length * 2, this.len + src.length));
      bigger.set(this.bytes());
      this.data = bigger;
    }
    this.data.set(src, this.len);
    this.len += src.length;
  }
}

/** A {@linkcode SpoolFs} in memory, with crash points. */
export class ModelFs implements SpoolFs {
  #files = new Map<string, Inode>();
  #durableFiles = new Map<string, Inode>();
  #dirs = new Set<string>();
  #ops = 0;
  /** The operation at which the crash lands (it does not happen); Infinity: none. */
  crashAt = Infinity;
  /** The operation the crash landed on, once it has. */
  crashedAt: string | undefined;
  /** Set to make writes fail with "No space left on device" (ENOSPC). */
  full = false;
  /**
   * Set to make each fdatasync take time: it covers what was written when it
   * was called, and takes effect when this resolves (unless a crash landed
   * meanwhile, which it then does not survive).
   */
  syncDelay: (() => Promise<void>) | undefined;

  /** Operations done so far: the fault points passed. */
  get ops(): number {
    return this.#ops;
  }

  #step(op: string): void {
    if (this.crashedAt !== undefined) throw new CrashError(op);
    this.#ops++;
    if (this.#ops >= this.crashAt) {
      this.crashedAt = op;
      throw new CrashError(op);
    }
  }

  #inode(path: string): Inode {
    const inode = this.#files.get(path);
    if (inode === undefined) throw new Deno.errors.NotFound(`No such file: ${path}`);
    return inode;
  }

  /** What the files hold after a crash now: a new file system, `random` picks torn writes. */
  afterCrash(random: () => number): ModelFs {
    const fs = new ModelFs();
    fs.syncDelay = this.syncDelay;
    fs.#dirs = new Set(this.#dirs);
    const copies = new Map<Inode, Inode>();
    for (const [path, inode] of this.#durableFiles) {
      let copy = copies.get(inode);
      if (copy === undefined) {
        copy = new Inode();
        copy.append(inode.durable);
        // Of what was written after the last sync, a prefix may have reached the disk.
        const cur = inode.bytes();
        const sameStart = cur.length > inode.durable.length &&
          cur.subarray(0, inode.durable.length).every((b, i) => b === inode.durable[i]);
        if (sameStart && random() < 0.5) {
          const extra = Math.floor(random() * (cur.length - inode.durable.length + 1));
          copy.append(cur.subarray(inode.durable.length, inode.durable.length + extra));
        }
        copy.durable = copy.bytes().slice();
        copies.set(inode, copy);
      }
      fs.#files.set(path, copy);
      fs.#durableFiles.set(path, copy);
    }
    return fs;
  }

  /** Bytes of the files whose names end in `suffix`, as the running process sees them. */
  sizeOf(suffix: string): number {
    let n = 0;
    for (const [path, inode] of this.#files) if (path.endsWith(suffix)) n += inode.len;
    return n;
  }

  /** Removes a file as an operator would (no crash point). */
  removeByHand(path: string): boolean {
    return this.#files.delete(path);
  }

  /** The files' paths, as the running process sees them. */
  paths(): string[] {
    return [...this.#files.keys()].sort();
  }

  mkdir(dir: string): Promise<void> {
    this.#step("mkdir");
    this.#dirs.add(dir);
    return Promise.resolve();
  }

  list(dir: string): Promise<string[]> {
    this.#step("list");
    if (!this.#dirs.has(dir)) return Promise.reject(new Deno.errors.NotFound(dir));
    const prefix = `${dir}/`;
    return Promise.resolve(
      [...this.#files.keys()].filter((p) => p.startsWith(prefix)).map((p) =>
        p.slice(prefix.length)
      ),
    );
  }

  stat(path: string): Promise<{ size: number; mtime: number | undefined }> {
    this.#step("stat");
    if (this.#dirs.has(path)) return Promise.resolve({ size: 0, mtime: 0 });
    try {
      return Promise.resolve({ size: this.#inode(path).len, mtime: 0 });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  open(path: string, mode: "read" | "append"): Promise<SpoolFile> {
    this.#step(`open-${mode}`);
    let inode = this.#files.get(path);
    if (inode === undefined) {
      const dir = path.slice(0, path.lastIndexOf("/"));
      if (mode === "read" || !this.#dirs.has(dir)) {
        return Promise.reject(new Deno.errors.NotFound(`No such file: ${path}`));
      }
      inode = new Inode();
      this.#files.set(path, inode);
    }
    const node = inode;
    let pos = 0;
    const step = (op: string) => this.#step(op);
    return Promise.resolve({
      write: (data: Uint8Array) => {
        step("write");
        if (this.full) return Promise.reject(new Error("No space left on device (os error 28)"));
        // Part of a write may land before the crash point of the next operation.
        node.append(data);
        return Promise.resolve(data.length);
      },
      read: (buf: Uint8Array) => {
        step("read");
        if (pos >= node.len) return Promise.resolve(null);
        const n = Math.min(buf.length, node.len - pos);
        buf.set(node.data.subarray(pos, pos + n));
        pos += n;
        return Promise.resolve(n);
      },
      seek: (offset: number) => {
        step("seek");
        pos = offset;
        return Promise.resolve();
      },
      truncate: (len: number) => {
        step("truncate");
        node.len = Math.min(node.len, len);
        return Promise.resolve();
      },
      syncData: async () => {
        step("fdatasync");
        const covered = node.bytes().slice();
        if (this.syncDelay !== undefined) {
          await this.syncDelay();
          if (this.crashedAt !== undefined) throw new CrashError("fdatasync (in progress)");
        }
        node.durable = covered;
      },
      close: () => {},
    });
  }

  remove(path: string): Promise<void> {
    this.#step("unlink");
    if (!this.#files.delete(path)) return Promise.reject(new Deno.errors.NotFound(path));
    return Promise.resolve();
  }

  rename(from: string, to: string): Promise<void> {
    this.#step("rename");
    const inode = this.#files.get(from);
    if (inode === undefined) return Promise.reject(new Deno.errors.NotFound(from));
    this.#files.delete(from);
    this.#files.set(to, inode);
    return Promise.resolve();
  }

  readFile(path: string): Promise<Uint8Array> {
    this.#step("read-file");
    try {
      return Promise.resolve(this.#inode(path).bytes().slice());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  writeFile(path: string, data: Uint8Array): Promise<void> {
    this.#step("write-file");
    if (this.full) return Promise.reject(new Error("No space left on device (os error 28)"));
    const inode = new Inode();
    inode.append(data);
    this.#files.set(path, inode);
    this.#step("write-file-fdatasync");
    inode.durable = inode.bytes().slice();
    return Promise.resolve();
  }

  truncate(path: string, len: number): Promise<void> {
    this.#step("truncate");
    try {
      const inode = this.#inode(path);
      inode.len = Math.min(inode.len, len);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  syncDir(dir: string): Promise<void> {
    this.#step("fsync-dir");
    const prefix = `${dir}/`;
    for (const path of [...this.#durableFiles.keys()]) {
      if (path.startsWith(prefix)) this.#durableFiles.delete(path);
    }
    for (const [path, inode] of this.#files) {
      if (path.startsWith(prefix)) this.#durableFiles.set(path, inode);
    }
    return Promise.resolve();
  }
}
