/**
 * RELP output: every message acknowledged by the collector.
 *
 * @module
 */

import { type Batch, type Clock, closeQuietly, eachFrame, errorText } from "../ground/mod.ts";
import type { RelpCollectorConfig } from "../config/mod.ts";
import type { Link, LinkEvents } from "./link.ts";
import {
  encodeFrame,
  nextTxnr,
  printable,
  type RelpFrame,
  RelpFrameParser,
  RelpFramingError,
  rspCode,
  writeSyslogFrame,
} from "./relp_frame.ts";
import { writeAllWithin } from "./_write_all.ts";
import { noDelay } from "./_no_delay.ts";

/** Messages sent and not yet answered, at most (spec: window 128). */
export const RELP_WINDOW = 128;

/** What the agent offers in `open` (librelp's format: one offer a line). */
const OFFERS = "relp_version=0\nrelp_software=syslog-agent\ncommands=syslog";
/** Responses are short; anything longer is a broken peer. */
const MAX_RSP_DATA = 64 * 1024;
/** Frames are gathered into writes of about this size. */
const OUT_BYTES = 256 * 1024;
const decoder = new TextDecoder();

/** A batch being sent: confirmed once written whole and every message answered `200`. */
interface InFlight {
  sent: number;
  acked: number;
  written: boolean;
}

/**
 * A {@linkcode Link} speaking RELP (librelp `doc/relp.md`) as a client: `open`
 * with `relp_version=0` and `commands=syslog`, then each message as a `syslog`
 * command with the next transaction number, at most {@linkcode RELP_WINDOW}
 * unanswered. A batch is confirmed when all its messages were answered
 * `rsp 200`, in order. A message answered otherwise is reported
 * (`events.refused`) and the link breaks; it also breaks (and the forwarder
 * resends everything unconfirmed on the next connection) on a response for the
 * wrong transaction, a framing error, no response within `writeTimeoutMs`
 * while messages wait, a `serverclose` hint, or the connection closing. A clean
 * end sends `close` and waits (up to `writeTimeoutMs`) for its answer, which
 * comes after the answers to every message before it.
 *
 * @example
 * ```ts
 * import { RelpLink } from "./relp_link.ts";
 * import { systemClock } from "../ground/mod.ts";
 * import { parseConfig } from "../config/mod.ts";
 *
 * const config = parseConfig(
 *   '{"collectors": [{"address": "127.0.0.1:2514", "protocol": "relp"}]}',
 *   "inline",
 * );
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 2514 });
 * const collector = config.collectors[0];
 * if (collector?.protocol !== "relp") throw new Error("expected a relp collector");
 * const link = new RelpLink(conn, collector, {
 *   confirmed: (count) => console.log(`${count} batch(es) delivered`),
 *   progress: () => {},
 *   broken: (reason) => console.log(`link broken: ${reason}`),
 *   refused: (_batch, _message, reason) => console.log(`refused: ${reason}`),
 * }, systemClock);
 * await link.open();
 * // confirmed(1) once the collector answered each message of the batch
 * await link.write({ data: new TextEncoder().encode("9 <13>hello"), count: 1 });
 * await link.end();
 * ```
 */
export class RelpLink implements Link {
  #conn: Deno.Conn;
  #cfg: RelpCollectorConfig;
  #events: LinkEvents;
  #clock: Clock;
  #parser = new RelpFrameParser({ maxData: MAX_RSP_DATA });
  #out = new Uint8Array(OUT_BYTES);
  /** The last transaction number used. */
  #txnr = 0;
  /** The transaction number the next `rsp` must carry. */
  #expect = 1;
  /** `syslog` commands sent and not answered. */
  #outstanding = 0;
  #inFlight: InFlight[] = [];
  /** Waiters: the `open` answer, window room, the `close` answer. */
  #opening: Deferred | undefined;
  #room: Deferred | undefined;
  #closing: Deferred | undefined;
  #closeTxnr = -1;
  /** When the oldest unanswered command's wait for an answer started counting. */
  #waitSince = 0;
  #timer: unknown;
  #done = false;
  #failure: string | undefined;

  constructor(conn: Deno.Conn, cfg: RelpCollectorConfig, events: LinkEvents, clock: Clock) {
    this.#conn = conn;
    this.#cfg = cfg;
    this.#events = events;
    this.#clock = clock;
    noDelay(conn);
    this.#read();
  }

  /** Sends `open` and checks the collector's offers. */
  async open(): Promise<void> {
    this.#check();
    this.#opening = deferred();
    this.#txnr = 1;
    this.#expect = 1;
    await this.#send(encodeFrame(1, "open", OFFERS));
    await this.#opening.promise;
  }

  /** {@inheritDoc Link.write} */
  async write(batch: Batch): Promise<void> {
    this.#check();
    const entry: InFlight = { sent: 0, acked: 0, written: false };
    this.#inFlight.push(entry);
    const data = batch.data;
    // Where each message is, first: the writes below wait for window room in between.
    const bodies: number[] = [];
    eachFrame(data, 0, data.length, (s, e) => {
      bodies.push(s, e);
    });
    let out = this.#out;
    let n = 0;
    for (let i = 0; i < bodies.length; i += 2) {
      const p = bodies[i]!;
      const len = bodies[i + 1]! - p;
      if (this.#outstanding >= RELP_WINDOW) {
        if (n > 0) await this.#send(out.subarray(0, n));
        n = 0;
        while (this.#outstanding >= RELP_WINDOW) {
          this.#room = deferred();
          await this.#room.promise;
        }
      }
      if (n + len + 32 > out.length) {
        if (n > 0) await this.#send(out.subarray(0, n));
        n = 0;
        // A message larger than the buffer gets one of its own.
        if (len + 32 > out.length) out = new Uint8Array(len + 32);
      }
      this.#txnr = nextTxnr(this.#txnr);
      n = writeSyslogFrame(out, n, this.#txnr, data, p, p + len);
      if (this.#outstanding++ === 0) this.#startWaiting();
      entry.sent++;
    }
    if (n > 0) await this.#send(out.subarray(0, n));
    entry.written = true;
    this.#confirmDone();
  }

  /** {@inheritDoc Link.end} */
  async end(): Promise<void> {
    if (this.#done) return;
    try {
      this.#closing = deferred();
      this.#closeTxnr = nextTxnr(this.#txnr);
      this.#txnr = this.#closeTxnr;
      if (this.#outstanding === 0) this.#startWaiting();
      await this.#send(encodeFrame(this.#closeTxnr, "close"));
      await this.#closing.promise;
    } catch {
      // Broken meanwhile: what was not answered stays unconfirmed.
    }
    this.#done = true;
    this.#stopWaiting();
    closeQuietly(this.#conn);
  }

  /** {@inheritDoc Link.destroy} */
  destroy(reason: string): void {
    this.#fail(reason);
  }

  #check(): void {
    if (this.#done) throw new Error(this.#failure ?? "link closed");
  }

  #send(bytes: Uint8Array): Promise<void> {
    const ms = this.#cfg.writeTimeoutMs;
    const message = `writes did not drain within ${ms} ms (collector stalled)`;
    return writeAllWithin(
      this.#conn,
      bytes,
      this.#clock,
      ms,
      message,
      () => this.#fail(message),
      () => this.#events.progress(),
    ).then(() => this.#check());
  }

  async #read(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    let reason = "collector closed the connection";
    try {
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null || this.#done) break;
        const before = this.#outstanding;
        this.#parser.push(buf.subarray(0, n), (f) => this.#frame(f));
        if (this.#done) return;
        if (this.#outstanding < before) {
          this.#events.progress();
          this.#confirmDone();
          if (this.#outstanding < RELP_WINDOW) this.#room?.resolve();
        }
      }
    } catch (e) {
      if (e instanceof ProtocolProblem) reason = e.message;
      else if (e instanceof RelpFramingError) {
        reason = `RELP protocol error from collector: ${e.message}`;
      } else reason = `connection failed: ${errorText(e)}`;
    }
    this.#fail(reason);
  }

  /** Handles one frame from the collector; throws {@linkcode ProtocolProblem}. */
  #frame(f: RelpFrame): void {
    if (f.command === "serverclose") {
      throw new ProtocolProblem("collector closed the RELP session (serverclose)");
    }
    if (f.command !== "rsp") {
      if (f.txnr === 0) return; // a hint we do not know: hints need no answer
      throw new ProtocolProblem(
        `RELP protocol error from collector: unexpected command "${f.command}" (txnr ${f.txnr})`,
      );
    }
    if (f.txnr !== this.#expect || (this.#outstanding === 0 && !this.#isControl(f.txnr))) {
      throw new ProtocolProblem(
        `RELP protocol error from collector: rsp for txnr ${f.txnr}, expected ${
          this.#outstanding > 0 || this.#isControl(this.#expect) ? this.#expect : "none"
        }`,
      );
    }
    const code = rspCode(f.data);
    this.#expect = nextTxnr(this.#expect);
    this.#waitSince = this.#clock.now();
    if (this.#opening !== undefined && f.txnr === 1) {
      this.#opened(code, f.data);
      const opening = this.#opening;
      this.#opening = undefined;
      opening.resolve();
      return;
    }
    if (f.txnr === this.#closeTxnr) {
      this.#closing?.resolve();
      return;
    }
    if (code !== 200) {
      const reason = `collector answered "${
        printable(f.data)
      }" to message txnr ${f.txnr}, expected "200 OK"`;
      const batch = this.#inFlight.findIndex((e) => e.acked < e.sent);
      if (batch >= 0) this.#events.refused(batch, this.#inFlight[batch]!.acked, reason);
      throw new ProtocolProblem(reason);
    }
    this.#outstanding--;
    for (const e of this.#inFlight) {
      if (e.acked < e.sent) {
        e.acked++;
        break;
      }
    }
  }

  #isControl(txnr: number): boolean {
    return (this.#opening !== undefined && txnr === 1) || txnr === this.#closeTxnr;
  }

  /** Checks the answer to `open`: 200, a relp_version, and syslog among the commands. */
  #opened(code: number, data: Uint8Array): void {
    const text = decoder.decode(data);
    if (code !== 200) {
      throw new ProtocolProblem(`collector refused the RELP session: "${printable(data)}"`);
    }
    const offers = new Map<string, string>();
    for (const line of text.split("\n").slice(1)) {
      const eq = line.indexOf("=");
      offers.set(eq < 0 ? line : line.slice(0, eq), eq < 0 ? "" : line.slice(eq + 1));
    }
    if (!offers.has("relp_version")) {
      throw new ProtocolProblem(
        `collector's RELP open answer has no relp_version offer: "${printable(data)}"`,
      );
    }
    if (!(offers.get("commands") ?? "").split(",").includes("syslog")) {
      throw new ProtocolProblem(
        `collector does not offer the RELP syslog command (commands=${
          offers.get("commands") ?? ""
        }); enable it on the collector`,
      );
    }
    this.#expect = 2;
  }

  /** Confirms the batches at the head that are written whole and answered. */
  #confirmDone(): void {
    let n = 0;
    while (n < this.#inFlight.length) {
      const e = this.#inFlight[n]!;
      if (!e.written || e.acked < e.sent) break;
      n++;
    }
    if (n === 0 || this.#done) return;
    this.#inFlight.splice(0, n);
    this.#events.confirmed(n);
  }

  /** Starts the response timeout: an answer must come within writeTimeoutMs. */
  #startWaiting(): void {
    this.#waitSince = this.#clock.now();
    if (this.#timer === undefined) this.#arm(this.#cfg.writeTimeoutMs);
  }

  #arm(ms: number): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#done || (this.#outstanding === 0 && this.#closing === undefined)) return;
      const limit = this.#cfg.writeTimeoutMs;
      const waited = this.#clock.now() - this.#waitSince;
      if (waited >= limit) {
        this.#fail(
          `no RELP response within ${limit} ms (${this.#outstanding} message(s) unanswered)`,
        );
      } else {
        this.#arm(limit - waited);
      }
    }, ms);
  }

  #stopWaiting(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fail(reason: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#failure = reason;
    this.#stopWaiting();
    closeQuietly(this.#conn);
    const error = new Error(reason);
    for (const d of [this.#opening, this.#room, this.#closing]) d?.reject(error);
    this.#events.broken(reason);
  }
}

/** A problem with what the collector sent (the message is the reason). */
class ProtocolProblem extends Error {}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection nobody waits for (the link broke between waits) is not an error.
  promise.catch(() => {});
  return { promise, resolve, reject };
}
