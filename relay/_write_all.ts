/**
 * Writing a buffer out with a stall timeout, shared by the links.
 *
 * @module
 */

import type { Clock } from "../ground/mod.ts";

/** The stall timer of one connection: re-armed about once per timeout, not once per write. */
interface Guard {
  /** When the write in progress began; undefined between writes. */
  since: number | undefined;
  timer: unknown;
  timedOut: boolean;
  onTimeout: () => void;
}

const guards = new WeakMap<Deno.Conn, Guard>();

/**
 * Writes all of `data` to `conn`. Each `write` call must complete within
 * `timeoutMs`; when one does not, `onTimeout` is called (it should close the
 * connection, which ends the pending write) and the promise rejects with
 * `message`. `onProgress` is called after each completed write call. The
 * timer is per connection and fires at most once per `timeoutMs`: a write
 * costs no timer of its own.
 */
export async function writeAllWithin(
  conn: Deno.Conn,
  data: Uint8Array,
  clock: Clock,
  timeoutMs: number,
  message: string,
  onTimeout: () => void,
  onProgress: () => void,
): Promise<void> {
  let guard = guards.get(conn);
  if (guard === undefined) {
    guard = { since: undefined, timer: undefined, timedOut: false, onTimeout };
    guards.set(conn, guard);
  }
  guard.onTimeout = onTimeout;
  let off = 0;
  while (off < data.length) {
    if (guard.timedOut) throw new Error(message);
    guard.since = clock.now();
    arm(guard, clock, timeoutMs);
    try {
      off += await conn.write(data.subarray(off));
    } catch (e) {
      throw guard.timedOut ? new Error(message) : e;
    } finally {
      guard.since = undefined;
    }
    onProgress();
  }
}

function arm(g: Guard, clock: Clock, timeoutMs: number): void {
  if (g.timer !== undefined) return;
  const check = () => {
    g.timer = undefined;
    if (g.since === undefined) return; // between writes: the next write arms it again
    const left = g.since + timeoutMs - clock.now();
    if (left > 0) {
      g.timer = clock.setTimeout(check, left);
      return;
    }
    g.timedOut = true;
    g.onTimeout();
  };
  g.timer = clock.setTimeout(check, timeoutMs);
}
