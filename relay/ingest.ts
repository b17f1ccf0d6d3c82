/**
 * Collects messages from every input into batches for the queue.
 *
 * @module
 */

import { type Batch, eachFrame, writeOctetHeader } from "../ground/mod.ts";
import type { Counters } from "./counters.ts";
import type { FrameSink } from "./framer.ts";
import type { Taps } from "./taps.ts";

/** A batch is handed on once it holds this many bytes, or once the current read is taken in. */
const FLUSH_BYTES = 128 * 1024;
/**
 * Batches are cut from slabs of this size: one allocation for many small batches. Small
 * enough that slabs no batch uses any more but not yet collected cost little (at 20,000
 * msg/s with spool.mode always, 1 MiB slabs kept 1.1-1.7 MiB more resident), large enough
 * that a slab's end seldom cuts a batch short at saturation (a few full batches fit).
 */
const SLAB_BYTES = 512 * 1024;

/**
 * The single entry point of received data: inputs call {@linkcode Ingest.frames}
 * and {@linkcode Ingest.message}; complete batches of octet-counted frames go to
 * `deliver`. Per message this costs one length header and one copy; runs of
 * frames that arrived octet-counted are copied as one block. Batches are views
 * into shared slabs (a slab lives while a batch of it does), and what a read
 * brought in is handed on in a microtask after it, so a quiet host costs
 * neither an allocation nor a timer per read.
 *
 * @example
 * ```ts
 * import { Ingest } from "./ingest.ts";
 * import { Counters } from "./counters.ts";
 * import type { Batch } from "../ground/mod.ts";
 *
 * const batches: Batch[] = [];
 * const ingest = new Ingest(new Counters(), (batch) => batches.push(batch));
 * ingest.message(new TextEncoder().encode("<13>hello"), 0, 9);
 * ingest.flush();
 * ```
 */
export class Ingest implements FrameSink {
  #counters: Counters;
  #deliver: (batch: Batch) => void;
  #maxMessageSize: number;
  /** The slab the batch being collected is written into, from `#start`. */
  #slab: Uint8Array;
  #start = 0;
  #len = 0;
  #count = 0;
  #flushQueued = false;
  /** The microtask that hands on what a read brought in: one function, not one per read. */
  #flushTask = () => {
    this.#flushQueued = false;
    this.flush();
  };
  #filter: ((src: Uint8Array, start: number, end: number) => boolean) | undefined;
  #ready: () => Promise<void> | undefined = () => undefined;
  /** Open taps (`agent tap`) see what each input hands in. */
  taps: Taps | undefined;

  /**
   * @param counters `received` is counted here
   * @param deliver called with each complete batch, in order
   * @param maxMessageSize the largest message any input passes on
   */
  constructor(counters: Counters, deliver: (batch: Batch) => void, maxMessageSize = 65536) {
    this.#counters = counters;
    this.#deliver = deliver;
    this.#maxMessageSize = maxMessageSize;
    this.#slab = new Uint8Array(SLAB_BYTES);
  }

  /**
   * Sets a test run on every message before it is queued; a message for which it
   * returns `true` is consumed by it (the watchdog's canaries), not forwarded,
   * and counted in `canaries`. Runs of frames are still copied as blocks: only
   * the frames it consumes are cut out.
   */
  set filter(fn: ((src: Uint8Array, start: number, end: number) => boolean) | undefined) {
    this.#filter = fn;
  }

  /** Sets what {@linkcode Ingest.ready} asks: the spool's write backlog. */
  set backpressure(fn: () => Promise<void> | undefined) {
    this.#ready = fn;
  }

  /** {@inheritDoc FrameSink.ready} */
  ready(): Promise<void> | undefined {
    return this.#ready();
  }

  /**
   * The sink of one input, `name()` naming it: the ingest itself, and, while a
   * tap is open, each message offered to the taps as coming from that input.
   */
  forInput(name: () => string): FrameSink & { flush(): void } {
    return {
      frames: (src, start, end, count) => {
        if (this.taps?.inputs) this.taps.offerFrames({ input: name() }, src, start, end);
        this.frames(src, start, end, count);
      },
      message: (src, start, end) => {
        if (this.taps?.inputs) this.taps.offer({ input: name() }, src, start, end);
        this.message(src, start, end);
      },
      ready: () => this.ready(),
      flush: () => this.flush(),
    };
  }

  /** {@inheritDoc FrameSink.frames} */
  frames(src: Uint8Array, start: number, end: number, count: number): void {
    const filter = this.#filter;
    if (filter === undefined) {
      this.#copyRun(src, start, end, count);
      return;
    }
    // The run is still copied as blocks: only the frames the filter consumes are cut out.
    let runStart = start;
    let runCount = 0;
    eachFrame(src, start, end, (s, e, frameStart) => {
      if (!filter(src, s, e)) {
        runCount++;
        return;
      }
      this.#counters.canaries++;
      if (runCount > 0) this.#copyRun(src, runStart, frameStart, runCount);
      runStart = e;
      runCount = 0;
    });
    if (runCount > 0) this.#copyRun(src, runStart, end, runCount);
  }

  #copyRun(src: Uint8Array, start: number, end: number, count: number): void {
    const n = end - start;
    this.#room(n);
    this.#slab.set(src.subarray(start, end), this.#start + this.#len);
    this.#len += n;
    this.#count += count;
    this.#counters.received += count;
    this.#added();
  }

  /** {@inheritDoc FrameSink.message} */
  message(src: Uint8Array, start: number, end: number): void {
    if (this.#filter?.(src, start, end)) {
      this.#counters.canaries++;
      return;
    }
    const n = end - start;
    this.#room(n + 11);
    const p = writeOctetHeader(this.#slab, this.#start + this.#len, n);
    this.#slab.set(src.subarray(start, end), p);
    this.#len = p + n - this.#start;
    this.#count++;
    this.#counters.received++;
    this.#added();
  }

  /** Hands on whatever is collected now. */
  flush(): void {
    if (this.#count === 0) return;
    const data = this.#slab.subarray(this.#start, this.#start + this.#len);
    const batch: Batch = { data, count: this.#count };
    this.#start += this.#len;
    this.#len = 0;
    this.#count = 0;
    this.#deliver(batch);
  }

  /** Makes room for `n` more bytes in the batch: flushes, or starts a new slab. */
  #room(n: number): void {
    if (this.#start + this.#len + n <= this.#slab.length) return;
    this.flush();
    if (this.#start + n <= this.#slab.length) return;
    this.#slab = new Uint8Array(Math.max(SLAB_BYTES, FLUSH_BYTES + this.#maxMessageSize + 16, n));
    this.#start = 0;
  }

  #added(): void {
    if (this.#len >= FLUSH_BYTES) this.flush();
    else if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
  }
}
