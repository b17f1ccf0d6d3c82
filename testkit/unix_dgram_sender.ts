/**
 * A local program logging to a unix datagram socket (like syslog(3) to
 * /dev/log) on a fixed schedule, that retries while nobody listens there, so
 * that what it sent is what a listener took; it measures how long it had to
 * wait. The demo's application and the watchdog tests' sender.
 *
 * @module
 */

import { errorText } from "../ground/mod.ts";
import { sleep } from "./cleanup.ts";

/** Options of {@linkcode UnixDgramSender}. */
export interface UnixDgramSenderOptions {
  /** The socket to send to (an rsyslogd imuxsock socket). */
  target: string;
  /** The path to bind the sender's own socket at (removed at the end). */
  own: string;
  /** Messages per second. */
  ratePerSec: number;
  /** Stop after this many messages (default: run until stopped). */
  count?: number | undefined;
  /** The first sequence number (default 0). */
  start?: number | undefined;
  /** The message for a sequence number (default {@linkcode dgramMessage} with tag "app"). */
  message?: ((seq: number) => string) | undefined;
  /** Give up on one message after this long without a listener (default 10 s). */
  retryForMs?: number | undefined;
  /** Stops early when aborted. */
  signal?: AbortSignal | undefined;
}

/** A refused send is tried again after this long. */
const RETRY_MS = 5;

const encoder = new TextEncoder();

/**
 * `<13>Nov 25 10:00:00 TAG[PID]: seq=NNNNNNNN TEXT` as syslog(3) writes it;
 * the sequence number is found by `checkSeqs` (`seq=(\d+)`). `time` is the
 * timestamp (default the fixed `Nov 25 10:00:00`), `text` what follows the
 * number (default `x`).
 *
 * @example
 * ```ts
 * import { dgramMessage } from "./unix_dgram_sender.ts";
 *
 * const m = dgramMessage(7, "app"); // "<13>Nov 25 10:00:00 app[PID]: seq=00000007 x"
 * ```
 */
export function dgramMessage(
  seq: number,
  tag = "app",
  o: { priority?: number; time?: string; text?: string } = {},
): string {
  return `<${o.priority ?? 13}>${o.time ?? "Nov 25 10:00:00"} ${tag}[${Deno.pid}]: seq=${
    String(seq).padStart(8, "0")
  } ${o.text ?? "x"}`;
}

/**
 * Sends numbered datagrams at `ratePerSec` (paced on a fixed schedule, so it
 * does not drift). A send refused because nobody listens there (the socket
 * is gone while rsyslogd restarts) or the listener's queue is full is retried
 * every 5 ms, for up to `retryForMs`: a real syslog(3) call would lose that
 * message, this sender keeps it, so that what goes missing later is the
 * logging chain's doing. Runs until `count` messages are sent, it is stopped
 * or aborted, or one cannot be sent in time ({@linkcode UnixDgramSender.error}).
 *
 * @example
 * ```ts ignore
 * import { UnixDgramSender } from "./unix_dgram_sender.ts";
 *
 * const app = new UnixDgramSender({ target: "/tmp/log.sock", own: "/tmp/app.sock", ratePerSec: 100 });
 * app.start();
 * // …
 * await app.stop();
 * console.log(app.sent, app.worstSendMs);
 * ```
 */
export class UnixDgramSender {
  /** Messages the socket took. */
  sent = 0;
  /** `Date.now()` when each message's send succeeded, by seq - start. */
  readonly sentAt: number[] = [];
  /** Sends refused (no listener: ENOENT, ECONNREFUSED; queue full: EAGAIN) and retried. */
  refused = 0;
  /** The longest a single send() call blocked, in ms. */
  worstSendMs = 0;
  /** When (`performance.now()`) that send began. */
  worstSendAt = 0;
  /** Sends that blocked longer than 5 ms: when they began and how long (the first 10,000). */
  readonly slowSends: { at: number; ms: number }[] = [];
  /** The longest a message was held back (refused and retried) past its due time, in ms. */
  worstHeldMs = 0;
  /** Set when the sender gave up. */
  error: Error | undefined;
  #o: UnixDgramSenderOptions;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #startedAt = 0;
  #stoppedAt = 0;

  /** A sender, not started yet. */
  constructor(o: UnixDgramSenderOptions) {
    this.#o = o;
  }

  /** Starts sending; resolves once it has ended (sent all, stopped, aborted or failed). */
  start(): Promise<void> {
    this.#loop ??= this.#run().catch((e) => {
      this.error = e instanceof Error ? e : new Error(String(e));
    });
    return this.#loop;
  }

  /** Stops after the message in hand; resolves once stopped. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  /** The longest send() that began between `from` and `to` (`performance.now()` times). */
  worstSendBetween(from: number, to: number): number {
    let worst = 0;
    for (const s of this.slowSends) if (s.at >= from && s.at <= to) worst = Math.max(worst, s.ms);
    return worst;
  }

  /** Seconds it has been (or was) sending. */
  get seconds(): number {
    if (this.#startedAt === 0) return 0;
    return ((this.#stoppedAt || performance.now()) - this.#startedAt) / 1000;
  }

  #done(i: number): boolean {
    return this.#stopped || this.#o.signal?.aborted === true ||
      (this.#o.count !== undefined && i >= this.#o.count);
  }

  async #run(): Promise<void> {
    const o = this.#o;
    const first = o.start ?? 0;
    const retryFor = o.retryForMs ?? 10_000;
    const message = o.message ?? ((seq: number) => dgramMessage(seq));
    await Deno.remove(o.own).catch(() => {});
    const conn = Deno.listenDatagram({ transport: "unixpacket", path: o.own });
    const to = { transport: "unixpacket" as const, path: o.target };
    const t0 = this.#startedAt = performance.now();
    try {
      for (let i = 0; !this.#done(i); i++) {
        const due = t0 + (i * 1000) / o.ratePerSec;
        const ahead = due - performance.now();
        if (ahead > 2) await sleep(ahead);
        if (this.#done(i)) break;
        const msg = encoder.encode(message(first + i));
        const firstTry = performance.now();
        for (;;) {
          const s0 = performance.now();
          try {
            await conn.send(msg, to);
            const took = performance.now() - s0;
            if (took > 5 && this.slowSends.length < 10_000) {
              this.slowSends.push({ at: s0, ms: took });
            }
            if (took > this.worstSendMs) {
              this.worstSendMs = took;
              this.worstSendAt = s0;
            }
            break;
          } catch (e) {
            if (!refused(e)) throw e;
            this.refused++;
            if (performance.now() - firstTry > retryFor && !this.#stopped) {
              throw new Error(
                `message ${first + i} to ${o.target} not taken within ${retryFor} ms: ${
                  errorText(e)
                }`,
              );
            }
            await sleep(RETRY_MS);
          }
        }
        this.worstHeldMs = Math.max(this.worstHeldMs, performance.now() - due);
        this.sentAt.push(Date.now());
        this.sent++;
      }
    } finally {
      this.#stoppedAt = performance.now();
      conn.close();
      await Deno.remove(o.own).catch(() => {});
    }
  }
}

/** Options for {@linkcode sendDgrams}. */
export interface SendDgramsOptions {
  /** The socket to send to (an rsyslogd imuxsock socket). */
  target: string;
  /** Directory for the sender's own socket (bound as `<dir>/sender-<n>.sock`). */
  dir: string;
  /** Messages seq `start`..`start+count-1`. */
  count: number;
  /** The first sequence number (default 0). */
  start?: number | undefined;
  /** Messages per second. */
  ratePerSec: number;
  /** Tag (program name) of the messages (default "app"). */
  tag?: string | undefined;
  /** Give up on one message after this long without a listener (default 10 s). */
  retryForMs?: number | undefined;
  /** Stops early when aborted. */
  signal?: AbortSignal | undefined;
}

/** Result of {@linkcode sendDgrams}. */
export interface SendDgramsResult {
  /** Messages a listener took (the send succeeded). */
  sent: number;
  /** `Date.now()` when each message's send succeeded, by seq - start. */
  sentAt: number[];
  /** Sends refused (no listener: ENOENT, ECONNREFUSED; queue full: EAGAIN) and retried. */
  retries: number;
}

let socketNo = 0;

/**
 * Sends `count` messages ({@linkcode dgramMessage}) with a
 * {@linkcode UnixDgramSender}; rejects when one cannot be sent within
 * `retryForMs`.
 */
export async function sendDgrams(opts: SendDgramsOptions): Promise<SendDgramsResult> {
  const sender = new UnixDgramSender({
    target: opts.target,
    own: `${opts.dir}/sender-${Deno.pid}-${socketNo++}.sock`,
    ratePerSec: opts.ratePerSec,
    count: opts.count,
    start: opts.start,
    message: (seq) => dgramMessage(seq, opts.tag),
    retryForMs: opts.retryForMs,
    signal: opts.signal,
  });
  await sender.start();
  if (sender.error) throw new Error(`sendDgrams: ${sender.error.message}`, { cause: sender.error });
  return { sent: sender.sent, sentAt: sender.sentAt, retries: sender.refused };
}

/** Whether a send failed because nobody listens (ENOENT, ECONNREFUSED) or the queue is full. */
function refused(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused ||
    /\(os error (2|11|111)\)/.test(e instanceof Error ? e.message : "");
}
