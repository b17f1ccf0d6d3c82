/**
 * Counter samples over the last minute: the rates of status and STATUS=, and
 * what was dropped or set aside in the last minute.
 *
 * @module
 */

import type { Clock } from "../ground/mod.ts";
import type { Counters } from "../relay/mod.ts";

/** Time between two samples. */
const SAMPLE_MS = 1_000;
/** Samples kept: one minute, plus the one a minute back. */
const KEPT = 61;

interface Sample {
  at: number;
  received: number;
  forwarded: number;
  dropped: number;
  deadLettered: number;
}

/**
 * Samples `counters` once a second on `clock` and keeps the last minute.
 *
 * @example
 * ```ts
 * import { CounterHistory } from "./counter_history.ts";
 * import { FakeClock } from "../ground/mod.ts";
 * import { Counters } from "../relay/mod.ts";
 *
 * const clock = new FakeClock(0);
 * const counters = new Counters();
 * const history = new CounterHistory(counters, clock);
 * history.start();
 * counters.received += 500;
 * await clock.advance(10_000);
 * console.log(history.rates().received); // 50 a second
 * history.stop();
 * ```
 */
export class CounterHistory {
  #counters: Counters;
  #clock: Clock;
  #samples: Sample[] = [];
  #timer: unknown;
  #running = false;

  /** A history of `counters`, empty until {@linkcode CounterHistory.start}. */
  constructor(counters: Counters, clock: Clock) {
    this.#counters = counters;
    this.#clock = clock;
  }

  /** Takes a sample now and then one every second. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const tick = () => {
      this.#sample();
      this.#timer = this.#clock.setTimeout(tick, SAMPLE_MS);
    };
    tick();
  }

  /** Stops sampling. */
  stop(): void {
    this.#running = false;
    this.#clock.clearTimeout(this.#timer);
  }

  /** Messages per second over the last minute (or since the first sample). */
  rates(): { received: number; forwarded: number; dropped: number } {
    const first = this.#samples[0];
    const secs = first ? (this.#clock.now() - first.at) / 1000 : 0;
    if (!first || secs <= 0) return { received: 0, forwarded: 0, dropped: 0 };
    const c = this.#counters;
    return {
      received: (c.received - first.received) / secs,
      forwarded: (c.forwarded - first.forwarded) / secs,
      dropped: (c.dropped - first.dropped) / secs,
    };
  }

  /** Messages dropped and dead-lettered in the last minute (or since the first sample). */
  lastMinute(): { dropped: number; deadLettered: number } {
    const first = this.#samples[0] ?? { dropped: 0, deadLettered: 0 };
    const c = this.#counters;
    return {
      dropped: c.dropped - first.dropped,
      deadLettered: c.deadLettered - first.deadLettered,
    };
  }

  #sample(): void {
    const { received, forwarded, dropped, deadLettered } = this.#counters;
    this.#samples.push({ at: this.#clock.now(), received, forwarded, dropped, deadLettered });
    if (this.#samples.length > KEPT) this.#samples.shift();
  }
}
