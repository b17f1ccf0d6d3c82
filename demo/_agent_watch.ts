/**
 * The demo's watch on the agent: its status, polled, turned into timeline
 * lines as rsyslogd, the collector and the spool change.
 *
 * @module
 */

import { controlRequest, type Status } from "../control/mod.ts";
import { type SeqFileTally, sleep } from "../testkit/mod.ts";
import { fmt, type Timeline } from "./_timeline.ts";

/** How often the status is polled. */
export const POLL_MS = 50;

/** What the watch needs of the run. */
export interface WatchParts {
  /** Where what changed is told. */
  timeline: Timeline;
  /** The agent's control socket. */
  controlSocket: string;
  /** What the collector has received. */
  tally: SeqFileTally;
  /** How many messages the application has sent so far. */
  sent: () => number;
  /** Polling stops when it aborts. */
  signal: AbortSignal;
}

/**
 * What the agent's status said as the demo went: rsyslogd dying and coming
 * back, the collector going and returning, the spool filling and draining.
 * Each change is a timeline line; the figures are the report's.
 */
export class AgentWatch {
  /** The last status read, if any. */
  status: Status | undefined;
  /** Whether the agent said its collector is up. */
  collectorUp = false;
  /** The rsyslogd the agent runs, as last seen running and probed. */
  rsyslogdPid = 0;
  /** Set while a rotation runs: an rsyslogd exit then is the HUP's doing. */
  rotating = false;
  /** When the spool started holding messages this time; 0 while it is empty. */
  spoolSince = 0;
  /** How long the spool held messages, in the episodes that ended. */
  spooledMs = 0;
  /** The most messages the spool held. */
  spoolPeak = 0;
  /** After a reconnect: the messages sent before it, all of which must arrive; 0 once they have. */
  drainTarget = 0;
  /** How long the last drain took, from the reconnect until all of `drainTarget` arrived. */
  lastDrainMs = 0;
  /** When the last drain was done (0: none yet). */
  drainedAt = 0;
  #parts: WatchParts;
  #rsyslogdExit = "";
  #rsyslogdExitSeenAt = 0;
  #episodePeak = 0;
  #drainStartedAt = 0;
  #polling: Promise<void> | undefined;
  #stopPolling = false;

  /** A watch that polls once started; `parts` says where it tells what it sees. */
  constructor(parts: WatchParts) {
    this.#parts = parts;
  }

  /** Reads the agent's status (it is kept as {@linkcode AgentWatch.status}). */
  async poll(): Promise<Status> {
    const s = await controlRequest(
      this.#parts.controlSocket,
      { command: "status" },
      2000,
    ) as Status;
    this.status = s;
    return s;
  }

  /** Polls every {@linkcode POLL_MS} until {@linkcode AgentWatch.stop}. */
  start(): void {
    this.#polling = this.#pollLoop();
  }

  /** Stops polling; resolves once the last poll is done. */
  async stop(): Promise<void> {
    this.#stopPolling = true;
    await this.#polling;
  }

  /** Turns what changed since the last status into timeline lines. */
  observe(s: Status): void {
    const timeline = this.#parts.timeline;
    const now = performance.now();
    const r = s.rsyslogd;
    if (r.lastExit !== "" && r.lastExit !== this.#rsyslogdExit) {
      this.#rsyslogdExit = r.lastExit;
      this.#rsyslogdExitSeenAt = now;
      timeline.line(`rsyslogd: ${r.lastExit}${this.rotating ? ": it died of the HUP" : ""}`);
    }
    if (r.state === "running" && r.probe.ok && r.pid !== 0 && r.pid !== this.rsyslogdPid) {
      const down = this.#rsyslogdExitSeenAt === 0
        ? ""
        : `, about ${((now - this.#rsyslogdExitSeenAt) / 1000).toFixed(1)} s after it died`;
      timeline.line(
        `agent: restarted rsyslogd as pid ${r.pid}${down}; a canary came back through it: logging works again`,
      );
      this.rsyslogdPid = r.pid;
    }
    const c = s.collectors[0];
    if (c !== undefined) {
      const up = c.state === "up";
      if (this.collectorUp && !up) {
        timeline.line(
          `agent: collector ${c.address} ${c.state}${
            c.lastError === "" ? "" : ` (${c.lastError})`
          }: the spool takes over`,
        );
      } else if (!this.collectorUp && up) {
        this.#drainStartedAt = now;
        this.drainTarget = this.#parts.sent();
        timeline.line(
          `agent: collector ${c.address} up again: draining the spool (${
            fmt(this.#episodePeak)
          } messages at its peak), oldest first, while new ones keep coming`,
        );
      }
      this.collectorUp = up;
    }
    const n = s.spool.messages;
    if (n > 0) {
      if (this.spoolSince === 0) {
        this.spoolSince = now;
        this.#episodePeak = 0;
      }
      this.#episodePeak = Math.max(this.#episodePeak, n);
      this.spoolPeak = Math.max(this.spoolPeak, n);
    } else if (this.spoolSince !== 0) {
      const ms = now - this.spoolSince;
      this.spooledMs += ms;
      this.spoolSince = 0;
      timeline.line(
        `agent: spool read empty after ${(ms / 1000).toFixed(1)} s (peak ${
          fmt(this.#episodePeak)
        } messages); new messages go straight to the collector again`,
      );
    }
  }

  async #pollLoop(): Promise<void> {
    while (!this.#stopPolling && !this.#parts.signal.aborted) {
      try {
        this.observe(await this.poll());
        await this.#watchDrain();
      } catch {
        // The agent is busy or gone: the run notices a dead agent.
      }
      await sleep(POLL_MS);
    }
  }

  /** After a reconnect: says when everything sent before it is at the collector. */
  async #watchDrain(): Promise<void> {
    if (this.drainTarget === 0) return;
    const tally = this.#parts.tally;
    await tally.update();
    if (tally.tally.missing(this.drainTarget).count > 0) return;
    this.drainedAt = performance.now();
    this.lastDrainMs = this.drainedAt - this.#drainStartedAt;
    this.#parts.timeline.line(
      `collector: has all ${fmt(this.drainTarget)} messages sent before the reconnect, ${
        (this.lastDrainMs / 1000).toFixed(1)
      } s after it: the spool is drained`,
    );
    this.drainTarget = 0;
  }
}
