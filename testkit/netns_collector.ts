/**
 * A real rsyslogd collector inside a network namespace, bound to an address
 * of its own (127.0.0.2, 127.0.0.3, … all work on a namespace's loopback), so
 * that several collectors can share one port and a host name can resolve to
 * all of them.
 *
 * @module
 */

import { collectorConf, type CollectorConfOptions, rsyslogString } from "./rsyslog_conf.ts";
import { type LoggedChild, readOrEmpty, spawnLogged } from "./process.ts";
import { listensIn } from "./netns.ts";
import { rsyslogdRejects } from "./rsyslogd.ts";
import { waitFor } from "./wait_for.ts";
import { errorText } from "../ground/mod.ts";

/** The rsyslogd binary used by default (Debian's path). */
const RSYSLOGD = "/usr/sbin/rsyslogd";

/**
 * `collectorConf` (imtcp, every message as sent, one per line, to `file`)
 * listening on `address` instead of 127.0.0.1.
 *
 * @example
 * ```ts
 * import { collectorConfAt } from "./netns_collector.ts";
 *
 * const conf = collectorConfAt("127.0.0.2", { port: 514, dir: "/tmp/c1", file: "/tmp/c1/r.log" });
 * ```
 */
export function collectorConfAt(
  address: string,
  c: Omit<CollectorConfOptions, "ordered">,
): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) {
    throw new RangeError(`collectorConfAt: expected an IPv4 address, got ${address}`);
  }
  const conf = collectorConf(c);
  const bind = `input(type="imtcp" address="127.0.0.1"`;
  if (!conf.includes(bind)) throw new Error("collectorConfAt: collectorConf has no imtcp input");
  return conf.replace(bind, `input(type="imtcp" address=${rsyslogString(address)}`);
}

/** Options of {@linkcode NetnsCollector.start}. */
export interface NetnsCollectorOptions {
  /** The network namespace's name (`ip netns`). */
  netns: string;
  /** Work dir: config, log and `received.log` (created if needed). */
  dir: string;
  /** The IPv4 address to listen on, inside the namespace. */
  address: string;
  /** The TCP port. */
  port: number;
  /** The rsyslogd binary (default /usr/sbin/rsyslogd). */
  rsyslogd?: string | undefined;
}

/**
 * An rsyslogd collector (see {@linkcode collectorConfAt}) running in network
 * namespace `netns` on `address:port`, writing every message to
 * `<dir>/received.log`; it can be SIGKILLed and started again on the same
 * address, appending to the same file. Registered for cleanup by pid while it
 * runs.
 *
 * @example
 * ```ts ignore
 * import { NetNs } from "./netns.ts";
 * import { NetnsCollector } from "./netns_collector.ts";
 *
 * const ns = await NetNs.create();
 * const c = await NetnsCollector.start({ netns: ns.name, dir: "/tmp/c1", address: "127.0.0.2", port: 514 });
 * await c.kill();
 * await c.restart();
 * await c.stop();
 * await ns.remove();
 * ```
 */
export class NetnsCollector {
  /** Its work dir. */
  readonly dir: string;
  /** The address it listens on. */
  readonly address: string;
  /** The port it listens on. */
  readonly port: number;
  /** The file receiving one line per message. */
  readonly file: string;
  #o: NetnsCollectorOptions;
  #child: LoggedChild | undefined;

  private constructor(o: NetnsCollectorOptions) {
    this.#o = o;
    this.dir = o.dir;
    this.address = o.address;
    this.port = o.port;
    this.file = `${o.dir}/received.log`;
  }

  /** Starts it; resolves once rsyslogd listens (10 s at most, else throws with its log). */
  static async start(o: NetnsCollectorOptions): Promise<NetnsCollector> {
    const c = new NetnsCollector(o);
    await c.restart();
    return c;
  }

  /** The pid of its rsyslogd; undefined while it is down. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Whether it is running. */
  get up(): boolean {
    return this.#child !== undefined && !this.#child.exited();
  }

  /** Starts rsyslogd (again) on the same address and port; a running one is left alone. */
  async restart(): Promise<void> {
    if (this.up) return;
    const rsyslogd = this.#o.rsyslogd ?? RSYSLOGD;
    await Deno.mkdir(this.dir, { recursive: true });
    const confPath = `${this.dir}/rsyslog.conf`;
    const logPath = `${this.dir}/rsyslog.log`;
    await Deno.writeTextFile(
      confPath,
      collectorConfAt(this.address, { port: this.port, dir: this.dir, file: this.file }),
    );
    const rejected = await rsyslogdRejects(rsyslogd, confPath);
    if (rejected !== undefined) {
      throw new Error(`rsyslogd rejected ${confPath} (exit ${rejected.code}):\n${rejected.output}`);
    }
    const child = spawnLogged({
      cmd: "ip",
      args: ["netns", "exec", this.#o.netns, rsyslogd, "-n", "-iNONE", "-f", confPath],
      logPath,
    });
    this.#child = child;
    const what = `rsyslogd to listen on ${this.address}:${this.port} in netns ${this.#o.netns}`;
    try {
      const r = await waitFor(
        async () =>
          child.exited() ? "exited" : (await listensIn(child.pid, this.port, this.address)) && "ok",
        { timeoutMs: 10_000, what, intervalMs: 20 },
      );
      if (r === "exited") {
        throw new Error(`rsyslogd exited (${JSON.stringify(await child.status)})`);
      }
    } catch (err) {
      await child.stop(2_000);
      this.#child = undefined;
      const why = errorText(err);
      throw new Error(`${what}: ${why}\n--- ${logPath}:\n${await readOrEmpty(logPath)}`);
    }
  }

  /** SIGKILL, and waits until it is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.signal("SIGKILL");
    await child.status;
    this.#child = undefined;
  }

  /** Stops it (SIGTERM, then SIGKILL after 5 s). */
  async stop(): Promise<void> {
    await this.#child?.stop(5_000);
    this.#child = undefined;
  }
}
