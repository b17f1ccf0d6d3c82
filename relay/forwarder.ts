/**
 * Delivery to the collectors.
 *
 * @module
 */

import type { Batch } from "./batch.ts";
import type { CollectorConfig } from "../config/config.ts";
import type { Counters } from "./counters.ts";
import type { Logger } from "../control/logger.ts";
import type { Queue } from "./queue.ts";
import { type Clock, sleep, systemClock } from "./clock.ts";
import { backoffDelay } from "./backoff.ts";
import { octetToLf } from "./_octet.ts";
import { parseAddress } from "../config/address.ts";

/** Opens a connection to a collector. */
export type Dialer = (collector: CollectorConfig) => Promise<Deno.Conn>;

/** A collector as status reports it. */
export interface CollectorStatus {
  address: string;
  protocol: string;
  state: "up" | "down" | "connecting";
  /** When it entered `state` (ISO 8601 UTC). */
  since: string;
  lastError: string;
}

/** Options of {@linkcode Forwarder}. */
export interface ForwarderOptions {
  clock?: Clock;
  dial?: Dialer;
  /** Random numbers in [0, 1) for backoff jitter. */
  random?: () => number;
  /** How long an earlier collector must stay connectable before traffic returns to it. */
  failbackAfterMs?: number;
  /** How long a stop waits for a write in progress before cutting the connection. */
  stopWaitMs?: number;
  /** Batches to deliver before anything from the queue: what a previous forwarder had in hand. */
  inHand?: Batch[];
}

interface Target {
  cfg: CollectorConfig;
  state: CollectorStatus["state"];
  since: number;
  lastError: string;
  failures: number;
  nextAttemptAt: number;
}

interface Session {
  index: number;
  conn: Deno.Conn;
  /** Why the connection broke, once it has. */
  broken: string | undefined;
}

/** Sessions that last this long reset the backoff of their collector. */
const STABLE_MS = 30_000;

/** The default dialer: plain TCP. */
export const dialTcp: Dialer = (cfg) => {
  const { hostname, port } = parseAddress(cfg.address);
  return Deno.connect({ hostname, port, transport: "tcp" });
};

/**
 * Takes batches from the queue and writes them to the first healthy collector,
 * in order. A collector is unhealthy when connecting fails or times out, when
 * the peer closes or resets the connection, or when a write does not drain
 * within `writeTimeoutMs` (stalled or blackholed). It is then retried with
 * capped exponential backoff and jitter, the next collector takes over, and the
 * queue spools until one is up. Traffic returns to an earlier collector once it
 * has been connectable for `failbackAfterMs`.
 *
 * Plain TCP has no acknowledgement, so the last `replayWindow` bytes written stay
 * in hand and are written again, first, after an unclean disconnect: a collector
 * crash costs duplicates, not gaps. A batch leaves the window acknowledged (its
 * spool position is checkpointed).
 *
 * @example
 * ```ts
 * const fwd = new Forwarder(config.collectors, queue, counters, log);
 * fwd.start();
 * // …
 * const inHand = await fwd.stop();
 * await queue.close(inHand);
 * ```
 */
export class Forwarder {
  #targets: Target[];
  #queue: Queue;
  #counters: Counters;
  #log: Logger;
  #clock: Clock;
  #dial: Dialer;
  #random: () => number;
  #failbackAfterMs: number;
  #stopWaitMs: number;
  #pending: Batch[] = [];
  #window: Batch[] = [];
  #windowBytes = 0;
  #unclean = false;
  #counted = new WeakSet<Batch>();
  #session: Session | undefined;
  #failback: Session | undefined;
  #probing = false;
  #stopping = false;
  #abort = new AbortController();
  #running: Promise<void> | undefined;
  #lastProgress: number;
  #writing = false;

  constructor(
    collectors: CollectorConfig[],
    queue: Queue,
    counters: Counters,
    log: Logger,
    opts: ForwarderOptions = {},
  ) {
    this.#clock = opts.clock ?? systemClock;
    const now = this.#clock.now();
    this.#targets = collectors.map((cfg) => ({
      cfg,
      state: "down",
      since: now,
      lastError: "",
      failures: 0,
      nextAttemptAt: 0,
    }));
    this.#queue = queue;
    this.#counters = counters;
    this.#log = log;
    this.#dial = opts.dial ?? dialTcp;
    this.#random = opts.random ?? Math.random;
    this.#failbackAfterMs = opts.failbackAfterMs ?? 30_000;
    this.#stopWaitMs = opts.stopWaitMs ?? 2_000;
    this.#pending = [...(opts.inHand ?? [])];
    this.#lastProgress = now;
  }

  /** Starts delivering. */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Whether a collector is connected and taking writes. */
  get up(): boolean {
    return this.#session !== undefined && this.#session.broken === undefined;
  }

  /**
   * Milliseconds since the forwarder last made progress while it had work: a
   * write that hangs without the stall timeout firing shows here (for the
   * systemd watchdog). 0 while idle.
   */
  stuckForMs(): number {
    return this.#writing ? this.#clock.now() - this.#lastProgress : 0;
  }

  /** Each collector's state. */
  status(): CollectorStatus[] {
    return this.#targets.map((t) => ({
      address: t.cfg.address,
      protocol: t.cfg.protocol,
      state: t.state,
      since: new Date(t.since).toISOString(),
      lastError: t.lastError,
    }));
  }

  /**
   * Stops delivering and returns the batches in hand, oldest first: those taken
   * but not written, preceded by the replay window when the last connection
   * ended uncleanly. A write in progress gets `stopWaitMs` to finish.
   */
  async stop(): Promise<Batch[]> {
    this.#stopping = true;
    this.#abort.abort();
    this.#queue.interrupt();
    const cut = this.#clock.setTimeout(() => this.#session?.conn.close(), this.#stopWaitMs);
    await this.#running;
    this.#clock.clearTimeout(cut);
    this.#closeQuietly(this.#failback?.conn);
    const inHand = this.#unclean ? [...this.#window, ...this.#pending] : this.#pending;
    this.#window = [];
    this.#pending = [];
    return inHand;
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      const fb = this.#failback;
      if (fb !== undefined) {
        this.#failback = undefined;
        if (fb.broken === undefined) {
          await this.#serve(fb);
          continue;
        }
      }
      const now = this.#clock.now();
      const index = this.#targets.findIndex((t) => t.nextAttemptAt <= now);
      if (index < 0) {
        const next = Math.min(...this.#targets.map((t) => t.nextAttemptAt));
        await sleep(this.#clock, next - now, this.#abort.signal);
        continue;
      }
      const conn = await this.#connect(index);
      if (conn !== undefined) await this.#serve({ index, conn, broken: undefined });
    }
  }

  async #connect(index: number): Promise<Deno.Conn | undefined> {
    const t = this.#targets[index]!;
    this.#setState(t, "connecting");
    try {
      return await this.#withTimeout(
        this.#dial(t.cfg),
        t.cfg.connectTimeoutMs,
        `connect did not complete within ${t.cfg.connectTimeoutMs} ms`,
        (late) => late.then((c) => this.#closeQuietly(c), () => {}),
      );
    } catch (e) {
      this.#failed(t, errorText(e), 0);
      return undefined;
    }
  }

  /** Writes to one connection until it breaks, the forwarder stops, or traffic fails back. */
  async #serve(session: Session): Promise<void> {
    const t = this.#targets[session.index]!;
    const startedAt = this.#clock.now();
    this.#session = session;
    this.#setState(t, "up");
    this.#log.info(`relay: collector ${t.cfg.address} up`);
    this.#queue.up = true;
    this.#watch(session);
    if (this.#unclean) {
      // What the last connection may have lost is written again first.
      this.#pending = [...this.#window, ...this.#pending];
      this.#window = [];
      this.#windowBytes = 0;
      this.#unclean = false;
    }
    try {
      while (!this.#stopping && session.broken === undefined && this.#failback === undefined) {
        if (session.index > 0) this.#probeEarlier(session.index);
        let batch = this.#pending[0];
        if (batch === undefined) {
          batch = await this.#queue.take();
          if (batch === undefined) continue;
          this.#pending.push(batch);
        }
        if (session.broken !== undefined) break;
        await this.#write(session, t.cfg, batch);
        this.#pending.shift();
        this.#delivered(batch, t.cfg.replayWindow);
      }
      if (session.broken !== undefined) throw new Error(session.broken);
      // A clean end: what was written is delivered.
      for (const b of this.#window) this.#queue.ack(b);
      this.#window = [];
      this.#windowBytes = 0;
      this.#closeQuietly(session.conn);
      this.#setState(t, "down");
      if (this.#failback !== undefined) {
        this.#log.info(`relay: collector ${t.cfg.address} hands over to an earlier collector`);
      }
    } catch (e) {
      const reason = session.broken ?? errorText(e);
      this.#unclean = true;
      this.#closeQuietly(session.conn);
      this.#failed(t, reason, this.#clock.now() - startedAt);
    } finally {
      this.#session = undefined;
      this.#queue.up = false;
      this.#writing = false;
    }
  }

  /** Notices a collector closing or resetting the connection while we write. */
  async #watch(session: Session): Promise<void> {
    const buf = new Uint8Array(4096);
    let reason = "collector closed the connection";
    try {
      while ((await session.conn.read(buf)) !== null) {
        // Plain syslog collectors send nothing; whatever comes is ignored.
      }
    } catch (e) {
      reason = `connection failed: ${errorText(e)}`;
    }
    if (session.broken === undefined) {
      session.broken = reason;
      this.#closeQuietly(session.conn);
      this.#queue.interrupt();
    }
  }

  async #write(session: Session, cfg: CollectorConfig, batch: Batch): Promise<void> {
    const data = cfg.framing === "lf" ? octetToLf(batch.data) : batch.data;
    let off = 0;
    this.#writing = true;
    this.#lastProgress = this.#clock.now();
    try {
      while (off < data.length) {
        off += await this.#withTimeout(
          session.conn.write(data.subarray(off)),
          cfg.writeTimeoutMs,
          `writes did not drain within ${cfg.writeTimeoutMs} ms (collector stalled)`,
          () => this.#closeQuietly(session.conn),
        );
        this.#lastProgress = this.#clock.now();
      }
    } finally {
      this.#writing = false;
    }
  }

  #delivered(batch: Batch, replayWindow: number): void {
    if (!this.#counted.has(batch)) {
      this.#counted.add(batch);
      this.#counters.forwarded += batch.count;
    }
    this.#window.push(batch);
    this.#windowBytes += batch.data.length;
    while (this.#window.length > 0) {
      const oldest = this.#window[0]!;
      if (this.#windowBytes - oldest.data.length < replayWindow) break;
      this.#window.shift();
      this.#windowBytes -= oldest.data.length;
      this.#queue.ack(oldest);
    }
  }

  /** While on a later collector, checks whether an earlier one is back. */
  #probeEarlier(current: number): void {
    if (this.#probing) return;
    const now = this.#clock.now();
    const index = this.#targets.findIndex((t, i) => i < current && t.nextAttemptAt <= now);
    if (index < 0) return;
    this.#probing = true;
    (async () => {
      const t = this.#targets[index]!;
      let conn: Deno.Conn | undefined;
      try {
        conn = await this.#withTimeout(
          this.#dial(t.cfg),
          t.cfg.connectTimeoutMs,
          `connect did not complete within ${t.cfg.connectTimeoutMs} ms`,
          (late) => late.then((c) => this.#closeQuietly(c), () => {}),
        );
        const probe: Session = { index, conn, broken: undefined };
        this.#watch(probe);
        await sleep(this.#clock, this.#failbackAfterMs, this.#abort.signal);
        if (probe.broken !== undefined) throw new Error(probe.broken);
        if (this.#stopping || this.#session === undefined) {
          this.#closeQuietly(conn);
          return;
        }
        this.#failback = probe;
        this.#queue.interrupt();
      } catch (e) {
        this.#closeQuietly(conn);
        t.failures++;
        t.lastError = errorText(e);
        t.nextAttemptAt = this.#clock.now() + backoffDelay(t.failures, this.#random);
      } finally {
        this.#probing = false;
      }
    })();
  }

  #failed(t: Target, reason: string, upForMs: number): void {
    t.failures = upForMs >= STABLE_MS ? 1 : t.failures + 1;
    t.lastError = reason;
    const delay = backoffDelay(t.failures, this.#random);
    t.nextAttemptAt = this.#clock.now() + delay;
    const message = `relay: collector ${t.cfg.address} down: ${reason}; retrying in ${
      Math.round(delay)
    } ms`;
    // The first failure is news; the retries after it are detail.
    if (t.failures === 1 || upForMs > 0) this.#log.warn(message);
    else this.#log.debug(message);
    this.#setState(t, "down");
  }

  #setState(t: Target, state: Target["state"]): void {
    if (t.state === state) return;
    t.state = state;
    t.since = this.#clock.now();
  }

  /** Races `p` against a timer; on timeout calls `onTimeout` with `p` and rejects. */
  #withTimeout<T>(
    p: Promise<T>,
    ms: number,
    message: string,
    onTimeout: (late: Promise<T>) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        onTimeout(p);
        reject(new Error(message));
      }, ms);
      p.then(
        (v) => {
          this.#clock.clearTimeout(timer);
          resolve(v);
        },
        (e) => {
          this.#clock.clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  #closeQuietly(conn: Deno.Conn | undefined): void {
    try {
      conn?.close();
    } catch {
      // Already closed.
    }
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
