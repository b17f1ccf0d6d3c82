/**
 * The "application" of `agent demo`: logs sequence-numbered messages at a
 * steady rate into rsyslogd's socket, as syslog(3) does into /dev/log, and
 * measures how long it had to wait.
 *
 * @module
 */

const encoder = new TextEncoder();
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** A refused send is tried again after this long. */
const RETRY_MS = 5;
/** A message that cannot be sent for this long stops the application. */
const GIVE_UP_MS = 15_000;

/** The program name the demo's messages carry. */
export const APP_TAG = "demo-app";

/**
 * Sends `<14>Mmm dd hh:mm:ss demo-app[PID]: seq=NNNNNNNN …` datagrams to a
 * unix socket at `rate` per second (on a fixed schedule, so it does not
 * drift), numbered from 0. A send refused because nobody listens there (the
 * socket is gone while rsyslogd restarts) is retried every 5 ms: a real
 * syslog(3) call would lose that message, this application keeps it, so that
 * what goes missing later is the logging chain's doing.
 */
export class DemoApp {
  /** Messages the socket took. */
  sent = 0;
  /** Sends refused (no listener) and retried. */
  refused = 0;
  /** The longest a single send() call blocked, in ms. */
  worstSendMs = 0;
  /** When (`performance.now()`) that send began. */
  worstSendAt = 0;
  /** Sends that blocked longer than 5 ms: when they began and how long (the first 10,000). */
  slowSends: { at: number; ms: number }[] = [];
  /** The longest a message was held back (refused and retried) past its due time, in ms. */
  worstHeldMs = 0;
  /** Set when the application gave up. */
  error: Error | undefined;
  #target: string;
  #own: string;
  #rate: number;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #startedAt = 0;
  #stoppedAt = 0;

  /**
   * @param target rsyslogd's socket
   * @param own the path to bind the application's own socket at
   * @param rate messages per second
   */
  constructor(target: string, own: string, rate: number) {
    this.#target = target;
    this.#own = own;
    this.#rate = rate;
  }

  /** Starts logging. */
  start(): void {
    this.#loop ??= this.#run().catch((e) => {
      this.error = e instanceof Error ? e : new Error(String(e));
    });
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

  /** Seconds it has been (or was) logging. */
  get seconds(): number {
    if (this.#startedAt === 0) return 0;
    return ((this.#stoppedAt || performance.now()) - this.#startedAt) / 1000;
  }

  async #run(): Promise<void> {
    await Deno.remove(this.#own).catch(() => {});
    const conn = Deno.listenDatagram({ transport: "unixpacket", path: this.#own });
    const to = { transport: "unixpacket" as const, path: this.#target };
    const t0 = this.#startedAt = performance.now();
    try {
      for (let seq = 0; !this.#stopped; seq++) {
        const due = t0 + (seq * 1000) / this.#rate;
        const ahead = due - performance.now();
        if (ahead > 2) await new Promise((r) => setTimeout(r, ahead));
        if (this.#stopped) break;
        const msg = encoder.encode(message(seq));
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
            if (performance.now() - Math.max(due, s0) > GIVE_UP_MS && !this.#stopped) {
              throw new Error(
                `the application could not log to ${this.#target} for ${GIVE_UP_MS / 1000} s: ${
                  e instanceof Error ? e.message : e
                }; rsyslogd is not coming back`,
              );
            }
            await new Promise((r) => setTimeout(r, RETRY_MS));
          }
        }
        this.worstHeldMs = Math.max(this.worstHeldMs, performance.now() - due);
        this.sent++;
      }
    } finally {
      this.#stoppedAt = performance.now();
      conn.close();
      await Deno.remove(this.#own).catch(() => {});
    }
  }
}

/** Whether a send failed because nobody listens (ENOENT, ECONNREFUSED) or the queue is full. */
function refused(e: unknown): boolean {
  return e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused ||
    /\(os error (2|11|111)\)/.test(e instanceof Error ? e.message : "");
}

/** What syslog(3) would write for message `seq`, timestamped now. */
function message(seq: number): string {
  const d = new Date();
  const p2 = (n: number) => String(n).padStart(2, "0");
  const stamp = `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${
    p2(d.getHours())
  }:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
  return `<14>${stamp} ${APP_TAG}[${Deno.pid}]: seq=${
    String(seq).padStart(8, "0")
  } the application logs, whatever happens downstream`;
}
