/**
 * The queue between inputs and the forwarder: memory while the collector keeps
 * up, the spool when it does not.
 *
 * @module
 */

import type { Batch } from "../ground/mod.ts";
import type { Spool, SpoolMark } from "../spool/mod.ts";

/** Memory held for the forwarder before the spool takes over (fallback mode). */
export const DEFAULT_MEMORY_BYTES = 16 * 1024 * 1024;

/**
 * One FIFO in two tiers. In `fallback` mode batches stay in memory while the
 * forwarder is up and keeps up; once it is down, or more than `memoryBytes` wait,
 * everything in memory and everything after it goes to the spool, and stays on
 * that path until the forwarder has read the spool empty: new messages queue
 * behind the spool, so order is kept. In `always` mode every batch goes through
 * the spool. {@linkcode Queue.push} never waits. When the spool cannot be
 * used at all (see `Spool.usable`), batches stay in memory whatever the mode,
 * and beyond `memoryBytes` the oldest are dropped and counted (`onDrop`).
 *
 * @example
 * ```ts
 * import { Queue } from "./queue.ts";
 * import { Spool } from "../spool/mod.ts";
 * import { Logger } from "../ground/mod.ts";
 * import { parseConfig } from "../config/mod.ts";
 *
 * const config = parseConfig("{}", "inline");
 * const spool = await Spool.open(config.spool, 65536, new Logger(config.log));
 * const queue = new Queue(spool, "fallback");
 * queue.up = true;
 * queue.push({ data: new TextEncoder().encode("9 <13>hello"), count: 1 });
 * const next = await queue.take();
 * ```
 */
export class Queue {
  #spool: Spool;
  #always: boolean;
  #memoryBytes: number;
  #mem: Batch[] = [];
  #memHead = 0;
  #memSize = 0;
  #memCount = 0;
  #spooling: boolean;
  #up = false;
  #wake: ((taken: boolean) => void) | undefined;
  /** An interrupt that came while `take` was not waiting: the next wait returns at once. */
  #interrupted = false;
  /** Called with the number of messages dropped from memory (spool unusable). */
  onDrop: (count: number) => void = () => {};

  /**
   * An empty memory tier in front of `spool`; what the spool holds from before is read first.
   *
   * @param spool the spool behind the memory tier
   * @param mode `fallback` or `always` (spec: `spool.mode`)
   * @param memoryBytes the most bytes held in memory
   */
  constructor(spool: Spool, mode: "fallback" | "always", memoryBytes = DEFAULT_MEMORY_BYTES) {
    this.#spool = spool;
    this.#always = mode === "always";
    this.#memoryBytes = memoryBytes;
    // Whatever the spool holds from before a restart comes first.
    this.#spooling = spool.usable && (this.#always || spool.hasUnread);
  }

  /**
   * Whether the forwarder can deliver now. When it goes down, what waits in
   * memory moves to the spool, and new batches follow it there.
   */
  set up(value: boolean) {
    this.#up = value;
    if (!value && !this.#spooling && this.#spool.usable && this.#memHead < this.#mem.length) {
      this.#spooling = true;
      for (const b of this.#drainMemory()) this.#spool.append(b);
    }
  }

  /** Messages and bytes waiting in memory. */
  get memory(): { messages: number; bytes: number } {
    return { messages: this.#memCount, bytes: this.#memSize };
  }

  /** Queues a batch. */
  push(batch: Batch): void {
    if (!this.#spool.usable) {
      this.#pushMemoryOnly(batch);
      return;
    }
    if (!this.#spooling && (!this.#up || this.#memSize + batch.data.length > this.#memoryBytes)) {
      this.#spooling = true;
      for (const b of this.#drainMemory()) this.#spool.append(b);
    }
    if (this.#spooling) {
      this.#spool.append(batch);
    } else {
      this.#mem.push(batch);
      this.#memSize += batch.data.length;
      this.#memCount += batch.count;
    }
    this.#notify();
  }

  /**
   * The oldest batch, waiting for one if there is none; `undefined` once
   * {@linkcode Queue.interrupt} is called while waiting.
   */
  async take(): Promise<Batch | undefined> {
    for (;;) {
      if (this.#memHead < this.#mem.length) {
        const batch = this.#mem[this.#memHead]!;
        this.#mem[this.#memHead++] = undefined as unknown as Batch;
        if (this.#memHead > 1024 && this.#memHead * 2 > this.#mem.length) {
          this.#mem = this.#mem.slice(this.#memHead);
          this.#memHead = 0;
        }
        this.#memSize -= batch.data.length;
        this.#memCount -= batch.count;
        return batch;
      }
      if (this.#spooling) {
        const batch = await this.#spool.read();
        if (batch !== undefined) return batch;
        // The spool is read empty: back to memory unless every batch must go through it.
        if (!this.#always && this.#up && !this.#spool.hasUnread) this.#spooling = false;
      }
      if (this.#memHead < this.#mem.length) continue;
      if (this.#interrupted) {
        this.#interrupted = false;
        return undefined;
      }
      // Wait for a push; poll now and then in case the spool has data it could not read yet.
      const taken = await new Promise<boolean>((resolve) => {
        this.#wake = resolve;
        if (this.#spool.hasUnread) setTimeout(() => this.#notify(), 50);
      });
      if (!taken) return undefined;
    }
  }

  /** The point in the stream of pushes that {@linkcode Queue.settled} answers for. */
  mark(): SpoolMark {
    return this.#spool.mark();
  }

  /**
   * Resolves once every batch pushed so far is safely queued: at once while
   * batches are held in memory (`fallback` mode, collector keeping up); on the
   * spool path once the spool has written them (see `Spool.settled`), so that
   * with `always` an acknowledged message survives a `kill -9`. `true` when
   * everything pushed after `since` was taken, `false` when some of it could
   * not be written (and was dropped): no acknowledgement for that.
   */
  settled(since: SpoolMark): Promise<boolean> {
    return this.#spooling ? this.#spool.settled(since) : Promise.resolve(true);
  }

  /** Marks a taken batch delivered: a batch read from the spool is checkpointed. */
  ack(batch: Batch): void {
    if (batch.end !== undefined) this.#spool.ack(batch.end);
  }

  /**
   * Makes a waiting {@linkcode Queue.take} return `undefined`; when none is
   * waiting (it is reading the spool), the next one that would wait returns
   * `undefined` instead.
   */
  interrupt(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    if (wake) wake(false);
    else this.#interrupted = true;
  }

  /**
   * For a stop: moves what memory holds into the spool (behind what is there),
   * then closes the spool with `inHand` (see `Spool.close`).
   */
  async close(inHand: Batch[]): Promise<void> {
    for (const b of this.#drainMemory()) this.#spool.append(b);
    await this.#spool.close(inHand);
  }

  /** Memory is all there is: the oldest batches make room, and are counted. */
  #pushMemoryOnly(batch: Batch): void {
    this.#spooling = false;
    this.#mem.push(batch);
    this.#memSize += batch.data.length;
    this.#memCount += batch.count;
    while (this.#memSize > this.#memoryBytes && this.#memHead < this.#mem.length - 1) {
      const old = this.#mem[this.#memHead]!;
      this.#mem[this.#memHead++] = undefined as unknown as Batch;
      this.#memSize -= old.data.length;
      this.#memCount -= old.count;
      this.onDrop(old.count);
    }
    if (this.#memHead > 1024 && this.#memHead * 2 > this.#mem.length) {
      this.#mem = this.#mem.slice(this.#memHead);
      this.#memHead = 0;
    }
    this.#notify();
  }

  #drainMemory(): Batch[] {
    const batches = this.#mem.slice(this.#memHead);
    this.#mem = [];
    this.#memHead = 0;
    this.#memSize = 0;
    this.#memCount = 0;
    return batches;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.(true);
  }
}
