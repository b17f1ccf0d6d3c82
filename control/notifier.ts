/**
 * The periodic systemd notifications: `WATCHDOG=1` while the agent works,
 * `STATUS=` when the summary changes.
 *
 * @module
 */

import type { Clock } from "../ground/mod.ts";
import { type CollectorConfig, STUCK_GRACE_MS } from "../config/mod.ts";

/**
 * How long the forwarder may go without progress before it counts as hung:
 * the longest `writeTimeoutMs` of `collectors` (a stalled collector is given
 * up after it) plus {@linkcode STUCK_GRACE_MS}. An ordinary stall, however
 * long the configured timeout, never stops the watchdog pings; only a write
 * that outlives its own timeout does.
 */
export function stuckLimitMs(collectors: Pick<CollectorConfig, "writeTimeoutMs">[]): number {
  return Math.max(0, ...collectors.map((c) => c.writeTimeoutMs)) + STUCK_GRACE_MS;
}

/** Where notifications go: {@linkcode SdNotify} or a test's fake. */
export interface NotifySink {
  /** Whether notifications go anywhere. */
  readonly enabled: boolean;
  /** The ping interval (half of `WATCHDOG_USEC`), or undefined without a watchdog. */
  readonly watchdogIntervalMs: number | undefined;
  /** Sends `state` lines; never throws. */
  send(state: string): Promise<unknown>;
}

/** What the notifier reports on. */
export interface NotifierSource {
  /** Milliseconds the forwarder has been without progress while it had work. */
  stuckForMs(): number;
  /** Beyond this, the forwarder is hung ({@linkcode stuckLimitMs} of the current collectors). */
  stuckLimitMs(): number;
  /** The one-line summary for `STATUS=`. */
  summary(): string;
}

/**
 * Every watchdog interval (at most 2 s), sends `WATCHDOG=1` unless the
 * forwarder is hung (its timer firing shows the event loop runs) and
 * `STATUS=` when the summary changed; one notification in flight at a time.
 *
 * @example
 * ```ts
 * import { Notifier } from "./notifier.ts";
 * import { SdNotify } from "./sd_notify.ts";
 * import { systemClock } from "../ground/mod.ts";
 *
 * const notifier = new Notifier(SdNotify.fromEnv(), {
 *   stuckForMs: () => 0,
 *   stuckLimitMs: () => 10_000,
 *   summary: () => "0/s in, 0/s out",
 * }, systemClock);
 * notifier.start("ready: 0/s in");
 * notifier.stop();
 * ```
 */
export class Notifier {
  #notify: NotifySink;
  #source: NotifierSource;
  #clock: Clock;
  #timer: unknown;
  #sending = false;
  #statusLine = "";
  #running = false;

  constructor(notify: NotifySink, source: NotifierSource, clock: Clock) {
    this.#notify = notify;
    this.#source = source;
    this.#clock = clock;
  }

  /** Starts the ticks; `statusLine` is the summary already sent (with READY=1). */
  start(statusLine: string): void {
    if (!this.#notify.enabled || this.#running) return;
    this.#running = true;
    this.#statusLine = statusLine;
    this.#schedule();
  }

  /** Stops the ticks. */
  stop(): void {
    this.#running = false;
    this.#clock.clearTimeout(this.#timer);
  }

  #schedule(): void {
    const every = Math.min(this.#notify.watchdogIntervalMs ?? 2000, 2000);
    this.#timer = this.#clock.setTimeout(() => {
      if (!this.#running) return;
      this.#tick();
      this.#schedule();
    }, every);
  }

  #tick(): void {
    // One notification at a time: a receiver that is slow to read does not pile them up.
    if (this.#sending) return;
    const lines: string[] = [];
    const source = this.#source;
    if (
      this.#notify.watchdogIntervalMs !== undefined &&
      source.stuckForMs() <= source.stuckLimitMs()
    ) {
      lines.push("WATCHDOG=1");
    }
    const summary = source.summary();
    if (summary !== this.#statusLine) lines.push(`STATUS=${summary}`);
    this.#statusLine = summary;
    if (lines.length === 0) return;
    this.#sending = true;
    this.#notify.send(lines.join("\n")).finally(() => this.#sending = false);
  }
}
