/**
 * A clock for tests: time moves only when the test says so.
 *
 * @module
 */

import type { Clock } from "./clock.ts";

interface Timer {
  at: number;
  fn: () => void;
  id: number;
}

/**
 * A {@linkcode Clock} whose time advances only through {@linkcode FakeClock.advance},
 * firing due timers in order.
 *
 * @example
 * ```ts
 * const clock = new FakeClock(0);
 * let fired = false;
 * clock.setTimeout(() => fired = true, 100);
 * await clock.advance(100); // fired === true
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #timers: Timer[] = [];
  #nextId = 1;

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.push({ at: this.#now + Math.max(0, ms), fn, id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#timers.length;
  }

  /**
   * Moves time forward by `ms`, firing each timer that falls due, in order, and
   * letting promise callbacks run after each one.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await flushMicrotasks();
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.#timers[0];
      if (next === undefined || next.at > end) break;
      this.#timers.shift();
      this.#now = next.at;
      next.fn();
    }
    this.#now = end;
    await flushMicrotasks();
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
