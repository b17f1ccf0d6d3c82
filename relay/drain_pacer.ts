/**
 * The pace of a catch-up: how fast the forwarder sends while it works off a
 * backlog (the spool after an outage) or resends (a replay).
 *
 * @module
 */

import { type Batch, type Clock, sleep } from "../ground/mod.ts";
import {
  DRAIN_AUTO_FACTOR,
  DRAIN_AUTO_FLOOR,
  DRAIN_AUTO_MIN,
  DRAIN_BACKLOG_MIN,
  DRAIN_HISTORY_MS,
} from "../config/mod.ts";

/** The bucket holds this many seconds of the rate: a catch-up starts with a small burst. */
const BUCKET_SECONDS = 0.1;

/**
 * Paces batches while the forwarder catches up, so that a fleet coming back
 * from a collector outage does not flood the tier with every agent's backlog at
 * once. Catching up means: the batch is a resend, or more is waiting than
 * `max(DRAIN_BACKLOG_MIN, 2 s of inflow)` messages. Then batches go out at most
 * at the drain rate (a token bucket of a tenth of a second): `maxDrainRate`
 * messages a second, or with `"auto"` {@linkcode DRAIN_AUTO_FACTOR} times this
 * agent's own inflow over the last minute (at least {@linkcode DRAIN_AUTO_MIN};
 * {@linkcode DRAIN_AUTO_FLOOR} while the agent has run less than
 * {@linkcode DRAIN_HISTORY_MS} and knows no inflow, and for what reached the
 * spool before it started: a restarted agent's backlog). So a backlog drains
 * at most 1.6 times as fast as it built up, and a collector that takes an
 * agent back sees less than twice that agent's steady share.
 * `0` turns pacing off. Live traffic with no backlog is never paced.
 *
 * @example
 * ```ts
 * import { DrainPacer } from "./drain_pacer.ts";
 * import { systemClock } from "../ground/mod.ts";
 *
 * let received = 0;
 * const pacer = new DrainPacer("auto", () => received, systemClock);
 * await pacer.pace({ data: new Uint8Array(0), count: 1 }, 0, new AbortController().signal);
 * ```
 */
export class DrainPacer {
  #rate: "auto" | number;
  #received: () => number;
  #clock: Clock;
  /** Samples of the received counter, one a second at most, over the last minute. */
  #samples: { at: number; received: number }[] = [];
  /** Starts full (the first refill caps it): a catch-up starts with a tenth of a second's burst. */
  #tokens = Infinity;
  #filledAt: number;
  #startedAt: number;
  /** Messages paced, and the time spent waiting for the pace. */
  paced = 0;
  waitedMs = 0;

  /** `received` reads the agent's count of messages received (its inflow). */
  constructor(rate: "auto" | number, received: () => number, clock: Clock) {
    this.#rate = rate;
    this.#received = received;
    this.#clock = clock;
    this.#filledAt = clock.now();
    this.#startedAt = clock.now();
  }

  /** Messages a second this agent has received, over up to the last minute (0 before 1 s). */
  inflow(): number {
    const now = this.#clock.now();
    const samples = this.#samples;
    const last = samples.at(-1);
    if (last === undefined || now - last.at >= 1000) {
      samples.push({ at: now, received: this.#received() });
      while (samples.length > 1 && now - samples[0]!.at > 60_000) samples.shift();
    }
    const first = samples[0]!;
    const span = now - first.at;
    return span < 1000 ? 0 : (this.#received() - first.received) * 1000 / span;
  }

  /**
   * The drain rate now, messages a second; 0: unpaced. `leftover`: the batch
   * reached the spool before this agent started (a backlog a stopped or
   * restarted agent left), which this agent's inflow says nothing about.
   */
  rate(leftover = false): number {
    return this.#rateAt(this.inflow(), leftover);
  }

  /**
   * Waits, when the forwarder is catching up (`batch` is a resend, or
   * `pending` messages wait to be taken), until `batch` may go out at the
   * drain rate; resolves at once otherwise, and early when `signal` aborts.
   */
  async pace(batch: Batch, pending: number, signal: AbortSignal): Promise<void> {
    const inflow = this.inflow();
    const rate = this.#rateAt(
      inflow,
      batch.arrivedAt !== undefined && batch.arrivedAt < this.#startedAt,
    );
    this.#refill(rate);
    if (rate <= 0) return;
    const catchingUp = batch.resent === true || pending > Math.max(DRAIN_BACKLOG_MIN, 2 * inflow);
    if (!catchingUp) return;
    const need = Math.min(batch.count, rate * BUCKET_SECONDS);
    if (this.#tokens < need) {
      const waitMs = Math.ceil((need - this.#tokens) * 1000 / rate);
      this.waitedMs += waitMs;
      await sleep(this.#clock, waitMs, signal);
      this.#refill(rate);
    }
    this.#tokens -= batch.count;
    this.paced += batch.count;
  }

  #rateAt(inflow: number, leftover: boolean): number {
    if (this.#rate !== "auto") return this.#rate;
    if (leftover || this.#clock.now() - this.#startedAt < DRAIN_HISTORY_MS) {
      return DRAIN_AUTO_FLOOR;
    }
    return Math.max(DRAIN_AUTO_MIN, DRAIN_AUTO_FACTOR * inflow);
  }

  #refill(rate: number): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(
      rate * BUCKET_SECONDS,
      this.#tokens + (now - this.#filledAt) * rate / 1000,
    );
    this.#filledAt = now;
  }
}
