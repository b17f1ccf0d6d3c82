/**
 * RELP input: serves rsyslog's `omrelp` (and any RELP client).
 *
 * @module
 */

import type { Counters } from "./counters.ts";
import type { FrameSink } from "./framer.ts";
import type { Address, AddressInputConfig, InputSettings } from "../config/mod.ts";
import { type Clock, closeQuietly, errorText, type Logger, systemClock } from "../ground/mod.ts";
import {
  encodeFrame,
  nextTxnr,
  type RelpFrame,
  RelpFrameParser,
  RelpFramingError,
} from "./relp_frame.ts";
import { noDelay } from "./_no_delay.ts";
import { Connections, type Touch } from "./connections.ts";

/** Where the RELP input hands messages: the ingest, which it flushes before waiting. */
export interface RelpSink extends FrameSink {
  /** Hands on every message collected so far (to the queue). */
  flush(): void;
}

/** Answers not yet sent on one connection beyond which it is not read until they go out. */
const MAX_UNANSWERED = 1024;
const OPEN_ANSWER = "200 OK\nrelp_version=0\nrelp_software=syslog-agent\ncommands=syslog";
const SERVERCLOSE = encodeFrame(0, "serverclose");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Where the RELP input learns that what it handed on is safely queued: a
 * mark taken before the messages go to the sink, then `settled(mark)`,
 * `true` once they are queued (written to the spool when they go through
 * it), `false` when some could not be written.
 */
export interface Durability<M> {
  /** A point in the stream of messages handed on. */
  mark(): M;
  /** Resolves once everything handed on is queued: `false` if some after `since` was lost. */
  settled(since: M): Promise<boolean>;
}

/**
 * A RELP server (librelp `doc/relp.md`) on a TCP address. Each `syslog`
 * command's message goes to the ingest, and its `rsp 200 OK` is sent only once
 * the message is safely queued: `settled` resolves `true` (the spool has
 * written it when it goes through the spool — always with `spool.mode =
 * "always"`). When the spool could not write it (a full disk), the message
 * is not acknowledged: the connection is closed without an answer, with a
 * `serverclose` hint, and the client resends it (the transactions are counted as `notTaken`).
 * Answers go out in the order of the commands. A message longer than
 * `maxMessageSize` is cut to it and counted (`truncated`) and acknowledged. A
 * framing error or a wrong transaction number is counted (`malformed`),
 * answered with a `serverclose` hint, and the connection is closed: the client
 * resends what was not answered. `close` is answered and the connection ended;
 * idle connections are closed after `idleTimeoutMs`; at most `maxConnections`
 * are served.
 *
 * @example
 * ```ts
 * import { RelpInput } from "./relp_input.ts";
 * import { Ingest } from "./ingest.ts";
 * import { Counters, Logger, parseConfig, Spool, TieredBuffer } from "../mod.ts";
 *
 * const config = parseConfig(
 *   '{"inputs": [{"type": "relp", "address": "127.0.0.1:2514"}]}',
 *   "inline",
 * );
 * const log = new Logger(config.log);
 * const counters = new Counters();
 * const buffer = new TieredBuffer(await Spool.open(config.spool, 65536, log), config.spool.mode);
 * const ingest = new Ingest(counters, (batch) => buffer.push(batch));
 * const cfg = config.inputs[0];
 * if (cfg?.type !== "relp") throw new Error("expected a relp input");
 * const input = new RelpInput(cfg, ingest, buffer, counters, log);
 * await input.listen();
 * // …
 * input.close();
 * ```
 */
export class RelpInput {
  #cfg: InputSettings;
  #address: Address;
  #sink: RelpSink;
  #durability: Durability<unknown>;
  #counters: Counters;
  #log: Logger;
  #conns: Connections;
  #clock: Clock;
  #lastAt = 0;

  /**
   * An input that does not listen yet ({@linkcode RelpInput.listen}).
   *
   * @param cfg the input (`type: "relp"`)
   * @param sink receives the messages
   * @param durability tells when what was handed to `sink` and flushed is safely queued
   * @param counters `received` (by the sink), `truncated`, `malformed`, `rejectedConnections`
   * @param log where protocol problems are reported (debug)
   * @param clock times {@linkcode RelpInput.lastReceivedAt} (default the system clock)
   */
  constructor(
    cfg: AddressInputConfig,
    sink: RelpSink,
    durability: Durability<unknown>,
    counters: Counters,
    log: Logger,
    clock: Clock = systemClock,
  ) {
    this.#clock = clock;
    this.#cfg = cfg;
    this.#address = cfg.address;
    this.#sink = sink;
    this.#durability = durability;
    this.#counters = counters;
    this.#log = log;
    this.#conns = Connections.forInput(this.name, cfg, counters, log);
  }

  /** When a syslog command last came in (clock ms); 0: never since start. */
  get lastReceivedAt(): number {
    return this.#lastAt;
  }

  /** What it listens on, for messages. */
  get name(): string {
    return `relp:${this.#address.text}`;
  }

  /** Open connections. */
  get connections(): number {
    return this.#conns.size;
  }

  /** Binds the socket and starts accepting. */
  listen(): Promise<void> {
    let listener: Deno.Listener;
    try {
      const { hostname, port } = this.#address;
      listener = Deno.listen({ transport: "tcp", hostname, port });
    } catch (e) {
      return Promise.reject(
        new Error(
          `input ${this.name}: cannot listen: ${
            errorText(e)
          }; free the address or change inputs[].address`,
        ),
      );
    }
    this.#conns.run(listener, (conn, touch) => this.#serve(conn, touch));
    return Promise.resolve();
  }

  /** Why it is not listening, "" while it is. */
  get problem(): string {
    return this.#conns.problem;
  }

  /**
   * Applies the settings of `cfg` (same address) in place: the listener and
   * its connections stay; new connections get the new `maxMessageSize`.
   */
  reconfigure(cfg: InputSettings): void {
    this.#cfg = cfg;
    this.#conns.configure({ max: cfg.maxConnections, idleMs: cfg.idleTimeoutMs });
  }

  /**
   * Stops accepting; each open connection answers what it has read, is sent
   * a `serverclose` hint and closed (the client resends what has no answer):
   * {@linkcode Connections.drain} without reading on.
   */
  async drain(): Promise<void> {
    await this.#conns.drain(0);
  }

  /** Stops accepting and closes every connection (unanswered messages are resent by clients). */
  close(): void {
    this.#conns.close();
  }

  async #serve(conn: Deno.Conn, touch: Touch): Promise<void> {
    noDelay(conn);
    const session = new Session(conn, this.#cfg.maxMessageSize, this.#sink, this.#counters);
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        // While the spool's writes are far behind, reads pause (the client's window fills).
        const wait = this.#sink.ready?.();
        if (wait !== undefined) await wait;
        const n = await conn.read(buf);
        if (n === null) break;
        const more = touch();
        const mark = this.#durability.mark();
        const { answers, messages, end } = session.take(buf.subarray(0, n));
        if (messages > 0) {
          this.#sink.flush();
          this.#lastAt = this.#clock.now();
        }
        if (answers.length > 0 || end !== undefined) {
          const ready = messages > 0 ? this.#durability.settled(mark) : undefined;
          session.answer(ready, answers, end !== undefined);
        }
        if (end !== undefined) {
          if (end !== "close") {
            this.#counters.malformed++;
            this.#log.debug(`input ${this.name}: closing a connection: ${end}`);
          }
          await session.drained();
          break;
        }
        if (!more) {
          // Stopping: what was read is answered, then the client is told to go.
          session.answer(undefined, [], true);
          await session.drained();
          break;
        }
        if (session.unanswered > MAX_UNANSWERED) await session.drained();
      }
    } catch {
      // Reset by the peer, or closed by us (idle, stop).
    }
  }
}

/** What one read produced. */
interface Taken {
  /** Answer frames, in the order of the commands. */
  answers: string[];
  /** Messages handed to the sink. */
  messages: number;
  /** Set when the connection is to end after the answers: `"close"` or the protocol problem. */
  end: string | undefined;
}

/** The protocol state of one RELP connection. */
class Session {
  #conn: Deno.Conn;
  #parser: RelpFrameParser;
  #sink: RelpSink;
  #counters: Counters;
  #opened = false;
  #expect = 1;
  #chain: Promise<void> = Promise.resolve();
  #failed = false;
  unanswered = 0;

  constructor(conn: Deno.Conn, maxMessageSize: number, sink: RelpSink, counters: Counters) {
    this.#conn = conn;
    this.#parser = new RelpFrameParser({ maxData: maxMessageSize, oversize: "truncate" });
    this.#sink = sink;
    this.#counters = counters;
  }

  /** Parses what was read: messages go to the sink, answers are returned. */
  take(bytes: Uint8Array): Taken {
    const out: Taken = { answers: [], messages: 0, end: undefined };
    try {
      this.#parser.push(bytes, (f) => {
        if (out.end !== undefined) return;
        this.#frame(f, out);
      });
    } catch (e) {
      if (!(e instanceof RelpFramingError)) throw e;
      out.end ??= e.message;
    }
    return out;
  }

  #frame(f: RelpFrame, out: Taken): void {
    if (f.txnr === 0) return; // a hint: never answered
    if (f.txnr !== this.#expect) {
      out.end = `RELP txnr ${f.txnr} out of sequence, expected ${this.#expect}`;
      return;
    }
    this.#expect = nextTxnr(this.#expect);
    if (!this.#opened && f.command !== "open") {
      out.end = `RELP command "${f.command}" before "open"`;
      return;
    }
    switch (f.command) {
      case "open": {
        const offers = decoder.decode(f.data).split("\n");
        if (!offers.some((o) => o.startsWith("relp_version="))) {
          out.answers.push(rsp(f.txnr, "500 relp_version offer missing"));
          out.end = "RELP open without a relp_version offer";
          return;
        }
        this.#opened = true;
        out.answers.push(rsp(f.txnr, OPEN_ANSWER));
        return;
      }
      case "syslog":
        if (f.data.length > 0) {
          this.#sink.message(f.data, 0, f.data.length);
          out.messages++;
        }
        if (f.cut > 0) this.#counters.truncated++;
        out.answers.push(`${f.txnr} rsp 6 200 OK\n`);
        return;
      case "close":
        out.answers.push(`${f.txnr} rsp 0\n`);
        out.end = "close";
        return;
      default:
        out.answers.push(rsp(f.txnr, `500 command "${f.command}" not supported`));
    }
  }

  /**
   * Sends `answers` once `ready` resolves, after every earlier answer; with
   * `end`, a `serverclose` hint follows them.
   */
  answer(ready: Promise<boolean> | undefined, answers: string[], end: boolean): void {
    const k = answers.length;
    this.unanswered += k;
    const bytes = encoder.encode(answers.join(""));
    this.#chain = this.#chain.then(async () => {
      if (this.#failed) return;
      try {
        if ((await ready) === false) {
          // Not written (disk full): no answer is a promise not made; the client resends.
          this.#counters.notTaken += k;
          this.#failed = true;
          await writeAll(this.#conn, SERVERCLOSE).catch(() => {});
          closeQuietly(this.#conn);
          return;
        }
        await writeAll(this.#conn, bytes);
        if (end) await writeAll(this.#conn, SERVERCLOSE);
      } catch {
        // The client is gone; it resends what it has no answer for.
        this.#failed = true;
        closeQuietly(this.#conn);
      } finally {
        this.unanswered -= k;
      }
    });
  }

  /** Resolves when every answer so far has been written (or the connection failed). */
  drained(): Promise<void> {
    return this.#chain;
  }
}

function rsp(txnr: number, data: string): string {
  return `${txnr} rsp ${encoder.encode(data).length} ${data}\n`;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
