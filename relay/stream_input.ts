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
import { Connections, type Touch } from "./connections.ts";
import { parseAddress } from "../config/address.ts";

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
  #conns: Connections;

  constructor(cfg: InputConfig, sink: FrameSink, counters: Counters, log: Logger) {
    this.#cfg = cfg;
    this.#sink = sink;
    this.#counters = counters;
    this.#conns = Connections.forInput(this.name, cfg, counters, log);
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
    let listener: Deno.Listener;
    try {
      if (this.#cfg.type === "unix") {
        await Deno.remove(this.#cfg.path).catch(() => {});
        listener = Deno.listen({ transport: "unix", path: this.#cfg.path });
        // Like /dev/log: any local process may log.
        await Deno.chmod(this.#cfg.path, 0o666);
      } else {
        const { hostname, port } = parseAddress(this.#cfg.address);
        listener = Deno.listen({ transport: "tcp", hostname, port });
      }
    } catch (e) {
      throw new Error(
        `input ${this.name}: cannot listen: ${
          e instanceof Error ? e.message : e
        }; free the address or change inputs[].${this.#cfg.type === "unix" ? "path" : "address"}`,
      );
    }
    this.#conns.run(listener, (conn, touch) => this.#serve(conn, touch));
  }

  /** Stops accepting and closes every connection. */
  close(): void {
    this.#conns.close();
  }

  async #serve(conn: Deno.Conn, touch: Touch): Promise<void> {
    const framer = new StreamFramer(this.#sink, this.#counters, this.#cfg.maxMessageSize);
    for (;;) {
      const wait = this.#sink.ready?.();
      if (wait !== undefined) await wait;
      const n = await conn.read(framer.space);
      if (n === null) break;
      touch();
      framer.commit(n);
    }
    framer.end();
  }
}
