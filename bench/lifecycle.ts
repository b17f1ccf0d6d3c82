/**
 * Cleanup registry for the benchmark: every child process and temp dir the
 * bench creates registers how to undo itself here, so a normal finish, an
 * exception and Ctrl-C (SIGINT/SIGTERM) all leave nothing running.
 *
 * @module
 */

type Cleanup = () => Promise<void> | void;

const cleanups = new Set<Cleanup>();
const tempDirs = new Set<string>();
const late = new Set<Promise<void>>();
let interrupted = false;

/** True once SIGINT or SIGTERM arrived: callers should start nothing new. */
export function isInterrupted(): boolean {
  return interrupted;
}

/**
 * Registers `fn` to run at {@link runCleanups}; returns a function that
 * unregisters it. After an interrupt, `fn` runs at once instead (whatever
 * was still starting when the signal came is undone too).
 */
export function deferCleanup(fn: Cleanup): () => void {
  if (interrupted) {
    const p = Promise.resolve().then(fn).catch(() => {});
    late.add(p);
    p.finally(() => late.delete(p));
    return () => {};
  }
  cleanups.add(fn);
  return () => {
    cleanups.delete(fn);
  };
}

/** Runs every registered cleanup (newest first), once each; never throws. */
export async function runCleanups(): Promise<void> {
  const all = [...cleanups].reverse();
  cleanups.clear();
  for (const fn of all) {
    try {
      await fn();
    } catch (err) {
      console.error(`bench: cleanup failed: ${err instanceof Error ? err.message : err}`);
    }
  }
}

/**
 * On SIGINT or SIGTERM: runs all cleanups, kills any child of this process
 * that is still there (by pid), removes the temp dirs, then exits with 130.
 * A second signal exits at once. Returns a function that removes the listeners.
 */
export function installSignalCleanup(): () => void {
  const handler = (): void => {
    if (interrupted) Deno.exit(130);
    interrupted = true;
    console.error("\nbench: interrupted, stopping child processes and removing temp dirs…");
    (async () => {
      await runCleanups();
      await Promise.allSettled([...late]);
      await killChildren();
      for (const dir of tempDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    })().finally(() => Deno.exit(130));
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const sig of signals) Deno.addSignalListener(sig, handler);
  return () => {
    for (const sig of signals) Deno.removeSignalListener(sig, handler);
  };
}

/** SIGKILLs the direct children of this process that are still running. */
async function killChildren(): Promise<void> {
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === Deno.pid) Deno.kill(Number(entry.name), "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}

/** A temp dir that is removed at cleanup (or earlier with the returned `remove`). */
export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix });
  tempDirs.add(path);
  const remove = async (): Promise<void> => {
    unregister();
    await Deno.remove(path, { recursive: true }).catch(() => {});
  };
  const unregister = deferCleanup(remove);
  return { path, remove };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
