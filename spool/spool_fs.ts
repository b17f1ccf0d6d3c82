/**
 * The file operations of the spool, behind a small interface: the real file
 * system in production, a model of one (with crashes at any operation) in the
 * model-based test.
 *
 * @module
 */

/** An open segment or checkpoint file. */
export interface SpoolFile {
  /** Appends (a file opened for `append`) or writes at the position; returns bytes written. */
  write(data: Uint8Array): Promise<number>;
  /** Reads at the position into `buf`; `null` at the end. */
  read(buf: Uint8Array): Promise<number | null>;
  /** Moves the position to `offset` from the start. */
  seek(offset: number): Promise<void>;
  /** Cuts the file to `len` bytes. */
  truncate(len: number): Promise<void>;
  /** fdatasync: what was written survives a power cut. */
  syncData(): Promise<void>;
  /** Closes the file. */
  close(): void;
}

/** What the spool needs of a file system. Errors are Deno's (`Deno.errors.NotFound`, …). */
export interface SpoolFs {
  /** Creates `dir` and its parents when missing. */
  mkdir(dir: string): Promise<void>;
  /** Names of the regular files in `dir`. */
  list(dir: string): Promise<string[]>;
  /** Size and modification time (ms since the epoch) of `path`. */
  stat(path: string): Promise<{ size: number; mtime: number | undefined }>;
  /** Opens `path` to read, or to append (created when missing). */
  open(path: string, mode: "read" | "append"): Promise<SpoolFile>;
  /** Removes the file `path`. */
  remove(path: string): Promise<void>;
  /** Renames `from` to `to`, replacing `to`. */
  rename(from: string, to: string): Promise<void>;
  /** The contents of `path`. */
  readFile(path: string): Promise<Uint8Array>;
  /** Replaces the contents of `path` with `data` and fdatasyncs it. */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  /** Cuts the file `path` to `len` bytes. */
  truncate(path: string, len: number): Promise<void>;
  /** fsync of the directory: entries created, renamed or removed in it survive a power cut. */
  syncDir(dir: string): Promise<void>;
}

/** The real file system, through Deno's APIs. */
export const denoFs: SpoolFs = {
  mkdir: (dir) => Deno.mkdir(dir, { recursive: true }),
  async list(dir) {
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
    return names;
  },
  async stat(path) {
    const info = await Deno.stat(path);
    return { size: info.size, mtime: info.mtime?.getTime() };
  },
  async open(path, mode) {
    const file = await Deno.open(
      path,
      mode === "read" ? { read: true } : { write: true, create: true, append: true },
    );
    return {
      write: (data) => file.write(data),
      read: (buf) => file.read(buf),
      seek: async (offset) => {
        await file.seek(offset, Deno.SeekMode.Start);
      },
      truncate: (len) => file.truncate(len),
      syncData: () => file.syncData(),
      close: () => file.close(),
    };
  },
  remove: (path) => Deno.remove(path),
  rename: (from, to) => Deno.rename(from, to),
  readFile: (path) => Deno.readFile(path),
  async writeFile(path, data) {
    using file = await Deno.open(path, { write: true, create: true, truncate: true });
    let off = 0;
    while (off < data.length) off += await file.write(data.subarray(off));
    await file.syncData();
  },
  truncate: (path, len) => Deno.truncate(path, len),
  async syncDir(dir) {
    using d = await Deno.open(dir, { read: true });
    await d.sync();
  },
};
