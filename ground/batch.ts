/**
 * The unit of data between inputs, queue, spool and forwarder.
 *
 * @module
 */

/** Where in the spool a batch ends: acknowledging the batch checkpoints this position. */
export interface SpoolPosition {
  /** Segment number. */
  segment: number;
  /** Byte offset in the segment just past the batch's last record. */
  offset: number;
}

/**
 * A run of messages, each framed as RFC 6587 octet counting (`LEN SP MSG`),
 * back to back in one buffer. Batches are never modified once made.
 */
export interface Batch {
  /** The framed messages. */
  data: Uint8Array;
  /** How many messages `data` holds. */
  count: number;
  /** Set when the batch was read from the spool: the position just past it, to acknowledge. */
  end?: SpoolPosition;
  /** Set when the batch was read from the spool: the position of its first record. */
  start?: SpoolPosition;
  /** Read again after a rewind: it was forwarded (and counted) before. */
  resent?: boolean;
  /**
   * Read from the spool: when its oldest message reached the spool (ms; for a
   * spool an older agent wrote, when its segment was last written).
   */
  arrivedAt?: number;
}

/**
 * What the forwarder takes batches from: the buffer, seen from the one that
 * delivers. Each batch taken is acknowledged once delivered for good, or given
 * back (at the front, in order) when the forwarder stops with it in hand.
 */
export interface BatchSource {
  /** The oldest batch not taken yet, waiting for one; `undefined` once {@linkcode BatchSource.interrupt}ed. */
  take(): Promise<Batch | undefined>;
  /** `batch`, taken earlier, was delivered: it is never given out again. */
  ack(batch: Batch): void;
  /** Batches taken and not delivered, oldest first: they are given out again before anything else. */
  giveBack(batches: Batch[]): void;
  /** Makes a waiting {@linkcode BatchSource.take} return `undefined` (or the next one, if none waits). */
  interrupt(): void;
  /** Whether a collector can take batches now: while it cannot, the buffer keeps them on disk. */
  setDeliverable(deliverable: boolean): void;
  /** Messages waiting to be taken (a backlog when many). */
  pending(): number;
  /**
   * What to keep of `batch`, written and not yet confirmed: a stand-in without
   * its data when the source can read it again (it is in the spool, which a
   * {@linkcode BatchSource.giveBack} of the stand-in rewinds), else `batch` itself.
   */
  lighten(batch: Batch): Batch;
}
