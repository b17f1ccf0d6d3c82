/**
 * The relay's message counters, as reported in status and metrics.
 *
 * @module
 */

/** Counters of what the relay has done since it started. */
export class Counters {
  /** Messages accepted from inputs. */
  received = 0;
  /** Messages written to a collector (and out of the replay window). */
  forwarded = 0;
  /** Messages dropped: spool full or writes that could not be queued. */
  dropped = 0;
  /** Frames with a framing error (bad octet count, stray bytes). */
  malformed = 0;
  /** Messages longer than the input's maxMessageSize, cut to it. */
  truncated = 0;
  /** Canaries of the watchdog consumed by the ingest (not forwarded, not `received`). */
  canaries = 0;
  /** RELP transactions left unanswered because the spool could not write them (resent). */
  notTaken = 0;
  /** Messages a collector refused again and again, set aside (`dead-letter.log`). */
  deadLettered = 0;
  /** Connections refused because an input had maxConnections open. */
  rejectedConnections = 0;
}
