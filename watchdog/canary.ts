/**
 * Canary messages: uniquely numbered tokens sent into rsyslogd and recognised
 * when rsyslogd forwards them back to the agent's inputs.
 *
 * @module
 */

import { type Clock, LF, NINE, SP, ZERO } from "../ground/mod.ts";

const PREFIX = "agent-canary-";
/** 128 random bits: a sender that does not know them cannot forge a canary. */
const NONCE_LEN = 32;
const SEQ_LEN = 10;
/** `agent-canary-<32 hex>-<10 digits>`. */
const TOKEN_LEN = PREFIX.length + NONCE_LEN + 1 + SEQ_LEN;
/** Canaries remembered for latency; older ones are forgotten (they can only be late). */
const MAX_IN_FLIGHT = 1024;

const CR = 0x0d;
const COLON = 0x3a;

const encoder = new TextEncoder();

interface Waiter {
  from: number;
  resolve: (latencyMs: number | undefined) => void;
}

/**
 * Makes canary tokens (`agent-canary-<nonce>-<seq>`, the nonce 128 bits from
 * the system's CSPRNG, new at every start and shown nowhere: not in the log,
 * status or metrics) and recognises them at the end of a received message
 * with {@linkcode Canary.filter}, the ingest's hook. The check looks at a
 * fixed number of bytes at the end of the message (rsyslog's forwarding
 * formats all end with the message text, at most followed by LF), so it costs
 * the same for every message whatever its size. Only this run's canaries, with
 * a number it sent, are consumed: a look-alike of any other sender (another
 * nonce, or a number not sent yet) is an ordinary message and forwarded, so a
 * local sender can neither make its messages vanish nor fake rsyslogd's
 * health without the nonce.
 *
 * @example
 * ```ts
 * import { Canary } from "./canary.ts";
 * import { systemClock } from "../ground/mod.ts";
 *
 * const canary = new Canary(systemClock);
 * const { seq, token } = canary.next();
 * const back = canary.wait(seq, AbortSignal.timeout(2000)); // latency in ms, or undefined
 * ```
 */
export class Canary {
  /** This agent's random part of every token. */
  readonly nonce: string;
  #clock: Clock;
  #prefix: Uint8Array;
  #seq = 1;
  #sentAt = new Map<number, number>();
  #waiters = new Set<Waiter>();

  constructor(clock: Clock, nonce?: string) {
    this.#clock = clock;
    this.nonce = nonce ?? randomHex(NONCE_LEN);
    if (!/^[0-9a-f]{32}$/.test(this.nonce)) {
      throw new RangeError(`canary: nonce must be 32 lowercase hex digits, got "${this.nonce}"`);
    }
    this.#prefix = encoder.encode(`${PREFIX}${this.nonce}-`);
  }

  /** The number the next token gets. */
  get nextSeq(): number {
    return this.#seq;
  }

  /** A new token; its send time (now) is remembered for the latency. */
  next(): { seq: number; token: string } {
    const seq = this.#seq++;
    this.#sentAt.set(seq, this.#clock.now());
    if (this.#sentAt.size > MAX_IN_FLIGHT) {
      const oldest = this.#sentAt.keys().next().value;
      if (oldest !== undefined) this.#sentAt.delete(oldest);
    }
    return { seq, token: `${PREFIX}${this.nonce}-${String(seq).padStart(SEQ_LEN, "0")}` };
  }

  /**
   * Resolves with the round-trip time of the first canary numbered `from` or
   * later that comes back, or with `undefined` when `signal` aborts first.
   */
  wait(from: number, signal: AbortSignal): Promise<number | undefined> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(undefined);
      const waiter: Waiter = {
        from,
        resolve: (latency) => {
          this.#waiters.delete(waiter);
          signal.removeEventListener("abort", onAbort);
          resolve(latency);
        },
      };
      const onAbort = () => waiter.resolve(undefined);
      this.#waiters.add(waiter);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * The ingest filter: `true` (consumed, not forwarded) when the message ends
   * with one of this run's canary tokens, optionally followed by CR/LF.
   */
  readonly filter = (src: Uint8Array, start: number, end: number): boolean => {
    let e = end;
    if (e > start && src[e - 1] === LF) e--;
    if (e > start && src[e - 1] === CR) e--;
    const p = e - TOKEN_LEN;
    if (p < start || src[p] !== 0x61 /* a */) return false;
    if (p > start && src[p - 1] !== SP && src[p - 1] !== COLON) return false;
    const prefix = this.#prefix;
    for (let i = 1; i < prefix.length; i++) if (src[p + i] !== prefix[i]) return false;
    let seq = 0;
    for (let i = TOKEN_LEN - SEQ_LEN; i < TOKEN_LEN; i++) {
      const b = src[p + i]!;
      if (b < ZERO || b > NINE) return false;
      seq = seq * 10 + b - ZERO;
    }
    if (seq === 0 || seq >= this.#seq) return false;
    this.#arrived(seq);
    return true;
  };

  #arrived(seq: number): void {
    const sentAt = this.#sentAt.get(seq);
    if (sentAt === undefined) return;
    this.#sentAt.delete(seq);
    const latency = this.#clock.now() - sentAt;
    for (const w of [...this.#waiters]) if (seq >= w.from) w.resolve(latency);
  }
}

function randomHex(digits: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(digits / 2)));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, digits);
}
