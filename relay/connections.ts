/**
 * Accepting and keeping the connections of a listening socket.
 *
 * @module
 */

import { closeQuietly, errorText, type Logger, sleep, systemClock } from "../ground/mod.ts";
import { DRAIN_MAX_MS, DRAIN_QUIET_MS } from "../config/mod.ts";

/** Options of {@linkcode Connections}. */
export interface ConnectionsOptions {
  /** For messages: `input tcp:127.0.0.1:5514`, `control`. */
  name: string;
  /** Connections beyond this many open ones are closed at once. */
  max: number;
  /** A connection idle (no {@linkcode Touch}) for this long is closed. */
  idleMs: number;
  log: Logger;
  /** Called for each connection closed because `max` were open. */
  onReject?: () => void;
}

/**
 * Marks a connection active (it sent something). Returns `false` once the
 * input is stopping and its drain time is up: the server should stop reading
 * (what it read is still taken) and end the connection.
 */
export type Touch = () => boolean;

/** Connections that have not ended this long after that are closed. */
const DRAIN_CUT_MS = 200;

/**
 * Runs the accept loop of one listener: at most `max` connections are served
 * (each by `serve`, closed when it returns or throws), idle ones are closed,
 * and an accept error that is not the listener closing (out of file
 * descriptors, say) is logged and retried, so the listener never stops.
 *
 * @example
 * ```ts
 * import { Connections } from "./connections.ts";
 * import { Logger } from "../ground/mod.ts";
 *
 * const log = new Logger({ level: "info", format: "text" });
 * const conns = new Connections({ name: "input tcp:5514", max: 1024, idleMs: 300_000, log });
 * conns.run(Deno.listen({ port: 5514 }), async (conn, touch) => {
 *   const buf = new Uint8Array(65536);
 *   while ((await conn.read(buf)) !== null && touch()) {
 *     // handle what was read
 *   }
 * });
 * conns.close();
 * ```
 */
export class Connections {
  #opts: ConnectionsOptions;
  #conns = new Map<Deno.Conn, number>();
  #listener: Deno.Listener | undefined;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #problem = "";
  /** Set when a drain's time is up: every connection ends after its next read. */
  #finishing = false;

  constructor(opts: ConnectionsOptions) {
    this.#opts = opts;
  }

  /**
   * The connections of an input: `maxConnections` and `idleTimeoutMs` from its
   * config, refusals counted in `rejectedConnections`.
   */
  static forInput(
    name: string,
    cfg: { maxConnections: number; idleTimeoutMs: number },
    counters: { rejectedConnections: number },
    log: Logger,
  ): Connections {
    return new Connections({
      name: `input ${name}`,
      max: cfg.maxConnections,
      idleMs: cfg.idleTimeoutMs,
      log,
      onReject: () => counters.rejectedConnections++,
    });
  }

  /** Connections open now. */
  get size(): number {
    return this.#conns.size;
  }

  /** Why the listener stopped accepting when nobody closed it; "" while it accepts. */
  get problem(): string {
    return this.#problem;
  }

  /** Accepts from `listener` until {@linkcode Connections.close}. */
  run(listener: Deno.Listener, serve: (conn: Deno.Conn, touch: Touch) => Promise<void>): void {
    this.#listener = listener;
    this.#startSweeper();
    this.#accept(listener, serve);
  }

  /**
   * Applies new limits in place, listener and connections kept: `max` counts
   * from the next accept, `idleMs` from the next sweep.
   */
  configure(limits: { max: number; idleMs: number }): void {
    this.#opts = { ...this.#opts, ...limits };
    if (this.#sweeper !== undefined) {
      clearInterval(this.#sweeper);
      this.#startSweeper();
    }
  }

  /**
   * Stops accepting, reads on until every connection has been quiet for
   * {@linkcode DRAIN_QUIET_MS} (closing each quiet one: nothing of its sender's
   * is unread, so the sender sees an orderly end, not a reset) or
   * {@linkcode DRAIN_MAX_MS} passed, then has each end after its next read, and
   * closes what is left {@linkcode DRAIN_CUT_MS} later. `maxMs` 0 skips the
   * reading on (a protocol whose clients resend what was not answered).
   */
  async drain(maxMs: number = DRAIN_MAX_MS): Promise<void> {
    this.#closed = true;
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    closeQuietly(this.#listener);
    const start = Date.now();
    for (;;) {
      const now = Date.now();
      for (const [conn, lastActive] of this.#conns) {
        if (now - lastActive >= DRAIN_QUIET_MS) {
          this.#conns.delete(conn);
          closeQuietly(conn);
        }
      }
      if (this.#conns.size === 0) return;
      if (now - start >= maxMs + DRAIN_CUT_MS) break;
      if (now - start >= maxMs) this.#finishing = true;
      await sleep(systemClock, 5);
    }
    this.close();
  }

  /** Stops accepting and closes every connection. */
  close(): void {
    this.#closed = true;
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    closeQuietly(this.#listener);
    for (const conn of this.#conns.keys()) closeQuietly(conn);
    this.#conns.clear();
  }

  async #accept(
    listener: Deno.Listener,
    serve: (conn: Deno.Conn, touch: Touch) => Promise<void>,
  ): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) {
          if (!this.#closed) this.#problem = `accept failed: ${e.message}`;
          return;
        }
        this.#opts.log.warn(
          `${this.#opts.name}: accept failed: ${errorText(e)}`,
        );
        await sleep(systemClock, 100);
        continue;
      }
      if (this.#conns.size >= this.#opts.max) {
        this.#opts.onReject?.();
        closeQuietly(conn);
        continue;
      }
      this.#conns.set(conn, Date.now());
      const touch = () => {
        if (this.#conns.has(conn)) this.#conns.set(conn, Date.now());
        return !this.#finishing;
      };
      serve(conn, touch).catch(() => {
        // Reset by the peer, or closed by us (idle, stop).
      }).finally(() => {
        this.#conns.delete(conn);
        closeQuietly(conn);
      });
    }
  }

  #startSweeper(): void {
    const every = Math.max(10, Math.min(1000, Math.floor(this.#opts.idleMs / 4)));
    this.#sweeper = setInterval(() => this.#sweep(), every);
  }

  #sweep(): void {
    const cutoff = Date.now() - this.#opts.idleMs;
    for (const [conn, lastActive] of this.#conns) {
      if (lastActive < cutoff) {
        this.#conns.delete(conn);
        closeQuietly(conn);
      }
    }
  }
}
