/**
 * The agent's data path, wired: inputs → ingest → buffer (memory, spool) →
 * forwarder → links.
 *
 * @module
 */

import type { Config, InputConfig } from "../config/mod.ts";
import type { Clock, Logger } from "../ground/mod.ts";
import {
  Counters,
  DEAD_LETTER_FILE,
  DeadLetters,
  type Dialer,
  Forwarder,
  Ingest,
  RelpInput,
  StreamInput,
  Taps,
  UdpInput,
} from "../relay/mod.ts";
import { Spool, type SpoolFs } from "../spool/mod.ts";
import { TieredBuffer } from "../buffer/mod.ts";

/** Any of the listening inputs. */
export type Input = StreamInput | UdpInput | RelpInput;

/** What {@linkcode assemble} needs besides the config. */
export interface AssembleOptions {
  /** Time source of buffer and forwarder. */
  clock: Clock;
  /** Opens connections to collectors; default plain TCP or TLS per protocol. */
  dial?: Dialer;
  /** The spool's file operations; default the real file system (tests: a slow disk). */
  spoolFs?: SpoolFs;
}

/** One agent's data path, wired and idle: nothing listens, nothing is forwarded yet. */
export interface Parts {
  /** The counters every part adds to. */
  counters: Counters;
  /** Memory and spool, between ingest and forwarder. */
  buffer: TieredBuffer;
  /** Collects every input's messages into batches for the buffer. */
  ingest: Ingest;
  /** The open taps (`agent tap`): inputs and forwarders offer what passes. */
  taps: Taps;
  /** Where messages a collector keeps refusing are set aside. */
  deadLetters: DeadLetters;
  /** Delivers from the buffer to `config.collectors`; not started. */
  forwarder: Forwarder;
  /** One per `config.inputs`, in order; not listening. */
  inputs: Input[];
  /** The largest message ingest and spool were sized for. */
  maxRecord: number;
  /** A new forwarder from the same buffer, for other collectors (a reload). */
  forwarderFor(collectors: Config["collectors"]): Forwarder;
  /** A new input into the same ingest (a reload); not listening. */
  inputFor(cfg: InputConfig): Input;
}

/**
 * Opens the spool and wires the data path of `config`. A RELP input
 * acknowledges a message once the buffer has it safely (written to the spool
 * when it goes through the spool).
 *
 * @example
 * ```ts
 * import { assemble } from "./assemble.ts";
 * import { parseConfig } from "../config/mod.ts";
 * import { Logger, systemClock } from "../ground/mod.ts";
 *
 * const config = parseConfig("{}", "inline");
 * const parts = await assemble(config, new Logger(config.log), { clock: systemClock });
 * for (const input of parts.inputs) await input.listen();
 * parts.forwarder.start();
 * // …
 * await parts.forwarder.stop();
 * await parts.buffer.close();
 * ```
 */
export async function assemble(
  config: Config,
  log: Logger,
  opts: AssembleOptions,
): Promise<Parts> {
  const counters = new Counters();
  const maxRecord = Math.max(65536, ...config.inputs.map((i) => i.maxMessageSize));
  const spool = await Spool.open(config.spool, maxRecord, log, {
    clock: opts.clock,
    ...(opts.spoolFs === undefined ? {} : { fs: opts.spoolFs }),
  });
  const buffer = new TieredBuffer(spool, config.spool.mode, { clock: opts.clock });
  buffer.onDrop = (n) => counters.dropped += n;
  const deadLetters = new DeadLetters(
    `${config.spool.dir}/${DEAD_LETTER_FILE}`,
    (e) => log.warn(e),
  );
  const ingest = new Ingest(counters, (b) => buffer.push(b), maxRecord);
  const taps = new Taps();
  ingest.taps = taps;
  ingest.backpressure = () => buffer.backlog();
  const forwarderFor = (collectors: Config["collectors"]) =>
    new Forwarder(collectors, buffer, counters, log, {
      deadLetter: (message, collector, reason) => deadLetters.add(message, collector, reason),
      clock: opts.clock,
      maxDrainRate: config.spool.maxDrainRate,
      taps,
      ...(opts.dial === undefined ? {} : { dial: opts.dial }),
    });
  const inputFor = (cfg: InputConfig): Input => {
    // Each input's own sink: taps see which input a message came in on.
    let input: Input | undefined;
    const sink = ingest.forInput(() => input?.name ?? "");
    switch (cfg.type) {
      case "udp":
        input = new UdpInput(cfg, sink, counters, opts.clock);
        break;
      case "relp":
        input = new RelpInput(cfg, sink, buffer, counters, log, opts.clock);
        break;
      default:
        input = new StreamInput(cfg, sink, counters, log, opts.clock);
    }
    return input;
  };
  return {
    counters,
    buffer,
    ingest,
    taps,
    deadLetters,
    forwarder: forwarderFor(config.collectors),
    inputs: config.inputs.map(inputFor),
    maxRecord,
    forwarderFor,
    inputFor,
  };
}
