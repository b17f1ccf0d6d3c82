/**
 * Delivery to the collectors.
 *
 * @module
 */

import {
  type Batch,
  type BatchSource,
  type Clock,
  type Logger,
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
import { createLink } from "./create_link.ts";
import type { Link, LinkEvents } from "./link.ts";
import { DrainPacer } from "./drain_pacer.ts";
import type { Taps } from "./taps.ts";
import { type MemberStatus, PoolLink } from "./pool_link.ts";
import { type Resolver, systemResolver } from "./resolver.ts";
import { type EvidenceSource, tcpEvidence } from "./tcp_evidence.ts";
import { dialTls } from "./tls_dial.ts";

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

/** Plain TCP (protocols `tcp` and `relp`). */
export const dialTcp: Dialer = (cfg) => {
  const { hostname, port } = cfg.address;
  return Deno.connect({ hostname, port, transport: "tcp" });
};

/** The default dialer, chosen per collector: TLS for protocol `tls`, plain TCP otherwise. */
export const dialCollector: Dialer = (cfg) => cfg.protocol === "tls" ? dialTls(cfg) : dialTcp(cfg);

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
  /** Batches written (or being written) and not yet confirmed by the link, oldest first. */
  #unacked: Batch[] = [];
  /**
   * Where the unconfirmed ones start in `#unacked`: confirming moves it, not
   * the array (a 36 MiB window holds ~14,000 small batches).
   */
  #head = 0;
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
      (late) => late.then((c) => this.#closeQuietly(c), () => {}),
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
        // A stream link resends from what it was given: the source may keep the data instead.
        if (t.cfg.protocol !== "relp") {
          // Still the newest in hand: nothing is taken while a write is under way.
          const last = this.#unacked.length - 1;
          if (last >= this.#head && this.#unacked[last] === batch) {
            this.#unacked[last] = this.#source.lighten(batch);
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
    const inHand = this.#unacked.slice(this.#head);
    this.#unacked = [];
    this.#head = 0;
    this.#source.giveBack(inHand);
  }

  /** The link confirmed its `count` oldest batches: they are acknowledged to the buffer. */
  #confirmed(session: Session, count: number): void {
    if (session !== this.#session) return;
    const u = this.#unacked;
    const end = Math.min(this.#head + count, u.length);
    for (let i = this.#head; i < end; i++) {
      this.#source.ack(u[i]!);
      u[i] = undefined as unknown as Batch;
    }
    this.#head = end;
    if (end === u.length || (end >= 1024 && end * 2 >= u.length)) {
      this.#unacked = u.slice(end);
      this.#head = 0;
    }
  }

  /**
   * The collector refused message `index` of the `at`-th batch in hand. The
   * {@linkcode POISON_REFUSALS}th time, that message is taken out of the batch
   * (set aside as a dead letter and counted), so that the stream behind it moves.
   */
  #refused(session: Session, at: number, index: number, reason: string): void {
    if (session !== this.#session) return;
    const batch = this.#unacked[this.#head + at];
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
    this.#unacked[this.#head + at] = rest;
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

  #closeQuietly(conn: Deno.Conn | undefined): void {
    try {
      conn?.close();
    } catch {
      // Already closed.
    }
  }
}

/** Message `index` of `batch` and the batch without it (same spool position). */
function without(batch: Batch, index: number): { message: Uint8Array; rest: Batch } {
  const data = batch.data;
  let p = 0;
  for (let i = 0;; i++) {
    let q = p;
    let len = 0;
    while (data[q] !== 0x20) len = len * 10 + data[q++]! - 0x30;
    const end = q + 1 + len;
    if (i === index) {
      const rest = new Uint8Array(data.length - (end - p));
      rest.set(data.subarray(0, p));
      rest.set(data.subarray(end), p);
      const message = data.slice(q + 1, end);
      return {
        message,
        rest: { ...batch, data: rest, count: batch.count - 1 },
      };
    }
    p = end;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
