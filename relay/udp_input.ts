/**
 * The UDP input.
 *
 * @module
 */

import {
  type Address,
  type AddressInputConfig,
  DRAIN_MAX_MS,
  DRAIN_QUIET_MS,
  type InputSettings,
} from "../config/mod.ts";
import { type Clock, closeQuietly, errorText, sleep, systemClock } from "../ground/mod.ts";
import type { Counters } from "./counters.ts";
import type { FrameSink } from "./framer.ts";

/**
 * Receives one message per datagram (RFC 5426) and passes it on byte for byte;
 * a datagram longer than `maxMessageSize` is cut to it and counted.
 *
 * @example
 * ```ts
 * import { UdpInput } from "./udp_input.ts";
 * import { Counters } from "./counters.ts";
 * import { Ingest } from "./ingest.ts";
 * import { parseConfig } from "../config/mod.ts";
 *
 * const config = parseConfig(
 *   '{"inputs": [{"type": "udp", "address": "127.0.0.1:5514"}]}',
 *   "inline",
 * );
 * const counters = new Counters();
 * const ingest = new Ingest(counters, (batch) => console.log(`${batch.count} message(s)`));
 * const cfg = config.inputs[0];
 * if (cfg?.type !== "udp") throw new Error("expected a udp input");
 * const input = new UdpInput(cfg, ingest, counters);
 * await input.listen();
 * ```
 */
export class UdpInput {
  #cfg: InputSettings;
  #address: Address;
  #sink: FrameSink;
  #counters: Counters;
  #socket: Deno.DatagramConn | undefined;
  #closed = false;
  #problem = "";
  #clock: Clock;
  #lastAt = 0;

  /** `clock` times {@linkcode UdpInput.lastReceivedAt} (default the system clock). */
  constructor(
    cfg: AddressInputConfig,
    sink: FrameSink,
    counters: Counters,
    clock: Clock = systemClock,
  ) {
    this.#clock = clock;
    this.#cfg = cfg;
    this.#address = cfg.address;
    this.#sink = sink;
    this.#counters = counters;
  }

  /** When a datagram last came in (clock ms); 0: never since start. */
  get lastReceivedAt(): number {
    return this.#lastAt;
  }

  /** What it listens on, for messages. */
  get name(): string {
    return `udp:${this.#address.text}`;
  }

  /** Binds the socket and starts receiving. */
  listen(): Promise<void> {
    const { hostname, port } = this.#address;
    try {
      this.#socket = Deno.listenDatagram({ transport: "udp", hostname, port });
    } catch (e) {
      throw new Error(
        `input ${this.name}: cannot listen: ${
          errorText(e)
        }; free the address or change inputs[].address`,
      );
    }
    this.#receive(this.#socket);
    return Promise.resolve();
  }

  /** Why it is not receiving, "" while it is. */
  get problem(): string {
    return this.#problem;
  }

  /** Applies the settings of `cfg` (same address) in place: `maxMessageSize` from the next datagram. */
  reconfigure(cfg: InputSettings): void {
    this.#cfg = cfg;
  }

  /**
   * Takes what the socket's buffer still holds: receives until no datagram came
   * for {@linkcode DRAIN_QUIET_MS} (at most {@linkcode DRAIN_MAX_MS}), then closes.
   */
  async drain(): Promise<void> {
    const start = Date.now();
    // Any input's message counts: this one is quiet at least when all are.
    let seen = -1;
    while (seen !== this.#counters.received && Date.now() - start < DRAIN_MAX_MS) {
      seen = this.#counters.received;
      await sleep(systemClock, DRAIN_QUIET_MS);
    }
    this.close();
  }

  /** Stops receiving. */
  close(): void {
    this.#closed = true;
    closeQuietly(this.#socket);
  }

  async #receive(socket: Deno.DatagramConn): Promise<void> {
    try {
      for await (const [data] of socket) {
        if (data.length === 0) continue;
        const max = this.#cfg.maxMessageSize;
        if (data.length > max) this.#counters.truncated++;
        this.#sink.message(data, 0, Math.min(data.length, max));
        this.#lastAt = this.#clock.now();
      }
    } catch (e) {
      if (!this.#closed) this.#problem = `receive failed: ${errorText(e)}`;
    }
  }
}
