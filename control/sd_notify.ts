/**
 * systemd's notify protocol (sd_notify(3)): READY, WATCHDOG, STATUS, RELOADING, STOPPING.
 *
 * @module
 */

import { closeQuietly, sleep, systemClock } from "../ground/mod.ts";

const encoder = new TextEncoder();

/**
 * Sends notifications to `$NOTIFY_SOCKET` as datagrams. Without `NOTIFY_SOCKET`
 * (not started by systemd with `Type=notify`) every call does nothing.
 *
 * @example
 * ```ts
 * const notify = SdNotify.fromEnv();
 * await notify.send("READY=1\nSTATUS=relaying");
 * ```
 */
export class SdNotify {
  #path: string | undefined;
  #socket: Deno.DatagramConn | undefined;
  /** Half of `$WATCHDOG_USEC` in ms (the ping interval sd_watchdog_enabled(3) advises), or undefined. */
  readonly watchdogIntervalMs: number | undefined;
  /** `$WATCHDOG_USEC` in ms, or undefined. */
  readonly watchdogMs: number | undefined;

  constructor(env: { notifySocket?: string | undefined; watchdogUsec?: string | undefined }) {
    const path = env.notifySocket ?? "";
    // An abstract socket ("@name") is the same name with a leading NUL byte.
    this.#path = path === "" ? undefined : path.startsWith("@") ? `\0${path.slice(1)}` : path;
    const usec = Number(env.watchdogUsec ?? "");
    this.watchdogMs = this.#path !== undefined && usec > 0 ? usec / 1000 : undefined;
    this.watchdogIntervalMs = this.watchdogMs === undefined ? undefined : this.watchdogMs / 2;
  }

  /** From `NOTIFY_SOCKET` and `WATCHDOG_USEC` of this process. */
  static fromEnv(): SdNotify {
    return new SdNotify({
      notifySocket: Deno.env.get("NOTIFY_SOCKET"),
      watchdogUsec: Deno.env.get("WATCHDOG_USEC"),
    });
  }

  /** Whether notifications go anywhere. */
  get enabled(): boolean {
    return this.#path !== undefined;
  }

  /**
   * Sends `state` (lines like `READY=1`). A send the receiver cannot take yet
   * (its queue is full: Linux queues 10 datagrams by default) is tried again
   * for up to a second; failures are returned, never thrown.
   */
  async send(state: string): Promise<Error | undefined> {
    if (this.#path === undefined) return undefined;
    let error: Error | undefined;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        this.#socket ??= Deno.listenDatagram({ transport: "unixpacket", path: "" });
        await this.#socket.send(encoder.encode(state), {
          transport: "unixpacket",
          path: this.#path,
        });
        return undefined;
      } catch (e) {
        error = e instanceof Error ? e : new Error(String(e));
        await sleep(systemClock, 50);
      }
    }
    return error;
  }

  /** Closes the socket. */
  close(): void {
    closeQuietly(this.#socket);
    this.#socket = undefined;
  }
}
