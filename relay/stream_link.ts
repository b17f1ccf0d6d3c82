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

/**
 * A {@linkcode Link} that writes batches as octet-counted frames (or LF lines,
 * `framing: "lf"`) over TCP or TLS. The collector never answers, so a batch
 * counts as delivered once `replayWindow` bytes were written after it: until
 * then the forwarder keeps it, and writes it again after an unclean
 * disconnect (a crash costs duplicates, not gaps). A clean end confirms
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
    this.#sizes.push(batch.data.length);
    this.#bytes += batch.data.length;
    let n = 0;
    while (n < this.#sizes.length && this.#bytes - this.#sizes[n]! >= cfg.replayWindow) {
      this.#bytes -= this.#sizes[n]!;
      n++;
    }
    if (n > 0) {
      this.#sizes.splice(0, n);
      this.#events.confirmed(n);
    }
  }

  /** {@inheritDoc Link.end} */
  end(): Promise<void> {
    if (this.#done) return Promise.resolve();
    this.#done = true;
    const n = this.#sizes.length;
    this.#sizes = [];
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
