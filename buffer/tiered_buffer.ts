/**
 * The buffer between inputs and the forwarder: memory while the collector
 * keeps up, the spool when it does not. The one place that decides which.
 *
 * @module
 */

import {
  type Batch,
  type BatchSource,
  type Clock,
  Queue,
  type SpoolPosition,
  systemClock,
} from "../ground/mod.ts";
import type { Spool, SpoolMark, SpoolStats } from "../spool/mod.ts";
import { MEMORY_TIER_BYTES } from "../config/mod.ts";

/** The data of a stand-in (see {@linkcode TieredBuffer.lighten}). */
const LIGHT = new Uint8Array(0);

/** Options of {@linkcode TieredBuffer}. */
export interface TieredBufferOptions {
  /** The most bytes held in memory (default `MEMORY_TIER_BYTES` of config/tunables.ts). */
  memoryBytes?: number;
  /** Time source of the wait for spool data not readable yet; default the system clock. */
  clock?: Clock;
}

/** What the buffer holds, for status and metrics. */
export interface BufferStats {
  /** Messages and bytes waiting in the memory tier (the memory path of `fallback` mode). */
  memory: { messages: number; bytes: number };
  /** Messages and bytes a forwarder gave back, held in memory to go out first. */
  inHand: { messages: number; bytes: number };
  /** The spool's own figures. */
  spool: SpoolStats;
}

/**
 * One FIFO in two tiers, and the only owner of the choice between them. In
 * `fallback` mode batches stay in memory while the forwarder can deliver
 * ({@linkcode TieredBuffer.setDeliverable}) and keeps up; once it cannot, or
 * more than `memoryBytes` wait, everything in memory and everything after it
 * goes to the spool, and stays on that path until the forwarder has read the
 * spool empty: new messages queue behind the spool, so order is kept. In
 * `always` mode every batch goes through the spool. {@linkcode TieredBuffer.push}
 * never waits; {@linkcode TieredBuffer.backlog} says when inputs should. When
 * the spool cannot be used at all (see `Spool.usable`), batches stay in memory
 * whatever the mode, and beyond `memoryBytes` the oldest are dropped and
 * counted (`onDrop`, which also hears the spool's own drops).
 *
 * Batches a forwarder gives back ({@linkcode TieredBuffer.giveBack}: taken,
 * not delivered, when its connection ends or it stops) come out first; at
 * {@linkcode TieredBuffer.close} they go into the spool before everything else.
 * In `always` mode the forwarder keeps of each batch it wrote only a stand-in
 * ({@linkcode TieredBuffer.lighten}): the spool has the data, and giving the
 * stand-ins back rewinds it. The replay window of a TCP collector then costs
 * disk (page cache), not memory.
 *
 * @example
 * ```ts
 * import { TieredBuffer } from "./tiered_buffer.ts";
 * import { Spool } from "../spool/mod.ts";
 * import { Logger } from "../ground/mod.ts";
 * import { parseConfig } from "../config/mod.ts";
 *
 * const config = parseConfig("{}", "inline");
 * const spool = await Spool.open(config.spool, 65536, new Logger(config.log));
 * const buffer = new TieredBuffer(spool, "fallback");
 * buffer.setDeliverable(true);
 * buffer.push({ data: new TextEncoder().encode("9 <13>hello"), count: 1 });
 * const next = await buffer.take();
 * if (next !== undefined) buffer.ack(next);
 * await buffer.close();
 * ```
 */
export class TieredBuffer implements BatchSource {
  #spool: Spool;
  #always: boolean;
  #memoryBytes: number;
  #clock: Clock;
  /** Given back by a forwarder: out first, whatever the path. */
  #front: Batch[] = [];
  /** The memory tier, oldest first. */
  #mem = new Queue<Batch>();
  #memSize = 0;
  #memCount = 0;
  #spooling: boolean;
  #deliverable = false;
  #wake: ((taken: boolean) => void) | undefined;
  /** An interrupt that came while `take` was not waiting: the next wait returns at once. */
  #interrupted = false;
  #onDrop: (count: number) => void = () => {};

  /**
   * An empty memory tier in front of `spool`; what the spool holds from before is read first.
   *
   * @param spool the spool behind the memory tier; the buffer owns it from now on
   * @param mode `fallback` or `always` (spec: `spool.mode`)
   * @param opts memory size and clock
   */
  constructor(spool: Spool, mode: "fallback" | "always", opts: TieredBufferOptions = {}) {
    this.#spool = spool;
    this.#always = mode === "always";
    this.#memoryBytes = opts.memoryBytes ?? MEMORY_TIER_BYTES;
    this.#clock = opts.clock ?? systemClock;
    // Whatever the spool holds from before a restart comes first.
    this.#spooling = spool.usable && (this.#always || spool.hasUnread);
    spool.onDrop = (n) => this.#onDrop(n);
  }

  /** Called with the number of messages dropped: from memory (spool unusable) or by the spool. */
  set onDrop(fn: (count: number) => void) {
    this.#onDrop = fn;
  }

  /**
   * Whether the forwarder can deliver now. When it cannot, what waits in
   * memory moves to the spool, and new batches follow it there.
   */
  setDeliverable(deliverable: boolean): void {
    this.#deliverable = deliverable;
    if (!deliverable && !this.#spooling && this.#spool.usable && this.#mem.length > 0) {
      this.#startSpooling();
    }
  }

  /** What the buffer holds: memory and spool. */
  stats(now?: number): BufferStats {
    const inHand = { messages: 0, bytes: 0 };
    for (const b of this.#front) {
      inHand.messages += b.count;
      inHand.bytes += b.data.length;
    }
    return {
      memory: { messages: this.#memCount, bytes: this.#memSize },
      inHand,
      spool: this.#spool.stats(now),
    };
  }

  /** The spool's word on its files, for `agent spool` (see `Spool.live`). */
  spoolFiles(): { dir: string; checkpoint: SpoolPosition; written: [number, number][] } {
    return this.#spool.live();
  }

  /** Messages waiting to be taken: given back, in memory, and unread in the spool. */
  pending(): number {
    let given = 0;
    for (const b of this.#front) given += b.count;
    return given + this.#memCount + this.#spool.stats().messages;
  }

  /** What is wrong with the spool, for status (see `Spool.problem`). */
  problem(now?: number): { text: string; critical: boolean } | undefined {
    return this.#spool.problem(now);
  }

  /**
   * A promise while the spool's writes lag so far behind that inputs should
   * stop reading (it resolves when they may go on); `undefined` otherwise.
   */
  backlog(): Promise<void> | undefined {
    return this.#spool.backlog();
  }

  /** Queues a batch. */
  push(batch: Batch): void {
    if (!this.#spool.usable) {
      this.#pushMemoryOnly(batch);
      return;
    }
    if (
      !this.#spooling &&
      (!this.#deliverable || this.#memSize + batch.data.length > this.#memoryBytes)
    ) {
      this.#startSpooling();
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
   * {@linkcode TieredBuffer.interrupt} is called while waiting.
   */
  async take(): Promise<Batch | undefined> {
    for (;;) {
      const given = this.#front.shift();
      if (given !== undefined) return given;
      const batch = this.#mem.shift();
      if (batch !== undefined) {
        this.#memSize -= batch.data.length;
        this.#memCount -= batch.count;
        return batch;
      }
      if (this.#spooling) {
        const read = await this.#spool.read();
        if (read !== undefined) return read;
        // The spool is read empty: back to memory unless every batch must go through it.
        if (!this.#always && this.#deliverable && !this.#spool.hasUnread) this.#spooling = false;
      }
      if (this.#front.length > 0 || this.#mem.length > 0) continue;
      if (this.#interrupted) {
        this.#interrupted = false;
        return undefined;
      }
      // Wait for a push; poll now and then in case the spool has data it could not read yet.
      const taken = await new Promise<boolean>((resolve) => {
        this.#wake = resolve;
        if (this.#spool.hasUnread) this.#clock.setTimeout(() => this.#notify(), 50);
      });
      if (!taken) return undefined;
    }
  }

  /** The point in the stream of pushes that {@linkcode TieredBuffer.settled} answers for. */
  mark(): SpoolMark {
    return this.#spool.mark();
  }

  /**
   * Resolves once every batch pushed so far is in the spool (written, and
   * synced as `spool.sync` says; see `Spool.settled`), so that an acknowledged
   * message survives a `kill -9` whatever the mode (SPEC guarantee 9: a RELP
   * `200` means the message is in the spool). In `fallback` mode on the memory
   * path, what memory holds moves to the spool first, and batches follow it
   * there until the spool is read empty again. `true` when everything pushed
   * after `since` was written, `false` when some of it could not be (and was
   * dropped): no acknowledgement for that. With the spool unusable there is
   * nothing to wait for: memory is all there is.
   */
  settled(since: SpoolMark): Promise<boolean> {
    if (!this.#spool.usable) return Promise.resolve(true);
    if (!this.#spooling) this.#startSpooling();
    return this.#spool.settled(since);
  }

  /** Marks a taken batch delivered: a batch read from the spool is checkpointed. */
  ack(batch: Batch): void {
    if (batch.end !== undefined) this.#spool.ack(batch.end);
  }

  /**
   * Batches taken and not delivered, oldest first: out again before anything
   * else. Stand-ins among them (see {@linkcode TieredBuffer.lighten}) rewind
   * the spool to the first of them; everything taken from the spool since is
   * read again from there (`always` mode: that is everything).
   */
  giveBack(batches: Batch[]): void {
    if (batches.length === 0) return;
    const all = [...batches, ...this.#front];
    const light = all.findIndex((b) => b.data === LIGHT);
    if (light < 0) {
      this.#front = all;
    } else {
      // Everything from the first stand-in on came from the spool, which reads it again;
      // up to the last stand-in it was forwarded once.
      this.#front = all.slice(0, light);
      const forwarded = all.findLast((b) => b.data === LIGHT)!.end!;
      this.#spool.rewind(all.slice(light), forwarded);
      this.#spooling = true;
    }
    this.#notify();
  }

  /**
   * What the forwarder keeps of `batch`, written and not yet confirmed: in
   * `always` mode a batch read from the spool is kept by the spool until it is
   * acknowledged, so a stand-in with its positions and count and no data will
   * do; otherwise `batch` itself.
   */
  lighten(batch: Batch): Batch {
    if (!this.#always || batch.start === undefined || !this.#spool.usable) return batch;
    const light: Batch = { data: LIGHT, count: batch.count, start: batch.start };
    if (batch.end !== undefined) light.end = batch.end;
    return light;
  }

  /**
   * Makes a waiting {@linkcode TieredBuffer.take} return `undefined`; when none is
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
   * For a stop: what memory holds goes into the spool (behind what is there),
   * what was given back before everything, and the spool is closed (see
   * `Spool.close`). The buffer cannot be used afterwards.
   */
  async close(): Promise<void> {
    for (const b of this.#drainMemory()) this.#spool.append(b);
    const inHand = this.#front;
    this.#front = [];
    await this.#spool.close(inHand);
  }

  /** Memory is all there is: the oldest batches make room, and are counted. */
  #pushMemoryOnly(batch: Batch): void {
    this.#spooling = false;
    this.#mem.push(batch);
    this.#memSize += batch.data.length;
    this.#memCount += batch.count;
    while (this.#memSize > this.#memoryBytes && this.#mem.length > 1) {
      const old = this.#mem.shift()!;
      this.#memSize -= old.data.length;
      this.#memCount -= old.count;
      this.#onDrop(old.count);
    }
    this.#notify();
  }

  /** From now on batches go through the spool, behind what memory holds. */
  #startSpooling(): void {
    this.#spooling = true;
    for (const b of this.#drainMemory()) this.#spool.append(b);
  }

  #drainMemory(): Batch[] {
    const batches = this.#mem.takeAll();
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
