/**
 * What the watchdog needs from the part that keeps an rsyslogd process alive
 * (a child it runs itself, or one that systemd runs).
 *
 * @module
 */

import type { Clock, Logger } from "../ground/mod.ts";
import type { RestartPolicy } from "./restart_policy.ts";
import type { Spawner } from "./spawner.ts";

/** What a {@linkcode Keeper} reports; the watchdog turns it into status and log lines. */
export interface KeeperEvents {
  /** A process is up: spawned, or found. */
  started(pid: number): void;
  /** The process is gone; `how` says how ("killed by SIGKILL", "exited with code 3"). */
  exited(pid: number, how: string): void;
  /**
   * Waiting `delayMs` before the next attempt. `failure` is set when this is
   * the failed state (crash loop, a start that cannot happen) and says why.
   */
  waiting(delayMs: number, failure: string | undefined): void;
  /**
   * It cannot be told which process is rsyslogd (`why` says why and what to
   * fix): nothing is signalled or restarted until it can.
   */
  unsure(why: string): void;
}

/** What every keeper is given, whatever its mode. */
export interface KeeperParts {
  /** SIGKILL this long after SIGTERM when the process has not exited. */
  killDeadlineMs: number;
  /** Timers: restart delays, the kill deadline, polls. */
  clock: Clock;
  /** Runs rsyslogd and its commands. */
  spawner: Spawner;
  /** How soon a restart follows an exit, and when it is a crash loop. */
  policy: RestartPolicy;
  /** Where the keeper says what it does. */
  log: Logger;
  /** What the watchdog hears. */
  events: KeeperEvents;
}

/** Keeps one rsyslogd process alive. */
export interface Keeper {
  /** The running process, if any. */
  readonly pid: number | undefined;
  /** Starts keeping: finds or starts the process, and brings it back whenever it is gone. */
  start(): void;
  /** Sends a signal to the running process; false when there is none. */
  signal(signal: Deno.Signal): boolean;
  /**
   * Ends the running process (SIGTERM and SIGCONT, SIGKILL after the kill
   * deadline) so that it is brought back; resolves once it is gone.
   */
  kill(reason: string): Promise<void>;
  /** Stops keeping; a child process is ended as by `kill`, an external one left alone. */
  stop(): Promise<void>;
}

/** `exited with code 3`, `killed by SIGKILL`. */
export function describeExit(exit: { code: number; signal: Deno.Signal | null }): string {
  return exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
}
