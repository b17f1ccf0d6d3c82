/**
 * Cleanup registry for benchmarks, the demo and tests: every child process
 * and temp dir registers how to undo itself here, so a normal finish, an
 * exception and Ctrl-C (SIGINT/SIGTERM, with {@linkcode installSignalCleanup})
 * all leave nothing running.
 *
 * @module
 */

import { killChildren } from "./find_processes.ts";
import { errorText } from "../ground/mod.ts";

type Cleanup = () => Promise<void> | void;

const cleanups = new Set<Cleanup>();
const tempDirs = new Set<string>();
const late = new Set<Promise<void>>();
let interrupted = false;

/** True once SIGINT or SIGTERM arrived (see {@linkcode installSignalCleanup}): start nothing new. */
export function isInterrupted(): boolean {
  return interrupted;
}

/**
 * Registers `fn` to run at {@linkcode runCleanups}; returns a function that
 * unregisters it. After an interrupt, `fn` runs at once instead (whatever
 * was still starting when the signal came is undone too).
 *
 * @example
 * ```ts
 * import { deferCleanup, runCleanups } from "./cleanup.ts";
 *
 * const undo = deferCleanup(() => console.log("cleaned up"));
 * await runCleanups(); // prints "cleaned up"; undo() would have unregistered it
 * undo();
 * ```
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
      console.error(`cleanup failed: ${errorText(err)}`);
    }
  }
}

/**
 * On SIGINT or SIGTERM: runs all cleanups, kills any child of this process
 * that is still there (by pid), removes the temp dirs, then exits with 130.
 * A second signal exits at once. Returns a function that removes the listeners.
 */
export function installSignalCleanup(name: string): () => void {
  const handler = (): void => {
    if (interrupted) Deno.exit(130);
    interrupted = true;
    console.error(`\n${name}: interrupted, stopping child processes and removing temp dirs…`);
    (async () => {
      await runCleanups();
      await Promise.allSettled([...late]);
      await killChildren(Deno.pid);
      for (const dir of tempDirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    })().finally(() => Deno.exit(130));
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const sig of signals) Deno.addSignalListener(sig, handler);
  return () => {
    for (const sig of signals) Deno.removeSignalListener(sig, handler);
  };
}

/** A temp dir made by {@linkcode tempDir}. */
export interface TempDir {
  /** Its path. */
  readonly path: string;
  /** Removes it (and unregisters its cleanup). */
  remove(): Promise<void>;
}

/**
 * A temp dir that is removed at cleanup (or earlier with `remove`).
 *
 * @example
 * ```ts
 * import { tempDir } from "./cleanup.ts";
 *
 * const dir = await tempDir("example-");
 * await Deno.writeTextFile(`${dir.path}/a.txt`, "a");
 * await dir.remove();
 * ```
 */
export async function tempDir(prefix: string): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  tempDirs.add(path);
  const remove = async (): Promise<void> => {
    unregister();
    tempDirs.delete(path);
    await Deno.remove(path, { recursive: true }).catch(() => {});
  };
  const unregister = deferCleanup(remove);
  return { path, remove };
}

/** Resolves after `ms` milliseconds (for pacing, never to wait for a result: see `waitFor`). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
