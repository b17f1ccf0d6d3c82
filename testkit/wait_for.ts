/**
 * Condition polling with a deadline, for tests that must never sleep blindly.
 *
 * @module
 */

import { errorText } from "../ground/mod.ts";
import { sleep } from "./cleanup.ts";

/** Options for {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this many milliseconds. */
  timeoutMs: number;
  /** What is being waited for; used in the timeout error message. */
  what: string;
  /** Delay between two checks in milliseconds (default 20). */
  intervalMs?: number | undefined;
}

/** Falsy results that make {@link waitFor} keep polling. */
type Pending = undefined | false;

/**
 * Polls `check` until it returns a truthy value and resolves with that value.
 *
 * A `check` that throws counts as "not yet"; the last such error is attached
 * to the timeout error (message and `cause`). On timeout it rejects with
 * `Error("timed out after <timeoutMs>ms waiting for <what>")`.
 */
export async function waitFor<T>(
  check: () => T | Pending | Promise<T | Pending>,
  opts: WaitForOptions,
): Promise<T> {
  const intervalMs = opts.intervalMs ?? 20;
  const deadline = performance.now() + opts.timeoutMs;
  let lastError: unknown = undefined;
  let threw = false;
  while (true) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
      threw = true;
    }
    const remaining = deadline - performance.now();
    if (remaining <= 0) break;
    await sleep(Math.min(intervalMs, remaining));
  }
  let message = `timed out after ${opts.timeoutMs}ms waiting for ${opts.what}`;
  if (threw) {
    const detail = errorText(lastError);
    message += ` (last error: ${detail})`;
    throw new Error(message, { cause: lastError });
  }
  throw new Error(message);
}
