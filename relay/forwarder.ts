/**
 * Delivery to the collectors.
 *
 * @module
 */

import {
  type Batch,
  type BatchSource,
  type Clock,
  closeQuietly,
  eachFrame,
  errorText,
  type Logger,
  Queue,
  sleep,
  systemClock,
} from "../ground/mod.ts";
import {
  type CollectorConfig,
  FAILBACK_AFTER_MS,
  FORWARDER_STOP_WAIT_MS,
  POISON_REFUSALS,
  SESSION_STABLE_MS,
} from "../config/mod.ts";
import type { Counters } from "./counters.ts";
import { backoffDelay } from "./backoff.ts";
import { createLink, dialCollector, refusesMessages } from "./create_link.ts";
import type { Link, LinkEvents } from "./link.ts";
import { DrainPacer } from "./drain_pacer.ts";
import type { Taps } from "./taps.ts";
import { type MemberStatus, PoolLink } from "./pool_link.ts";
import { type Resolver, systemResolver } from "./resolver.ts";
import { type EvidenceSource, tcpEvidence } from "./tcp_evidence.ts";

/**
 * Opens a connection to a collector: plain TCP, or TLS with the handshake done
 * (the link on top speaks the collector's protocol).
 */
export type Dialer = (collector: CollectorConfig) => Promise<Deno.Conn>;

/** A collector as status reports it. */
export interface CollectorStatus {
  /** `host:port`, as in the config. */
  address: string;
  /** `tcp`, `tls` or `relp`, as in the config. */
  protocol: string;
  /** `up`: connected; `connecting`: a connect is under way; `down`: not connected. */
  state: "up" | "down" | "connecting";
  /** When it entered `state` (ISO 8601 UTC). */
  since: string;
  /** Why the last connect or connection failed, `""` if none has. */
  lastError: string;
  /** A pool's members (`addresses` or `srv`), as its last connection knew them. */
  members?: MemberStatus[];
}

/** Options of {@linkcode Forwarder}. */
export interface ForwarderOptions {
  /** Time source for backoff, timeouts and failback; default the system clock. */
  clock?: Clock;
  /** Opens the connection to a collector; default plain TCP or TLS per `protocol`. */
  dial?: Dialer;
  /** Random numbers in [0, 1) for backoff jitter. */
  random?: () => number;
  /** Finds the members of pools (`addresses`, `srv`); default the system's resolver. */
  resolver?: Resolver;
  /**
   * What the kernel says of a tcp collector's connection (see `tcpEvidence`);
   * default `tcpEvidence` with the default dialer, none with another.
   */
  evidence?: (conn: Deno.Conn) => EvidenceSource | undefined;
  /**
   * The drain rate while catching up (`spool.maxDrainRate`, see
   * {@linkcode DrainPacer}); default 0, unpaced.
   */
  maxDrainRate?: "auto" | number;
  /** Open taps with a `collector` filter see what is written to that collector. */
  taps?: Taps;
  /**
   * How long an earlier collector must stay connectable before traffic returns
   * to it (default {@linkcode FAILBACK_AFTER_MS}), jittered up to twice that.
   */
  failbackAfterMs?: number;
  /**
   * How long a stop waits for a write in progress before cutting the connection
   * (default {@linkcode FORWARDER_STOP_WAIT_MS}).
   */
  stopWaitMs?: number;
  /**
   * Where a message goes that a collector refused {@linkcode POISON_REFUSALS}
   * times (counted in `deadLettered`); without it such a message is dropped
   * and counted the same.
   */
  deadLetter?: (message: Uint8Array, collector: string, reason: string) => void;
}

interface Target {
  cfg: CollectorConfig;
  state: CollectorStatus["state"];
  since: number;
  lastError: string;
  failures: number;
  nextAttemptAt: number;
  /** A pool's link, kept after it ends for its members' last state. */
  pool?: PoolLink;
}

interface Session {
  index: number;
  link: Link;
  /** Why the connection broke, once it has. */
  broken: string | undefined;
}

/**
 * Takes batches from the buffer and writes them to the first healthy collector,
 * in order. A collector is unhealthy when connecting fails or times out, when
 * the peer closes or resets the connection, or when a write does not drain
 * within `writeTimeoutMs` (stalled or blackholed). It is then retried with
 * capped exponential backoff and jitter, the next collector takes over, and the
 * buffer spools until one is up. Traffic returns to an earlier collector once it
 * has been connectable for `failbackAfterMs`.
 *
 * Every protocol has the same data path: each batch written stays in hand
 * (`#unacked`) until the collector's link confirms it, and is then
 * acknowledged to the buffer (its spool position is checkpointed). The link is
 * chosen per collector ({@linkcode createLink}): TCP and TLS have no
 * acknowledgement, so a batch is confirmed once `replayWindow` more bytes were
 * written after it; RELP confirms a batch when the collector has answered
 * `200` to each of its messages. After an unclean disconnect, everything
 * unconfirmed is written again, first, whatever the protocol: a collector crash
 * costs duplicates, not gaps.
 *
 * @example
 * ```ts
 * import { Counters, Forwarder, Logger, parseConfig, Spool, TieredBuffer } from "../mod.ts";
 *
 * const config = parseConfig('{"collectors": [{"address": "127.0.0.1:514"}]}', "inline");
 * const log = new Logger(config.log);
 * const buffer = new TieredBuffer(await Spool.open(config.spool, 65536, log), config.spool.mode);
 * const fwd = new Forwarder(config.collectors, buffer, new Counters(), log);
 * fwd.start();
 * // …
 * await fwd.stop();
 * await buffer.close();
 * ```
 */
export class Forwarder {
  #targets: Target[];
  #source: BatchSource;
  #counters: Counters;
  #log: Logger;
  #clock: Clock;
  #dial: Dialer;
  #resolver: Resolver;
  #evidence: ((conn: Deno.Conn) => EvidenceSource | undefined) | undefined;
  #pacer: DrainPacer;
  #taps: Taps | undefined;
  #random: () => number;
  #failbackAfterMs: number;
  #stopWaitMs: number;
  /**
   * Batches written (or being written) and not yet confirmed by the link, oldest
   * first: what is acknowledged to the source once confirmed, or given back to
   * it, whatever the protocol (a 36 MiB window holds ~14,000 small batches). A
   * stream link keeps its own list of the same batches, of when and where on
   * the wire each was written, which decides when they are confirmed; the two
   * stay in step by count (`LinkEvents.confirmed`), as RELP's and a pool's do.
   */
  #unacked = new Queue<Batch>();
  #counted = new WeakSet<Batch>();
  #session: Session | undefined;
  #failback: Session | undefined;
  #probing = false;
  #stopping = false;
  #abort = new AbortController();
  #running: Promise<void> | undefined;
  #lastProgress: number;
  #writing = false;
  /** Refusals per message (by index) of the batches in hand. */
  #refusals = new WeakMap<Batch, Map<number, number>>();
  #deadLetter: ((message: Uint8Array, collector: string, reason: string) => void) | undefined;

  /** A forwarder from `source` to `collectors`, in order of preference; idle until started. */
  constructor(
    collectors: CollectorConfig[],
    source: BatchSource,
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
    this.#source = source;
    this.#counters = counters;
    this.#log = log;
    this.#dial = opts.dial ?? dialCollector;
    this.#resolver = opts.resolver ?? systemResolver;
    this.#evidence = opts.evidence ?? (opts.dial === undefined ? tcpEvidence : undefined);
    this.#taps = opts.taps;
    this.#pacer = new DrainPacer(opts.maxDrainRate ?? 0, () => counters.received, this.#clock);
    this.#random = opts.random ?? Math.random;
    this.#failbackAfterMs = opts.failbackAfterMs ?? FAILBACK_AFTER_MS;
    this.#stopWaitMs = opts.stopWaitMs ?? FORWARDER_STOP_WAIT_MS;
    this.#deadLetter = opts.deadLetter;
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
      address: t.cfg.address.text,
      protocol: t.cfg.protocol,
      state: t.state,
      since: new Date(t.since).toISOString(),
      lastError: t.lastError,
      ...(t.cfg.members.kind === "address" ? {} : { members: t.pool?.members() ?? [] }),
    }));
  }

  /**
   * Stops delivering; the batches in hand go back to the source, oldest first
   * (those written but not confirmed: a clean TCP/TLS end confirms all it
   * wrote, RELP what the collector answered). A write in progress gets
   * `stopWaitMs` to finish.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#abort.abort();
    this.#source.interrupt();
    const cut = this.#clock.setTimeout(
      () => this.#session?.link.destroy(`stopping: cut after ${this.#stopWaitMs} ms`),
      this.#stopWaitMs,
    );
    await this.#running;
    this.#clock.clearTimeout(cut);
    this.#failback?.link.destroy("stopping");
    this.#giveBack();
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
      const session = await this.#connect(index);
      if (session !== undefined) await this.#serve(session);
    }
  }

  async #connect(index: number): Promise<Session | undefined> {
    const t = this.#targets[index]!;
    this.#setState(t, "connecting");
    try {
      return await this.#open(index);
    } catch (e) {
      if (!this.#stopping) this.#failed(t, errorText(e), 0);
      return undefined;
    }
  }

  /**
   * Dials collector `index` and opens the link for its protocol, each step
   * within `connectTimeoutMs` and given up at once on stop; on failure nothing
   * is left open (a connection that completes late is closed).
   */
  async #open(index: number): Promise<Session> {
    const target = this.#targets[index]!;
    const cfg = target.cfg;
    const ms = cfg.connectTimeoutMs;
    const session: Session = { index, link: undefined as unknown as Link, broken: undefined };
    const events: LinkEvents = {
      confirmed: (n) => this.#confirmed(session, n),
      progress: () => this.#lastProgress = this.#clock.now(),
      broken: (reason) => {
        if (session.broken !== undefined) return;
        session.broken = reason;
        this.#source.interrupt();
      },
      refused: (batch, message, reason) => this.#refused(session, batch, message, reason),
    };
    if (cfg.members.kind !== "address") {
      // A pool: it resolves and connects its members itself, each within connectTimeoutMs.
      const pool = new PoolLink(cfg, {
        dial: this.#dial,
        resolver: this.#resolver,
        ...(this.#evidence === undefined ? {} : { evidence: this.#evidence }),
        clock: this.#clock,
        random: this.#random,
        log: this.#log,
      }, events);
      target.pool = pool;
      session.link = pool;
      try {
        await this.#withTimeout(
          pool.open(),
          2 * ms,
          `pool did not open within ${2 * ms} ms`,
          () => {
            pool.destroy("open timed out");
          },
        );
      } catch (e) {
        pool.destroy(errorText(e));
        throw e;
      }
      return session;
    }
    const conn = await this.#withTimeout(
      this.#dial(cfg),
      ms,
      `connect did not complete within ${ms} ms`,
      (late) => late.then((c) => closeQuietly(c), () => {}),
    );
    session.link = createLink(conn, cfg, events, this.#clock, this.#evidence);
    const message = `${cfg.protocol.toUpperCase()} session did not open within ${ms} ms`;
    try {
      await this.#withTimeout(session.link.open(), ms, message, () => {});
    } catch (e) {
      session.link.destroy(session.broken ?? errorText(e));
      throw new Error(session.broken ?? errorText(e));
    }
    return session;
  }

  /** Writes to one link until it breaks, the forwarder stops, or traffic fails back. */
  async #serve(session: Session): Promise<void> {
    const t = this.#targets[session.index]!;
    const startedAt = this.#clock.now();
    this.#session = session;
    this.#setState(t, "up");
    this.#log.info(`relay: collector ${t.cfg.address.text} up`);
    this.#source.setDeliverable(true);
    // On a later collector, look for an earlier one every second, traffic or not.
    let probeTimer: unknown;
    const probe = () => {
      this.#probeEarlier(session.index);
      probeTimer = this.#clock.setTimeout(probe, 1000);
    };
    if (session.index > 0) probe();
    try {
      while (!this.#stopping && session.broken === undefined && this.#failback === undefined) {
        const batch = await this.#source.take();
        if (batch === undefined) continue;
        // Catching up (a backlog, a resend): no faster than the drain rate.
        await this.#pacer.pace(batch, this.#source.pending(), this.#abort.signal);
        // In hand until the link confirms it, even if this write breaks off.
        this.#unacked.push(batch);
        if (session.broken !== undefined) break;
        await this.#write(session, batch);
        if (this.#taps?.collectors) {
          this.#taps.offerFrames(
            { collector: t.cfg.address.text },
            batch.data,
            0,
            batch.data.length,
          );
        }
        // Unless a message of it may be refused, its data need not stay in hand.
        if (!refusesMessages(t.cfg)) {
          // Still the newest in hand: nothing is taken while a write is under way.
          const last = this.#unacked.length - 1;
          if (last >= 0 && this.#unacked.at(last) === batch) {
            this.#unacked.set(last, this.#source.lighten(batch));
          }
        }
      }
      if (session.broken !== undefined) throw new Error(session.broken);
      // A clean end: the link confirms what its protocol can; the rest is resent later.
      await session.link.end();
      this.#setState(t, "down");
      if (this.#failback !== undefined) {
        this.#log.info(`relay: collector ${t.cfg.address.text} hands over to an earlier collector`);
      }
    } catch (e) {
      const reason = session.broken ?? errorText(e);
      session.link.destroy(reason);
      this.#failed(t, reason, this.#clock.now() - startedAt);
    } finally {
      this.#clock.clearTimeout(probeTimer);
      this.#session = undefined;
      // What this link did not confirm goes out again first, on the next one, whatever the protocol.
      this.#giveBack();
      this.#source.setDeliverable(false);
      this.#writing = false;
    }
  }

  async #write(session: Session, batch: Batch): Promise<void> {
    this.#writing = true;
    this.#lastProgress = this.#clock.now();
    try {
      await session.link.write(batch);
    } finally {
      this.#writing = false;
    }
    if (!batch.resent && !this.#counted.has(batch)) {
      this.#counted.add(batch);
      this.#counters.forwarded += batch.count;
    }
  }

  /** Gives the batches in hand back to the source. */
  #giveBack(): void {
    this.#source.giveBack(this.#unacked.takeAll());
  }

  /** The link confirmed its `count` oldest batches: they are acknowledged to the buffer. */
  #confirmed(session: Session, count: number): void {
    if (session !== this.#session) return;
    for (let i = 0; i < count; i++) {
      const batch = this.#unacked.shift();
      if (batch === undefined) return;
      this.#source.ack(batch);
    }
  }

  /**
   * The collector refused message `index` of the `at`-th batch in hand. The
   * {@linkcode POISON_REFUSALS}th time, that message is taken out of the batch
   * (set aside as a dead letter and counted), so that the stream behind it moves.
   */
  #refused(session: Session, at: number, index: number, reason: string): void {
    if (session !== this.#session) return;
    const batch = this.#unacked.at(at);
    if (batch === undefined || index >= batch.count) return;
    const counts = this.#refusals.get(batch) ?? new Map<number, number>();
    this.#refusals.set(batch, counts);
    const n = (counts.get(index) ?? 0) + 1;
    counts.set(index, n);
    if (n < POISON_REFUSALS) return;
    const { message, rest } = without(batch, index);
    const shifted = new Map<number, number>();
    for (const [i, c] of counts) if (i !== index) shifted.set(i > index ? i - 1 : i, c);
    this.#refusals.set(rest, shifted);
    if (this.#counted.has(batch)) this.#counted.add(rest);
    this.#unacked.set(at, rest);
    this.#counters.deadLettered++;
    const address = this.#targets[session.index]!.cfg.address.text;
    this.#log.warn(
      `relay: collector ${address} refused a message ${n} times; set aside as a dead letter: ${reason}`,
    );
    this.#deadLetter?.(message, address, `refused ${n} times: ${reason}`);
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
      let probe: Session | undefined;
      try {
        probe = await this.#open(index);
        // Jittered over failbackAfterMs to twice that: a fleet does not return all at once.
        const wait = this.#failbackAfterMs * (1 + this.#random());
        await sleep(this.#clock, wait, this.#abort.signal);
        if (probe.broken !== undefined) throw new Error(probe.broken);
        if (this.#stopping || this.#session === undefined) {
          probe.link.destroy("not needed");
          return;
        }
        this.#failback = probe;
        this.#source.interrupt();
      } catch (e) {
        probe?.link.destroy(errorText(e));
        t.failures++;
        t.lastError = errorText(e);
        t.nextAttemptAt = this.#clock.now() + backoffDelay(t.failures, this.#random);
      } finally {
        this.#probing = false;
      }
    })();
  }

  #failed(t: Target, reason: string, upForMs: number): void {
    t.failures = upForMs >= SESSION_STABLE_MS ? 1 : t.failures + 1;
    t.lastError = reason;
    const delay = backoffDelay(t.failures, this.#random);
    t.nextAttemptAt = this.#clock.now() + delay;
    const message = `relay: collector ${t.cfg.address.text} down: ${reason}; retrying in ${
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

  /**
   * Races `p` against a timer and the stop; when either comes first, calls
   * `onTimeout` with `p` and rejects.
   */
  #withTimeout<T>(
    p: Promise<T>,
    ms: number,
    message: string,
    onTimeout: (late: Promise<T>) => void,
  ): Promise<T> {
    const signal = this.#abort.signal;
    return new Promise<T>((resolve, reject) => {
      const giveUp = (why: string) => {
        this.#clock.clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        onTimeout(p);
        reject(new Error(why));
      };
      const onAbort = () => giveUp("stopping");
      const timer = this.#clock.setTimeout(() => giveUp(message), ms);
      if (signal.aborted) return giveUp("stopping");
      signal.addEventListener("abort", onAbort, { once: true });
      p.then(
        (v) => {
          this.#clock.clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          resolve(v);
        },
        (e) => {
          this.#clock.clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          reject(e);
        },
      );
    });
  }
}

/** Message `index` (< `batch.count`) of `batch` and the batch without it (same spool position). */
function without(batch: Batch, index: number): { message: Uint8Array; rest: Batch } {
  const data = batch.data;
  let i = 0;
  let frame = { start: 0, body: 0, end: 0 };
  eachFrame(data, 0, data.length, (body, end, start) => {
    if (i++ < index) return true;
    frame = { start, body, end };
    return false;
  });
  const rest = new Uint8Array(data.length - (frame.end - frame.start));
  rest.set(data.subarray(0, frame.start));
  rest.set(data.subarray(frame.end), frame.start);
  return {
    message: data.slice(frame.body, frame.end),
    rest: { ...batch, data: rest, count: batch.count - 1 },
  };
}
