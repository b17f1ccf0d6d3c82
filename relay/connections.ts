/**
 * Accepting and keeping the connections of a listening socket.
 *
 * @module
 */

import type { Logger } from "../control/logger.ts";

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

/** Marks a connection active (it sent something). */
export type Touch = () => void;

/**
 * Runs the accept loop of one listener: at most `max` connections are served
 * (each by `serve`, closed when it returns or throws), idle ones are closed,
 * and an accept error that is not the listener closing (out of file
 * descriptors, say) is logged and retried, so the listener never stops.
 *
 * @example
 * ```ts
 * const conns = new Connections({ name: "input tcp:…", max: 1024, idleMs: 300_000, log });
 * conns.run(Deno.listen({ port: 5514 }), async (conn, touch) => { … });
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
          `${this.#opts.name}: accept failed: ${e instanceof Error ? e.message : e}`,
        );
        await new Promise((r) => setTimeout(r, 100));
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

function closeQuietly(closer: { close(): void } | undefined): void {
  try {
    closer?.close();
  } catch {
    // Already closed.
  }
}
