/**
 * A minimal RELP client (librelp `doc/relp.md`) for tests that must know
 * exactly which messages were acknowledged: it sends sequence-numbered
 * messages with a window, records every `rsp 200`, and, like omrelp, resends
 * whatever was not answered on a new connection after the server closed or
 * refused one.
 *
 * @module
 */

import { seqMessage } from "./seq_check.ts";
import { closeQuietly, concat } from "../ground/mod.ts";
import { sleep } from "./cleanup.ts";

/** Options of {@linkcode RelpSender.start}. */
export interface RelpSenderOptions {
  /** RELP port on 127.0.0.1. */
  port: number;
  /** Messages 0..count-1 (see `seqMessage`). */
  count: number;
  /** Size of each message in bytes. */
  size: number;
  /** APP-NAME of the messages (default "app"). */
  tag?: string;
  /** Unanswered messages at most (default 128). */
  window?: number;
  /** Pause before a new connection after one ended (default 200 ms). */
  retryMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Sends `count` messages over RELP until each one is acknowledged (or
 * {@linkcode RelpSender.stop}). `acked` holds the sequence numbers answered
 * with `200`; `refused` counts connections that ended with messages unanswered.
 */
export class RelpSender {
  /** Sequence numbers the server answered with `rsp 200`. */
  readonly acked = new Set<number>();
  /** Connections that ended (closed by the server, reset, refused) with messages unanswered. */
  refused = 0;
  /** Connections made (each with an accepted `open`). */
  sessions = 0;
  /** Answers other than 200 to a `syslog` command. */
  errors: string[] = [];
  #o: Required<RelpSenderOptions>;
  #stopped = false;
  #conn: Deno.Conn | undefined;
  /** Resolves once every message is acknowledged or the sender is stopped. */
  readonly done: Promise<void>;

  private constructor(o: RelpSenderOptions) {
    this.#o = { tag: "app", window: 128, retryMs: 200, ...o };
    this.done = this.#run();
  }

  /** Starts sending in the background. */
  static start(o: RelpSenderOptions): RelpSender {
    return new RelpSender(o);
  }

  /** Whether every message is acknowledged. */
  get finished(): boolean {
    return this.acked.size === this.#o.count;
  }

  /** Stops sending and closes the connection; resolves when the sender has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    closeQuietly(this.#conn);
    await this.done;
  }

  async #run(): Promise<void> {
    while (!this.#stopped && !this.finished) {
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port: this.#o.port });
      } catch {
        await sleep(this.#o.retryMs);
        continue;
      }
      this.#conn = conn;
      const unanswered = await this.#session(conn).catch(() => -1);
      closeQuietly(conn);
      this.#conn = undefined;
      if (unanswered !== 0) this.refused++;
      if (!this.finished) await sleep(this.#o.retryMs);
    }
  }

  /** One connection: open, then the unacknowledged messages in order; returns how many went unanswered. */
  async #session(conn: Deno.Conn): Promise<number> {
    const pending: number[] = [];
    for (let s = 0; s < this.#o.count; s++) if (!this.acked.has(s)) pending.push(s);
    const inFlight = new Map<number, number>(); // txnr → seq (0 for the open)
    let txnr = 1;
    let next = 0;
    let opened = false;
    let wake: (() => void) | undefined;
    let ended = false;
    const offer = "relp_version=0\nrelp_software=test\ncommands=syslog";
    const reader = (async () => {
      const parser = new RspParser();
      const buf = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          for (const f of parser.push(buf.subarray(0, n))) {
            if (f.command !== "rsp") continue; // serverclose: the connection ends next
            const seq = inFlight.get(f.txnr);
            if (seq === undefined) continue;
            inFlight.delete(f.txnr);
            if (seq < 0) {
              if (f.data.startsWith("200")) opened = true;
              else this.errors.push(`open: ${f.data}`);
            } else if (f.data.startsWith("200")) this.acked.add(seq);
            else this.errors.push(`seq ${seq}: ${f.data}`);
          }
          wake?.();
        }
      } catch {
        // Reset.
      } finally {
        ended = true;
        wake?.();
      }
    })();
    const waitRead = () => new Promise<void>((r) => wake = r);
    await writeAll(conn, encoder.encode(`${txnr} open ${encoder.encode(offer).length} ${offer}\n`));
    inFlight.set(txnr++, -1);
    while (!opened && !ended) await waitRead();
    if (opened) this.sessions++;
    while (opened && !ended && !this.#stopped && (next < pending.length || inFlight.size > 0)) {
      if (next < pending.length && inFlight.size < this.#o.window) {
        const parts: Uint8Array[] = [];
        while (next < pending.length && inFlight.size < this.#o.window) {
          const seq = pending[next++]!;
          const msg = encoder.encode(seqMessage(seq, this.#o.size, this.#o.tag));
          parts.push(encoder.encode(`${txnr} syslog ${msg.length} `), msg, encoder.encode("\n"));
          inFlight.set(txnr, seq);
          txnr = txnr === 999_999_999 ? 1 : txnr + 1;
        }
        await writeAll(conn, concat(parts));
        continue;
      }
      await waitRead();
    }
    const unanswered = [...inFlight.values()].filter((s) => s >= 0).length;
    if (!ended && !this.#stopped && opened) {
      await writeAll(conn, encoder.encode(`${txnr} close 0\n`)).catch(() => {});
    }
    closeQuietly(conn);
    await reader;
    return opened ? unanswered : -1;
  }
}

/** A frame from the server. */
interface Frame {
  txnr: number;
  command: string;
  data: string;
}

/** Splits the server's byte stream into `TXNR SP COMMAND SP DATALEN [SP DATA] LF` frames. */
class RspParser {
  #buf: Uint8Array = new Uint8Array(0);

  push(bytes: Uint8Array): Frame[] {
    this.#buf = concat([this.#buf, bytes]);
    const out: Frame[] = [];
    let p = 0;
    for (;;) {
      // The header is three space-separated words; DATALEN is followed by SP or LF.
      const sp1 = this.#buf.indexOf(0x20, p);
      if (sp1 < 0) break;
      const sp2 = this.#buf.indexOf(0x20, sp1 + 1);
      if (sp2 < 0) break;
      let end = sp2 + 1;
      while (end < this.#buf.length && this.#buf[end] !== 0x20 && this.#buf[end] !== 0x0a) end++;
      if (end >= this.#buf.length) break;
      const len = Number(decoder.decode(this.#buf.subarray(sp2 + 1, end)));
      const dataStart = len > 0 ? end + 1 : end;
      if (dataStart + len + 1 > this.#buf.length) break;
      out.push({
        txnr: Number(decoder.decode(this.#buf.subarray(p, sp1))),
        command: decoder.decode(this.#buf.subarray(sp1 + 1, sp2)),
        data: decoder.decode(this.#buf.subarray(dataStart, dataStart + len)),
      });
      p = dataStart + len + 1; // the trailing LF
    }
    this.#buf = this.#buf.slice(p);
    return out;
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
