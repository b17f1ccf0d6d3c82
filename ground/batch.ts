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
  /** Set when the batch was read from the spool. */
  end?: SpoolPosition;
}
