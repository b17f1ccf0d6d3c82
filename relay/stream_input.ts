/**
 * TCP and unix stream socket inputs.
 *
 * @module
 */

import type { InputConfig } from "../config/config.ts";
import type { Counters } from "./counters.ts";
import type { FrameSink } from "./framer.ts";
import type { Logger } from "../control/logger.ts";
import { StreamFramer } from "./framer.ts";
import { parseAddress } from "../config/address.ts";

interface Connection {
  conn: Deno.Conn;
  lastActive: number;
}

/**
 * Accepts connections on a TCP address or a unix socket path and feeds what
 * they send through a {@linkcode StreamFramer} into `sink`. At most
 * `maxConnections` are served (more are closed at once and counted); a
 * connection idle for `idleTimeoutMs` is closed. Nothing a sender does makes
 * it wait on anything but its own socket.
 *
 * @example
 * ```ts
 * const input = new StreamInput(cfg, ingest, counters, log);
 * await input.listen();
 * // …
 * input.close();
 * ```
 */
export class StreamInput {
  #cfg: InputConfig;
  #sink: FrameSink;
  #counters: Counters;
  #log: Logger;
  #listener: Deno.Listener | undefined;
  #conns = new Set<Connection>();
  #sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(cfg: InputConfig, sink: FrameSink, counters: Counters, log: Logger) {
    this.#cfg = cfg;
    this.#sink = sink;
    this.#counters = counters;
    this.#log = log;
  }

  /** What it listens on, for messages. */
  get name(): string {
    return this.#cfg.type === "unix" ? `unix:${this.#cfg.path}` : `tcp:${this.#cfg.address}`;
  }

  /** Open connections. */
  get connections(): number {
    return this.#conns.size;
  }

  /** Binds the socket and starts accepting. */
  async listen(): Promise<void> {
    try {
      if (this.#cfg.type === "unix") {
        await Deno.remove(this.#cfg.path).catch(() => {});
        this.#listener = Deno.listen({ transport: "unix", path: this.#cfg.path });
        // Like /dev/log: any local process may log.
        await Deno.chmod(this.#cfg.path, 0o666);
      } else {
        const { hostname, port } = parseAddress(this.#cfg.address);
        this.#listener = Deno.listen({ transport: "tcp", hostname, port });
      }
    } catch (e) {
      throw new Error(
        `input ${this.name}: cannot listen: ${
          e instanceof Error ? e.message : e
        }; free the address or change inputs[].${this.#cfg.type === "unix" ? "path" : "address"}`,
      );
    }
    const every = Math.max(10, Math.min(1000, Math.floor(this.#cfg.idleTimeoutMs / 4)));
    this.#sweeper = setInterval(() => this.#sweep(), every);
    this.#accept(this.#listener);
  }

  /** Stops accepting and closes every connection. */
  close(): void {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    try {
      this.#listener?.close();
    } catch {
      // Already closed.
    }
    for (const c of this.#conns) closeQuietly(c.conn);
    this.#conns.clear();
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) return;
        // EMFILE and the like: keep serving the connections we have, try again shortly.
        this.#log.warn(`input ${this.name}: accept failed: ${e instanceof Error ? e.message : e}`);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (this.#conns.size >= this.#cfg.maxConnections) {
        this.#counters.rejectedConnections++;
        closeQuietly(conn);
        continue;
      }
      this.#serve(conn);
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const c: Connection = { conn, lastActive: Date.now() };
    this.#conns.add(c);
    const framer = new StreamFramer(this.#sink, this.#counters, this.#cfg.maxMessageSize);
    try {
      for (;;) {
        const wait = this.#sink.ready?.();
        if (wait !== undefined) await wait;
        const n = await conn.read(framer.space);
        if (n === null) break;
        c.lastActive = Date.now();
        framer.commit(n);
      }
      framer.end();
    } catch {
      // Reset by the peer, or closed by us (idle, stop).
    } finally {
      this.#conns.delete(c);
      closeQuietly(conn);
    }
  }

  #sweep(): void {
    const cutoff = Date.now() - this.#cfg.idleTimeoutMs;
    for (const c of this.#conns) {
      if (c.lastActive < cutoff) {
        this.#conns.delete(c);
        closeQuietly(c.conn);
      }
    }
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
