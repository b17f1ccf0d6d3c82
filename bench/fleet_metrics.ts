/**
 * The fleet simulation's figures from its per-second series: balance between
 * collectors, time to rebalance after a change, a returning collector's peak,
 * time to drain. Pure functions over arrays, so they are tested alone.
 *
 * @module
 */

/** The mean per-second inflow of each collector over a window, and max / min of them. */
export interface Balance {
  /** Mean messages per second of each collector over the window. */
  means: number[];
  /** max / min of `means` over the collectors counted; null when the min is 0 (never balanced). */
  ratio: number | null;
  /** The worst one-second max / min in the window; null when a second had a collector at 0. */
  worstSecond: number | null;
}

/**
 * Balance of `inflow` (per collector, per second) over seconds [from, to),
 * among the collectors in `members` (default all).
 *
 * @example
 * ```ts
 * import { balance } from "./fleet_metrics.ts";
 *
 * balance([[10, 12], [10, 8], [10, 10]], 0, 2).ratio; // 11 / 9
 * ```
 */
export function balance(
  inflow: number[][],
  from: number,
  to: number,
  members?: number[],
): Balance {
  const who = members ?? inflow.map((_, i) => i);
  const means = inflow.map((series) => mean(series.slice(from, to)));
  const picked = who.map((i) => means[i] ?? 0);
  const ratio = maxOverMin(picked);
  let worstSecond: number | null = 1;
  for (let s = from; s < to; s++) {
    const r = maxOverMin(who.map((i) => inflow[i]?.[s] ?? 0));
    if (r === null) {
      worstSecond = null;
      break;
    }
    worstSecond = Math.max(worstSecond, r);
  }
  return { means, ratio, worstSecond: to > from ? worstSecond : null };
}

/** max / min of `xs`; null when empty or when the min is 0. */
function maxOverMin(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const min = Math.min(...xs);
  return min > 0 ? Math.max(...xs) / min : null;
}

/** The mean of `xs` (0 for none). */
function mean(xs: number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * Seconds from a change at `atS` until every collector in `live` gets at
 * least half of `fairShare` per second and keeps it for `hold` seconds in a
 * row (or to the end of the series): the end of the first such second minus
 * `atS`. Only seconds before `untilS` (the load's end) count; null when it
 * never happens.
 *
 * @example
 * ```ts
 * import { rebalanceSeconds } from "./fleet_metrics.ts";
 *
 * // c2 gets its share from second 3 on
 * rebalanceSeconds([[9, 9, 9, 9, 9], [0, 0, 0, 9, 9]], 1, [0, 1], 10, 5, 2); // 3
 * ```
 */
export function rebalanceSeconds(
  inflow: number[][],
  atS: number,
  live: number[],
  fairShare: number,
  untilS: number,
  hold = 3,
): number | null {
  if (live.length === 0) return null;
  const ok = (s: number): boolean => live.every((i) => (inflow[i]?.[s] ?? 0) >= fairShare / 2);
  const first = Math.max(0, Math.floor(atS));
  for (let s = first; s < untilS; s++) {
    let held = true;
    for (let k = s; k < Math.min(untilS, s + hold); k++) {
      if (!ok(k)) {
        held = false;
        break;
      }
    }
    if (held) return s + 1 - atS;
  }
  return null;
}

/** A returning collector's busiest second after it came back. */
export interface ReturnPeak {
  /** The collector, 0-based. */
  collector: number;
  /** The most messages it took in one second in the window. */
  peak: number;
  /** Which second (after the load started) that was. */
  atS: number;
  /** `peak` / its steady per-second share. */
  ratio: number;
}

/**
 * The peak one-second inflow of `collector` over seconds [fromS, toS), against
 * `share` (its steady per-second share).
 */
export function returnPeak(
  inflow: number[][],
  collector: number,
  fromS: number,
  toS: number,
  share: number,
): ReturnPeak {
  const series = inflow[collector] ?? [];
  let peak = 0;
  let at = fromS;
  for (let s = fromS; s < Math.min(toS, series.length); s++) {
    const v = series[s] ?? 0;
    if (v > peak) {
      peak = v;
      at = s;
    }
  }
  return { collector, peak, atS: at, ratio: share > 0 ? peak / share : 0 };
}

/** One poll of every agent's status. */
export interface StatusPoll {
  /** Seconds after the load started. */
  atS: number;
  /** Each agent's `spool.messages` (undefined: no answer). */
  spooled: (number | undefined)[];
  /** Each agent's `counters.forwarded` (undefined: no answer). */
  forwarded: (number | undefined)[];
  /** Each agent's `counters.received` (undefined: no answer). */
  received: (number | undefined)[];
}

/**
 * Seconds from `fromS` until the first poll at or after it in which every
 * agent answered with `spool.messages` 0; null when none did.
 */
export function spoolEmptyAfter(polls: StatusPoll[], fromS: number): number | null {
  for (const p of polls) {
    if (p.atS < fromS) continue;
    if (p.spooled.every((v) => v === 0)) return p.atS - fromS;
  }
  return null;
}

/**
 * Whether the fleet has drained at poll `i`: every spool empty, every agent
 * has received what was sent to it (`sent`), and no agent's forwarded counter
 * moved since the poll before.
 */
export function drainedAt(polls: StatusPoll[], i: number, sent: number[]): boolean {
  const p = polls[i];
  const prev = polls[i - 1];
  if (p === undefined || prev === undefined) return false;
  return p.spooled.every((v) => v === 0) &&
    p.received.every((v, a) => v !== undefined && v >= (sent[a] ?? 0)) &&
    p.forwarded.every((v, a) => v !== undefined && v === prev.forwarded[a]);
}
