/**
 * A local program logging to a unix datagram socket (like syslog(3) to
 * /dev/log) that retries while nobody listens there, so that what it sent is
 * what a listener took.
 *
 * @module
 */

/** Options for {@link sendDgrams}. */
export interface SendDgramsOptions {
  /** The socket to send to (an rsyslogd imuxsock socket). */
  target: string;
  /** Directory for the sender's own socket (bound as `<dir>/sender-<n>.sock`). */
  dir: string;
  /** Messages seq `start`..`start+count-1`. */
  count: number;
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

/** Result of {@link sendDgrams}. */
export interface SendDgramsResult {
  /** Messages a listener took (the send succeeded). */
  sent: number;
  /** `Date.now()` when each message's send succeeded, by seq - start. */
  sentAt: number[];
  /** Sends refused (no listener: ENOENT, ECONNREFUSED; queue full: EAGAIN) and retried. */
  retries: number;
}

const encoder = new TextEncoder();
let socketNo = 0;

/**
 * `<13>Nov 25 10:00:00 TAG[PID]: seq=NNNNNNNN` as syslog(3) writes it; the
 * sequence number is found by `checkSeqs` (`seq=(\d+)`).
 */
export function dgramMessage(seq: number, tag = "app"): string {
  return `<13>Nov 25 10:00:00 ${tag}[${Deno.pid}]: seq=${String(seq).padStart(8, "0")} x`;
}

/**
 * Sends `count` messages at `ratePerSec` (paced on a fixed schedule), each
 * retried every 5 ms while the socket is missing or refuses, for up to
 * `retryForMs`. Rejects when one cannot be sent within that time.
 */
export async function sendDgrams(opts: SendDgramsOptions): Promise<SendDgramsResult> {
  const path = `${opts.dir}/sender-${Deno.pid}-${socketNo++}.sock`;
  await Deno.remove(path).catch(() => {});
  const conn = Deno.listenDatagram({ transport: "unixpacket", path });
  const start = opts.start ?? 0;
  const retryFor = opts.retryForMs ?? 10_000;
  const sentAt: number[] = [];
  let retries = 0;
  const t0 = performance.now();
  try {
    for (let i = 0; i < opts.count && !opts.signal?.aborted; i++) {
      const due = t0 + (i / opts.ratePerSec) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const msg = encoder.encode(dgramMessage(start + i, opts.tag));
      const giveUp = performance.now() + retryFor;
      for (;;) {
        try {
          await conn.send(msg, { transport: "unixpacket", path: opts.target });
          break;
        } catch (e) {
          // ENOENT, ECONNREFUSED: nobody listens; EAGAIN: the listener's queue is full.
          const refused = e instanceof Deno.errors.NotFound ||
            e instanceof Deno.errors.ConnectionRefused ||
            /\(os error (2|11|111)\)/.test(e instanceof Error ? e.message : "");
          if (!refused || performance.now() > giveUp) {
            throw new Error(
              `sendDgrams: message ${
                start + i
              } to ${opts.target} not taken within ${retryFor} ms: ${
                e instanceof Error ? e.message : e
              }`,
            );
          }
          retries++;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      sentAt.push(Date.now());
    }
  } finally {
    conn.close();
    await Deno.remove(path).catch(() => {});
  }
  return { sent: sentAt.length, sentAt, retries };
}
