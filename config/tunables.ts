/**
 * The agent's built-in tuning numbers: limits and waits that are not config
 * keys, but that an operator may need to know to read its behaviour (how long
 * a stop can take, when a collector gets traffic back, how much memory a
 * connection can hold). Each says what it bounds, its unit and why it has
 * this value; README.md ("Tunables") lists them. Changing one is a code
 * change, reviewed like any other.
 *
 * @module
 */

const KIB = 1024;
const MIB = 1024 * KIB;

// Forwarding: tcp and tls collectors (no acknowledgements: the replay window).

/**
 * A batch written to a tcp or tls collector stays unconfirmed (kept, and
 * resent after an unclean disconnect) for at least this many milliseconds,
 * even once the replay window followed it. A collector that reads fast, as
 * while the spool drains, holds far more than the window in its queues; 2 s
 * covers what a live collector has read and not yet written.
 */
export const REPLAY_MIN_AGE_MS = 2_000;

/**
 * Bytes written after a tcp or tls batch that confirm it whatever its age
 * ({@linkcode REPLAY_MIN_AGE_MS}), or the effective replay window if that is
 * larger. Bounds the memory a fast connection keeps in hand while batches age:
 * without it a collector that reads at loopback speed would pin everything
 * of the last 2 s.
 */
export const REPLAY_MAX_BYTES = 64 * MIB;

/**
 * Milliseconds a clean end (stop, fail-back, a reload that changes the
 * collectors) waits, after our FIN or TLS `close_notify`, for a tcp or tls
 * collector to close its side: its doing so shows it read everything, which
 * is then confirmed. Short, because a stop waits on it; what is not confirmed
 * goes back to the spool and is resent (duplicates, not gaps).
 */
export const END_WAIT_MS = 1_000;

// Forwarding: reconnects and fail-back.

/** First delay, in milliseconds, before a failed collector is tried again; it doubles per failure. */
export const BACKOFF_BASE_MS = 250;

/**
 * Longest delay, in milliseconds, between two attempts on a failed collector:
 * a collector that comes back is used again within 10 s.
 */
export const BACKOFF_CAP_MS = 10_000;

/**
 * Milliseconds an earlier collector (in config order) must stay connectable
 * before traffic returns to it from a later one: long enough that a collector
 * that flaps does not drag the stream back and forth.
 */
export const FAILBACK_AFTER_MS = 30_000;

/**
 * Milliseconds a collector session must last to reset that collector's
 * backoff: one that accepts connections and then drops them keeps backing off.
 */
export const SESSION_STABLE_MS = 30_000;

/**
 * Milliseconds over which a pool member that has just come up is ramped to its
 * full share (from a tenth of it): a collector that returns is not handed a
 * whole fleet's traffic at once (slow start).
 */
export const POOL_RAMP_MS = 10_000;

/**
 * Messages a second that `spool.maxDrainRate: "auto"` allows an agent that has
 * not run for {@linkcode DRAIN_HISTORY_MS} yet (it knows no inflow of its own):
 * what the last run left drains quickly (a 64 MiB spool of 322,638 messages in
 * 32 s).
 */
export const DRAIN_AUTO_FLOOR = 10_000;

/**
 * Messages a second that `spool.maxDrainRate: "auto"` allows at least once the
 * agent knows its inflow: twice the inflow is the rule (a returning collector
 * sees about twice its steady share), this only keeps a quiet host's backlog
 * moving.
 */
export const DRAIN_AUTO_MIN = 100;

/**
 * `spool.maxDrainRate: "auto"` is this many times the agent's inflow: what a
 * catching-up agent sends (its backlog and its live traffic behind it) stays
 * under twice its steady share (measured in the fleet simulation: a recovered
 * tier saw at most 1.99 times it in its busiest second, with a burst of a
 * tenth of a second), and its backlog shrinks at 0.6 times its inflow (a 30 s
 * outage drains in about 50 s).
 */
export const DRAIN_AUTO_FACTOR = 1.6;

/** How long an agent must have run before "auto" trusts its measured inflow. */
export const DRAIN_HISTORY_MS = 10_000;

/**
 * Messages waiting (or 2 s of inflow, whichever is more) beyond which the
 * forwarder is catching up and paces to the drain rate: a few reads' worth
 * is ordinary jitter, not a backlog.
 */
export const DRAIN_BACKLOG_MIN = 1_000;

/**
 * Milliseconds a stop (or a reload that replaces the forwarder) waits for a
 * write in progress before cutting the connection; what it held is resent.
 */
export const FORWARDER_STOP_WAIT_MS = 2_000;

/**
 * Refusals of one message (RELP: an answer other than `200`) after which it
 * is set aside in the dead-letter file and the stream goes on: a poison
 * message would otherwise be resent forever, holding up all behind it.
 */
export const POISON_REFUSALS = 3;

/**
 * Bytes the dead-letter file (`dead-letter.log` in the spool directory) may
 * reach before it moves to `dead-letter.log.1` (one kept): at most twice this
 * on disk.
 */
export const DEAD_LETTER_MAX_BYTES = 16 * MIB;

// Inputs: stop.

/**
 * A stopping input reads on until a connection has sent nothing for this many
 * milliseconds, then closes it: its sender is between writes and nothing of
 * it is unread (an orderly end, not a reset that throws the kernel's buffers
 * away). UDP inputs stop when no datagram came for as long.
 */
export const DRAIN_QUIET_MS = 20;

/**
 * The most milliseconds a stopping input reads what open connections still
 * send ({@linkcode DRAIN_QUIET_MS}); then each ends after its next read. Part
 * of the stop's budget ({@linkcode STOP_DEADLINE_MS}).
 */
export const DRAIN_MAX_MS = 1_000;

// The agent's own health.

/**
 * Milliseconds a stop (SIGTERM, SIGINT) may take before the agent exits
 * anyway. Below systemd's default `TimeoutStopSec` (90 s) with room to spare,
 * and long enough for the input drain, the forwarder's stop wait and the
 * spool's final sync.
 */
export const STOP_DEADLINE_MS = 10_000;

/**
 * Milliseconds a collector write may stay stuck beyond the collectors' longest
 * `writeTimeoutMs` before the agent stops its systemd watchdog pings (and
 * systemd restarts it). A stall up to `writeTimeoutMs` is ordinary and is
 * handled by failing over; a write that outlives it by this much means the
 * agent itself is stuck.
 */
export const STUCK_GRACE_MS = 5_000;

/** Milliseconds after an rsyslogd restart during which the status is `degraded` (5 minutes). */
export const RECENT_RESTART_MS = 5 * 60_000;

// rsyslogd supervision.

/**
 * Milliseconds rsyslogd gets to exit after SIGTERM before it is sent SIGKILL:
 * enough to flush its queues to the agent's inputs.
 */
export const RSYSLOGD_KILL_DEADLINE_MS = 5_000;

/** Milliseconds `rsyslogd.restartCommand` (external mode) may run before it is killed and counted as failed. */
export const RSYSLOGD_RESTART_COMMAND_TIMEOUT_MS = 60_000;

/**
 * Milliseconds `agent rotate` waits for rsyslogd to be healthy again (running,
 * and passing its probe) when it was down or died after the HUP, before it
 * reports the rotate as failed (exit 1, which logrotate shows).
 */
export const ROTATE_RECOVER_MS = 10_000;

// The buffer and the spool.

/**
 * Bytes the memory tier holds (`spool.mode: "fallback"`) while a collector
 * keeps up; beyond it what is in memory and everything after it goes to the
 * spool. Also the memory-only limit when the spool directory cannot be used.
 */
export const MEMORY_TIER_BYTES = 16 * MIB;

/**
 * Bytes waiting for the spool's write loop beyond which inputs pause their
 * reads (senders wait in their own socket buffers, nothing is dropped), until
 * the backlog is down to {@linkcode SPOOL_BACKLOG_LOW_BYTES}.
 */
export const SPOOL_BACKLOG_HIGH_BYTES = 16 * MIB;

/**
 * Bytes waiting for the spool's write loop under which paused inputs read
 * again: well below {@linkcode SPOOL_BACKLOG_HIGH_BYTES}, so that they do not
 * pause and resume on every write.
 */
export const SPOOL_BACKLOG_LOW_BYTES = 4 * MIB;

/**
 * Milliseconds between two looks (on the spool's tick, `syncIntervalMs`) at
 * whether the spool's directory and its open segments are still there: each
 * look is two `stat` calls on the runtime's thread pool, which at every 200 ms
 * tick made a third of an idle agent's CPU.
 */
export const SPOOL_FILES_CHECK_MS = 1000;

/**
 * Age of the oldest message not yet durable (the durability lag: appended to
 * the spool and not yet written, or not yet fdatasync'ed under `sync:
 * "always"`) beyond which the state is `degraded` ("the disk is behind"). A
 * write cycle takes a few milliseconds on a healthy disk; a second is hundreds
 * of cycles, a disk that cannot carry the inflow. Senders are never blocked
 * for it.
 */
export const DURABILITY_LAG_DEGRADED_MS = 1000;

/**
 * With no rsyslogd running, no input having received a message for this long
 * makes the state `degraded`: nothing feeds the agent (a host whose syslog(3)
 * goes only to the journal). Long enough that a quiet host with a sender
 * that logs now and then is not flagged.
 */
export const NOTHING_RECEIVED_MS = 10 * 60_000;

/**
 * Milliseconds between two returns of freed memory to the system
 * (`malloc_trim`): the C library keeps what a burst or a hostile sender made
 * it allocate and the agent has since freed, so without this the resident
 * memory stays at its peak. One call took 0.7-2.3 ms with a heap of 110 MiB
 * of batch-sized buffers (0.02% of a core at one every 10 s); the event loop
 * waits that long, senders do not (they write into the socket buffers).
 */
export const MEMORY_TRIM_MS = 10_000;
