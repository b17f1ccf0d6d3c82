/**
 * Plain syslog over a stream (TCP, or TLS per RFC 5425): no acknowledgements,
 * so delivery is confirmed by the replay window.
 *
 * @module
 */

import type { Batch } from "./batch.ts";
import type { Clock } from "./clock.ts";
import type { CollectorConfig } from "../config/config.ts";
import type { Link, LinkEvents } from "./link.ts";
import { octetToLf } from "./_octet.ts";
import { writeAllWithin } from "./_write_all.ts";

/** A written batch stays unconfirmed (resent after an unclean disconnect) at least this long. */
export const REPLAY_MIN_AGE_MS = 2_000;
/** ...unless this many bytes (or `replayWindow`, if larger) were written after it. */
export const REPLAY_MAX_BYTES = 64 * 1024 * 1024;

/**
 * A {@linkcode Link} that writes batches as octet-counted frames (or LF lines,
 * `framing: "lf"`) over TCP or TLS. The collector never answers, so a batch
 * counts as delivered once `replayWindow` bytes were written after it and it
 * is {@linkcode REPLAY_MIN_AGE_MS} old: until then the forwarder keeps it, and
 * writes it again after an unclean disconnect (a crash costs duplicates, not
 * gaps). The age matters when the collector reads fast, as while a spool
 * drains: it then holds far more than 2 MiB in its socket buffers and queues. A clean end confirms
 * everything written. Whatever the collector sends is read and ignored; its
 * closing the connection breaks the link.
 *
 * @example
 * ```ts
 * const link = new StreamLink(conn, cfg, events, systemClock);
 * await link.open();
 * await link.write(batch);
 * await link.end();
 * ```
 */
export class StreamLink implements Link {
  #conn: Deno.Conn;
  #cfg: CollectorConfig;
  #events: LinkEvents;
  #clock: Clock;
  /** Sizes of the written, unconfirmed batches, oldest first. */
  #sizes: number[] = [];
  #times: number[] = [];
  #bytes = 0;
  #done = false;
  #failure: string | undefined;

  constructor(conn: Deno.Conn, cfg: CollectorConfig, events: LinkEvents, clock: Clock) {
    this.#conn = conn;
    this.#cfg = cfg;
    this.#events = events;
    this.#clock = clock;
    this.#watch();
  }

  /** Nothing to negotiate. */
  open(): Promise<void> {
    return this.#failure === undefined
      ? Promise.resolve()
      : Promise.reject(new Error(this.#failure));
  }

  /** {@inheritDoc Link.write} */
  async write(batch: Batch): Promise<void> {
    if (this.#done) throw new Error(this.#failure ?? "link closed");
    const cfg = this.#cfg;
    const data = cfg.framing === "lf" ? octetToLf(batch.data) : batch.data;
    await writeAllWithin(
      this.#conn,
      data,
      this.#clock,
      cfg.writeTimeoutMs,
      `writes did not drain within ${cfg.writeTimeoutMs} ms (collector stalled)`,
      () => this.#fail(`writes did not drain within ${cfg.writeTimeoutMs} ms (collector stalled)`),
      () => this.#events.progress(),
    );
    if (this.#done) throw new Error(this.#failure ?? "link closed");
    const now = this.#clock.now();
    this.#sizes.push(batch.data.length);
    this.#times.push(now);
    this.#bytes += batch.data.length;
    // A batch is confirmed once `replayWindow` bytes followed it and it is REPLAY_MIN_AGE_MS
    // old: a collector that reads fast (a spool draining) can hold far more than the window
    // unwritten in its buffers and queues. REPLAY_MAX_BYTES bounds the memory that takes.
    let n = 0;
    while (n < this.#sizes.length) {
      const after = this.#bytes - this.#sizes[n]!;
      const old = now - this.#times[n]! >= REPLAY_MIN_AGE_MS || cfg.replayWindow === 0;
      if (
        !(after >= cfg.replayWindow && old) && after < Math.max(REPLAY_MAX_BYTES, cfg.replayWindow)
      ) {
        break;
      }
      this.#bytes -= this.#sizes[n]!;
      n++;
    }
    if (n > 0) {
      this.#sizes.splice(0, n);
      this.#times.splice(0, n);
      this.#events.confirmed(n);
    }
  }

  /** {@inheritDoc Link.end} */
  end(): Promise<void> {
    if (this.#done) return Promise.resolve();
    this.#done = true;
    const n = this.#sizes.length;
    this.#sizes = [];
    this.#times = [];
    this.#bytes = 0;
    if (n > 0) this.#events.confirmed(n);
    closeQuietly(this.#conn);
    return Promise.resolve();
  }

  /** {@inheritDoc Link.destroy} */
  destroy(reason: string): void {
    this.#fail(reason);
  }

  #fail(reason: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#failure = reason;
    closeQuietly(this.#conn);
    this.#events.broken(reason);
  }

  /** Notices the collector closing or resetting the connection. */
  async #watch(): Promise<void> {
    const buf = new Uint8Array(4096);
    let reason = "collector closed the connection";
    try {
      while ((await this.#conn.read(buf)) !== null) {
        // Plain syslog collectors send nothing; whatever comes is ignored.
      }
    } catch (e) {
      reason = `connection failed: ${e instanceof Error ? e.message : e}`;
    }
    this.#fail(reason);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
