/**
 * A first-in, first-out queue for the hot paths: the buffer's memory tier, the
 * batches a forwarder or a link holds unconfirmed, the spool's cache of chunks.
 *
 * @module
 */

/** The head must have passed at least this many items before the array is cut. */
const CUT_AFTER = 1024;

/**
 * An array and the index of its oldest item: taking from the front moves the
 * index instead of shifting the array (thousands of items wait at a host's
 * rates, and a shift per item moved them all). Taken slots are cleared at once,
 * so what they held can be collected; the array is cut once the head has
 * passed half of it (and at least 1,024 items), or when it is empty:
 * amortized O(1) per item.
 *
 * @example
 * ```ts
 * import { Queue } from "./queue.ts";
 *
 * const q = new Queue<string>();
 * q.push("a");
 * q.push("b");
 * q.shift(); // "a"
 * q.at(0); // "b"
 * q.length; // 1
 * ```
 */
export class Queue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** How many items wait. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds `item` at the end. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** The `i`-th oldest item (0: the next out), or `undefined` beyond the end. */
  at(i: number): T | undefined {
    return i < 0 ? undefined : this.#items[this.#head + i];
  }

  /** Replaces the `i`-th oldest item (`0 <= i < length`). */
  set(i: number, item: T): void {
    if (i < 0 || i >= this.length) throw new RangeError(`queue: no item ${i} of ${this.length}`);
    this.#items[this.#head + i] = item;
  }

  /** Where `item` is (0: the next out), or -1. */
  indexOf(item: T): number {
    const i = this.#items.indexOf(item, this.#head);
    return i < 0 ? -1 : i - this.#head;
  }

  /** Takes out the oldest item; `undefined` when empty. */
  shift(): T | undefined {
    const items = this.#items;
    if (this.#head >= items.length) return undefined;
    const item = items[this.#head];
    items[this.#head++] = undefined;
    if (this.#head === items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= CUT_AFTER && this.#head * 2 >= items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Takes out every item, oldest first. */
  takeAll(): T[] {
    const all = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return all;
  }
}
