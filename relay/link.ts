/**
 * The seam between the forwarder and a collector's protocol: one shape for
 * TCP, TLS and RELP.
 *
 * @module
 */

import type { Batch } from "../ground/mod.ts";

/** What a link tells the forwarder. Nothing is reported after `end` or `destroy` returns. */
export interface LinkEvents {
  /**
   * The `count` oldest unconfirmed batches written on this link are delivered,
   * in order: the forwarder acknowledges them to the buffer (spool checkpoint).
   */
  confirmed(count: number): void;
  /** Bytes went out or a response came in (for the watchdog's stuck check). */
  progress(): void;
  /** The connection broke (peer closed, reset, timeout, protocol error); reported once. */
  broken(reason: string): void;
  /**
   * The collector refused message `message` (0-based) of the `batch`-th oldest
   * unconfirmed batch, for `reason` (RELP: an answer other than `200`); the
   * link breaks right after.
   */
  refused(batch: number, message: number, reason: string): void;
}

/**
 * One connection to a collector, speaking its protocol (made by `createLink`).
 * The forwarder keeps every batch written on a link until the link confirms
 * it; when the link ends, what it did not confirm goes back to the buffer and
 * is written again, first, on the next link. Calls to `write` are sequential.
 */
export interface Link {
  /** The protocol's opening (RELP: the `open` handshake); rejects when it fails. */
  open(): Promise<void>;
  /**
   * Writes a batch. Resolves once all of it is handed to the connection (RELP:
   * once every message fits the window); rejects when the link breaks.
   */
  write(batch: Batch): Promise<void>;
  /**
   * A clean end: confirms what the protocol can confirm (TCP and TLS: all that
   * was written; RELP: what the collector acknowledged before answering
   * `close`), then closes. Never rejects.
   */
  end(): Promise<void>;
  /** Closes at once, for `reason`; a write in progress rejects. Idempotent. */
  destroy(reason: string): void;
}
