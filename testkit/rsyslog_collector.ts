/**
 * A real rsyslogd collector that a test, a benchmark or the demo can kill and
 * bring back on the same port, with any collector config (imtcp by default,
 * ordered, or imrelp: see `rsyslog_conf.ts`).
 *
 * @module
 */

import { collectorConf, type CollectorConfOptions } from "./rsyslog_conf.ts";
import { type RsyslogdProcess, startRsyslogd } from "./rsyslogd.ts";
import { freePort } from "./free_port.ts";
import { readLines } from "./seq_check.ts";

/** Options of {@linkcode RsyslogCollector.start}. */
export interface RsyslogCollectorOptions {
  /** The config, made from the collector's port, dir and file (default `collectorConf`). */
  conf?: ((c: Omit<CollectorConfOptions, "ordered">) => string) | undefined;
  /** Listen on this port instead of a free one. */
  port?: number | undefined;
  /** The rsyslogd binary (default /usr/sbin/rsyslogd). */
  rsyslogd?: string | undefined;
  /** Run rsyslogd in a session of its own (see `spawnLogged`). */
  setsid?: boolean | undefined;
}

/**
 * An rsyslogd collector on 127.0.0.1 writing every message it receives, as
 * sent, one per line, to `<dir>/received.log`. Restarts keep the port and
 * append to the same file.
 *
 * @example
 * ```ts ignore
 * import { RsyslogCollector } from "./rsyslog_collector.ts";
 *
 * const collector = await RsyslogCollector.start(await Deno.makeTempDir());
 * // … send to 127.0.0.1:collector.port …
 * const lines = await collector.lines();
 * await collector.stop();
 * ```
 */
export class RsyslogCollector {
  /** Its work dir: config, log and received.log. */
  readonly dir: string;
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** The file receiving one line per message. */
  readonly file: string;
  #o: RsyslogCollectorOptions;
  #proc: RsyslogdProcess | undefined;

  private constructor(dir: string, port: number, o: RsyslogCollectorOptions) {
    this.dir = dir;
    this.port = port;
    this.file = `${dir}/received.log`;
    this.#o = o;
  }

  /** Starts a collector in `dir` (created if needed). */
  static async start(dir: string, o: RsyslogCollectorOptions = {}): Promise<RsyslogCollector> {
    const c = await RsyslogCollector.down(dir, o);
    await c.restart();
    return c;
  }

  /** A collector with its port, not started (the collector is "down"): `restart` starts it. */
  static async down(dir: string, o: RsyslogCollectorOptions = {}): Promise<RsyslogCollector> {
    await Deno.mkdir(dir, { recursive: true });
    return new RsyslogCollector(dir, o.port ?? await freePort(), o);
  }

  /** The pid of its rsyslogd; undefined while it is down. */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** Starts rsyslogd again on the same port (after a kill or stop). */
  async restart(): Promise<void> {
    const conf = (this.#o.conf ?? collectorConf)({
      port: this.port,
      dir: this.dir,
      file: this.file,
    });
    this.#proc = await startRsyslogd({
      conf,
      dir: this.dir,
      readyPort: this.port,
      rsyslogd: this.#o.rsyslogd,
      setsid: this.#o.setsid,
    });
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
