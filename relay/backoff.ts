/**
 * Reconnect delays.
 *
 * @module
 */

import { BACKOFF_BASE_MS, BACKOFF_CAP_MS } from "../config/mod.ts";

/**
 * The delay before retry number `failures` (1 for the first): exponential from
 * {@linkcode BACKOFF_BASE_MS}, capped at {@linkcode BACKOFF_CAP_MS}, with "equal
 * jitter" (between half and all of it) so that a fleet of agents does not
 * reconnect in step.
 *
 * @example
 * ```ts
 * backoffDelay(1, () => 0.999); // ≈ 250
 * backoffDelay(20, () => 0); // 5000: half the cap
 * ```
 */
export function backoffDelay(failures: number, random: () => number): number {
  const exp = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  return exp / 2 + (exp / 2) * random();
}
