/**
 * TCP and unix stream socket inputs.
 *
 * @module
 */

import type { InputConfig } from "../config/mod.ts";
import type { Counters } from "./counters.ts";
import { type FrameSink, StreamFramer } from "./framer.ts";
import { type Clock, errorText, type Logger, systemClock } from "../ground/mod.ts";
import { Connections, type Touch } from "./connections.ts";
import { listenUnix, removeSocket } from "./unix_listener.ts";

/**
 * Accepts connections on a TCP address or a unix socket path and feeds what
 * they send through a {@linkcode StreamFramer} into `sink`. At most
 * `maxConnections` are served (more are closed at once and counted); a
 * connection idle for `idleTimeoutMs` is closed. Nothing a sender does makes
 * it wait on anything but its own socket.
 *
 * @example
 * ```ts
 * import { StreamInput } from "./stream_input.ts";
 * import { Counters } from "./counters.ts";
 * import { Ingest } from "./ingest.ts";
 * import { Logger } from "../ground/mod.ts";
 * import { parseConfig } from "../config/mod.ts";
 *
 * const config = parseConfig(
 *   '{"inputs": [{"type": "tcp", "address": "127.0.0.1:5514"}]}',
 *   "inline",
 * );
 * const counters = new Counters();
 * const ingest = new Ingest(counters, (batch) => console.log(`${batch.count} message(s)`));
 * const input = new StreamInput(config.inputs[0]!, ingest, counters, new Logger(config.log));
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
  #clock: Clock;
  #lastAt = 0;

  /** `clock` times {@linkcode StreamInput.lastReceivedAt} (default the system clock). */
  constructor(
    cfg: InputConfig,
    sink: FrameSink,
    counters: Counters,
    log: Logger,
    clock: Clock = systemClock,
  ) {
    this.#cfg = cfg;
    this.#sink = sink;
    this.#counters = counters;
    this.#clock = clock;
    this.#conns = Connections.forInput(this.name, cfg, counters, log);
  }

  /** What it listens on, for messages. */
  get name(): string {
    return this.#cfg.type === "unix" ? `unix:${this.#cfg.path}` : `tcp:${this.#cfg.address.text}`;
  }

  /** When a read last brought bytes (clock ms); 0: never since start. */
  get lastReceivedAt(): number {
    return this.#lastAt;
  }

  /** Open connections. */
  get connections(): number {
    return this.#conns.size;
  }

  /**
   * Binds the socket and starts accepting. A unix socket replaces only a stale
   * socket at its path: a symlink or a file there is refused, never followed.
   */
  async listen(): Promise<void> {
    let listener: Deno.Listener;
    try {
      if (this.#cfg.type === "unix") {
        // Like /dev/log: any local process may log.
        listener = await listenUnix(this.#cfg.path, { mode: 0o666 });
      } else {
        const { hostname, port } = this.#cfg.address;
        listener = Deno.listen({ transport: "tcp", hostname, port });
      }
    } catch (e) {
      const why = errorText(e);
      const key = `inputs[].${this.#cfg.type === "unix" ? "path" : "address"}`;
      throw new Error(
        `input ${this.name}: cannot listen: ${why}${
          / not a socket; remove it$/.test(why) ? "" : "; free the address"
        } or change ${key}`,
      );
    }
    this.#conns.run(listener, (conn, touch) => this.#serve(conn, touch));
  }

  /** Why it is not listening, "" while it is. */
  get problem(): string {
    return this.#conns.problem;
  }

  /**
   * Applies the settings of `cfg` (same type and address) in place: the
   * listener and its connections stay; new connections get the new
   * `maxMessageSize`.
   */
  reconfigure(cfg: InputConfig): void {
    this.#cfg = cfg;
    this.#conns.configure({ max: cfg.maxConnections, idleMs: cfg.idleTimeoutMs });
  }

  /**
   * Stops accepting, reads what the open connections still send until they
   * are quiet (at most about a second: {@linkcode Connections.drain}), then
   * closes like {@linkcode StreamInput.close}.
   */
  async drain(): Promise<void> {
    await this.#conns.drain();
    this.close();
  }

  /** Stops accepting, closes every connection and removes its socket (only a socket). */
  close(): void {
    this.#conns.close();
    if (this.#cfg.type === "unix") removeSocket(this.#cfg.path);
  }

  async #serve(conn: Deno.Conn, touch: Touch): Promise<void> {
    const framer = new StreamFramer(this.#sink, this.#counters, this.#cfg.maxMessageSize);
    for (;;) {
      const wait = this.#sink.ready?.();
      if (wait !== undefined) await wait;
      const n = await conn.read(framer.space);
      if (n === null) break;
      framer.commit(n);
      this.#lastAt = this.#clock.now();
      if (!touch()) break;
    }
    framer.end();
  }
}
