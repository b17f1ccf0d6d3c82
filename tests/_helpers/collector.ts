/**
 * A real rsyslogd collector that a test can kill and bring back on the same port.
 *
 * @module
 */

import { collectorConf, type RsyslogdProcess, startRsyslogd } from "./rsyslogd.ts";
import { freePort } from "./free_port.ts";
import { readLines } from "./seq_check.ts";

/**
 * An rsyslogd collector on 127.0.0.1 writing every message it receives, as sent,
 * one per line, to `file`. Restarts keep the port and append to the same file.
 */
export class Collector {
  readonly dir: string;
  readonly port: number;
  readonly file: string;
  #proc: RsyslogdProcess | undefined;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
    this.file = `${dir}/received.log`;
  }

  /** Starts a collector in `dir` (created if needed) on `port` or a free one. */
  static async start(dir: string, port?: number): Promise<Collector> {
    await Deno.mkdir(dir, { recursive: true });
    const c = new Collector(dir, port ?? await freePort());
    await c.restart();
    return c;
  }

  /** Makes a collector object for a port without starting it (the collector is "down"). */
  static async down(dir: string): Promise<Collector> {
    await Deno.mkdir(dir, { recursive: true });
    return new Collector(dir, await freePort());
  }

  /** Starts rsyslogd again on the same port (after a kill or stop). */
  async restart(): Promise<void> {
    const conf = collectorConf({ port: this.port, dir: this.dir, file: this.file });
    this.#proc = await startRsyslogd({ conf, dir: this.dir, readyPort: this.port });
  }

  /** SIGKILL, and waits until it is gone. */
  async kill(): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    proc.signal("SIGKILL");
    await proc.status;
    this.#proc = undefined;
  }

  /** Sends a signal to the running rsyslogd (SIGSTOP/SIGCONT to stall it). */
  signal(sig: Deno.Signal): void {
    this.#proc?.signal(sig);
  }

  /** Stops it (SIGTERM, then SIGKILL). */
  async stop(): Promise<void> {
    await this.#proc?.stop();
    this.#proc = undefined;
  }

  /** Every complete line received so far. */
  lines(): Promise<string[]> {
    return readLines(this.file);
  }
}
