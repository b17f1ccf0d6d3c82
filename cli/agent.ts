/**
 * The running agent: inputs, queue, spool, forwarder and control socket wired together.
 *
 * @module
 */

import type { Config } from "../config/config.ts";
import type { Logger } from "../control/logger.ts";
import { ControlServer } from "../control/control_server.ts";
import { Counters } from "../relay/counters.ts";
import { Forwarder } from "../relay/forwarder.ts";
import { Ingest } from "../relay/ingest.ts";
import { Queue } from "../relay/queue.ts";
import { StreamInput } from "../relay/stream_input.ts";
import { UdpInput } from "../relay/udp_input.ts";
import { Spool } from "../spool/spool.ts";
import { buildStatus, type Status } from "../control/status.ts";
import { VERSION } from "./version.ts";

/**
 * One agent. {@linkcode Agent.start} recovers the spool, binds every input and
 * the control socket, and starts forwarding; {@linkcode Agent.stop} stops
 * accepting, puts whatever is in memory or in hand into the spool, syncs it
 * and closes everything.
 *
 * @example
 * ```ts
 * const agent = await Agent.start(config, log);
 * await agent.stop();
 * ```
 */
export class Agent {
  #config: Config;
  #log: Logger;
  #counters = new Counters();
  #startedAt = Date.now();
  #spool!: Spool;
  #queue!: Queue;
  #forwarder!: Forwarder;
  #ingest!: Ingest;
  #inputs: (StreamInput | UdpInput)[] = [];
  #control: ControlServer | undefined;
  /** Counter samples, one a second over the last minute, for rates and recent drops. */
  #history: { at: number; received: number; forwarded: number; dropped: number }[] = [];
  #sampler: ReturnType<typeof setInterval> | undefined;

  private constructor(config: Config, log: Logger) {
    this.#config = config;
    this.#log = log;
  }

  /** Starts an agent; throws with a message naming what failed and the fix. */
  static async start(config: Config, log: Logger): Promise<Agent> {
    const agent = new Agent(config, log);
    try {
      await agent.#start();
    } catch (e) {
      await agent.stop().catch(() => {});
      throw e;
    }
    return agent;
  }

  async #start(): Promise<void> {
    const cfg = this.#config;
    const relp = cfg.inputs.find((i) => i.type === "relp");
    if (relp) {
      throw new Error(
        `input relp:${relp.address}: RELP inputs are not available in this version; use type "tcp"`,
      );
    }
    const other = cfg.collectors.find((c) => c.protocol !== "tcp");
    if (other) {
      throw new Error(
        `collector ${other.address}: protocol "${other.protocol}" is not available in this version; use "tcp"`,
      );
    }
    const maxRecord = Math.max(65536, ...cfg.inputs.map((i) => i.maxMessageSize));
    this.#spool = await Spool.open(cfg.spool, maxRecord, this.#log);
    this.#spool.onDrop = (n) => this.#counters.dropped += n;
    this.#queue = new Queue(this.#spool, cfg.spool.mode);
    this.#forwarder = new Forwarder(cfg.collectors, this.#queue, this.#counters, this.#log);
    this.#ingest = new Ingest(this.#counters, (b) => this.#queue.push(b), maxRecord);
    for (const input of cfg.inputs) {
      this.#inputs.push(
        input.type === "udp"
          ? new UdpInput(input, this.#ingest, this.#counters)
          : new StreamInput(input, this.#ingest, this.#counters, this.#log),
      );
    }
    for (const input of this.#inputs) await input.listen();
    this.#control = new ControlServer(
      cfg.control.socket,
      cfg.control.group,
      (command) => this.#command(command),
      this.#log,
    );
    await this.#control.listen();
    this.#forwarder.start();
    this.#sample();
    this.#sampler = setInterval(() => this.#sample(), 1000);
    this.#log.info(
      `agent ${VERSION}: ready: inputs ${this.#inputs.map((i) => i.name).join(", ")}; collectors ${
        cfg.collectors.map((c) => c.address).join(", ")
      }; spool ${cfg.spool.dir} (${cfg.spool.mode}); control ${cfg.control.socket}`,
    );
  }

  /** The status document of the spec. */
  status(): Status {
    const now = Date.now();
    const minuteAgo = this.#history[0] ?? { dropped: 0 };
    return buildStatus({
      now,
      startedAt: this.#startedAt,
      collectors: this.#forwarder.status(),
      spool: this.#spool.stats(now),
      memory: this.#queue.memory,
      counters: this.#counters,
      droppedLastMinute: this.#counters.dropped - minuteAgo.dropped,
    });
  }

  /**
   * Stops: inputs first (nothing new comes in), then the forwarder; what memory
   * and the forwarder hold goes into the spool, which is synced and closed.
   */
  async stop(): Promise<void> {
    if (this.#sampler !== undefined) clearInterval(this.#sampler);
    for (const input of this.#inputs) input.close();
    this.#ingest?.flush();
    const inHand = this.#forwarder ? await this.#forwarder.stop() : [];
    if (this.#queue) await this.#queue.close(inHand);
    await this.#control?.close();
    const spooled = this.#spool?.stats().messages ?? 0;
    this.#log.info(`agent: stopped; ${spooled} message(s) left in the spool`);
  }

  #sample(): void {
    const { received, forwarded, dropped } = this.#counters;
    this.#history.push({ at: Date.now(), received, forwarded, dropped });
    if (this.#history.length > 61) this.#history.shift();
  }

  #command(command: string): Promise<unknown> {
    switch (command) {
      case "status":
        return Promise.resolve(this.status());
      default:
        return Promise.reject(new Error(`unknown command "${command}"; known: status`));
    }
  }
}
