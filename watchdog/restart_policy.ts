/**
 * When to restart rsyslogd after it died: exponential backoff, reset after a
 * stable run, and crash-loop detection.
 *
 * @module
 */

import type { Clock } from "../ground/mod.ts";

/** Tuning of a {@linkcode RestartPolicy}; every field has a default. */
export interface RestartPolicyOptions {
  /** Delay before the first restart (default 100 ms, like systemd's `RestartSec=100ms`). */
  baseMs?: number;
  /** Longest delay, and the pace of retries once it is in the failed state (default 30 s). */
  capMs?: number;
  /** A process that ran this long resets the backoff and the crash loop (default 60 s). */
  stableMs?: number;
  /** This many restarts within `windowMs` make a crash loop (default 5). */
  burst?: number;
  /** See `burst` (default 60 s). */
  windowMs?: number;
}

/** Defaults of {@linkcode RestartPolicyOptions}. */
export const RESTART_DEFAULTS: Required<RestartPolicyOptions> = {
  baseMs: 100,
  capMs: 30_000,
  stableMs: 60_000,
  burst: 5,
  windowMs: 60_000,
};

/**
 * Decides how long to wait before the next start. Each death doubles the delay
 * (100 ms, 200 ms, 400 ms … up to 30 s); a process that ran for `stableMs`
 * wipes the slate. `burst` deaths within `windowMs` are a crash loop: the
 * policy is then {@linkcode RestartPolicy.failing} and waits `capMs` between
 * attempts until a process runs stably again. A start that cannot happen at all
 * (no such program, config rejected) goes straight to the failed state.
 *
 * @example
 * ```ts
 * import { RestartPolicy } from "./restart_policy.ts";
 * import { systemClock } from "../ground/mod.ts";
 *
 * const policy = new RestartPolicy(systemClock);
 * policy.started();
 * const delay = policy.died(); // 100 on the first death
 * ```
 */
export class RestartPolicy {
  #clock: Clock;
  #opts: Required<RestartPolicyOptions>;
  #startedAt: number | undefined;
  #consecutive = 0;
  #deaths: number[] = [];
  #failing = false;

  constructor(clock: Clock, opts: RestartPolicyOptions = {}) {
    this.#clock = clock;
    this.#opts = { ...RESTART_DEFAULTS, ...opts };
  }

  /** The options in force, defaults filled in. */
  get options(): Readonly<Required<RestartPolicyOptions>> {
    return this.#opts;
  }

  /** Whether it is in the failed state (crash loop or a start that cannot happen). */
  get failing(): boolean {
    this.#settle();
    return this.#failing;
  }

  /** Deaths since the last stable run. */
  get consecutive(): number {
    this.#settle();
    return this.#consecutive;
  }

  /** Deaths counted in the crash-loop window now. */
  get recentDeaths(): number {
    const now = this.#clock.now();
    return this.#deaths.filter((t) => now - t < this.#opts.windowMs).length;
  }

  /** Records that a process started now. */
  started(): void {
    this.#startedAt = this.#clock.now();
  }

  /**
   * Records that the process died (or could not be brought back) now; returns
   * the delay in ms before the next attempt.
   */
  died(): number {
    this.#settle();
    const now = this.#clock.now();
    this.#startedAt = undefined;
    this.#consecutive++;
    this.#deaths.push(now);
    this.#deaths = this.#deaths.filter((t) => now - t < this.#opts.windowMs);
    if (this.#deaths.length >= this.#opts.burst) this.#failing = true;
    if (this.#failing) return this.#opts.capMs;
    return Math.min(this.#opts.capMs, this.#opts.baseMs * 2 ** (this.#consecutive - 1));
  }

  /**
   * Records a start that could not happen (the program is missing, its config
   * is rejected): failed state at once; returns the delay before the next try.
   */
  cannotStart(): number {
    this.#startedAt = undefined;
    this.#failing = true;
    return this.#opts.capMs;
  }

  /** A process that has run for `stableMs` resets everything. */
  #settle(): void {
    if (
      this.#startedAt !== undefined && this.#clock.now() - this.#startedAt >= this.#opts.stableMs
    ) {
      this.#consecutive = 0;
      this.#deaths = [];
      this.#failing = false;
    }
  }
}
