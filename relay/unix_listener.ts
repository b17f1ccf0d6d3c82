/**
 * Listening on a unix stream socket path without following symlinks.
 *
 * @module
 */

/** Options of {@linkcode listenUnix}. */
export interface UnixListenOptions {
  /** The socket's mode, such as 0o660. */
  mode: number;
  /** The socket's group, when given. */
  gid?: number;
}

/**
 * Listens on a unix stream socket at `path`. What is there already is
 * replaced only when it is a socket (a stale one of an earlier run); a
 * symlink, a regular file or anything else is refused, never followed or
 * removed. The socket is made, given its mode and group in a new directory of
 * the agent's own next to `path` (so that no one can swap a symlink in
 * between), then renamed into place: the rename replaces a directory entry,
 * it does not follow one.
 *
 * @throws {Error} `it is a symbolic link, not a socket; remove it`, or what
 *   binding failed of.
 */
export async function listenUnix(path: string, opts: UnixListenOptions): Promise<Deno.Listener> {
  const existing = await Deno.lstat(path).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  });
  if (existing !== undefined && !existing.isSocket) {
    throw new Error(`it is ${kind(existing)}, not a socket; remove it`);
  }
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  // A short name, so that the socket's path there is no longer than `path` (108 bytes at most).
  const own = `${dir}/.${crypto.randomUUID().slice(0, 6)}`;
  await Deno.mkdir(own, { mode: 0o700 });
  try {
    const temp = `${own}/s`;
    const listener = Deno.listen({ transport: "unix", path: temp });
    try {
      await Deno.chmod(temp, opts.mode);
      if (opts.gid !== undefined) await Deno.chown(temp, null, opts.gid);
      await Deno.rename(temp, path);
    } catch (e) {
      listener.close();
      throw e;
    }
    return listener;
  } finally {
    await Deno.remove(own, { recursive: true }).catch(() => {});
  }
}

/** Removes `path` when it is a socket; anything else there is left alone. */
export function removeSocket(path: string): void {
  try {
    if (Deno.lstatSync(path).isSocket) Deno.removeSync(path);
  } catch {
    // Gone already.
  }
}

function kind(info: Deno.FileInfo): string {
  if (info.isSymlink) return "a symbolic link";
  if (info.isFile) return "a regular file";
  if (info.isDirectory) return "a directory";
  return "a device or FIFO";
}
