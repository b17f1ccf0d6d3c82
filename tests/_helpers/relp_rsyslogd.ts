/**
 * rsyslogd on both sides of a RELP link, for the RELP and TLS tests and
 * `bench/relp.ts`: an `imrelp` collector, an `omrelp` relay, and a collector
 * that a test can kill and bring back with any config.
 *
 * @module
 */

import { type RsyslogdProcess, startRsyslogd } from "./rsyslogd.ts";
import { freePort } from "./free_port.ts";
import { readLines } from "./seq_check.ts";

/** Options of {@linkcode imrelpCollectorConf}. */
export interface ImrelpCollectorOptions {
  port: number;
  dir: string;
  file: string;
}

/**
 * An rsyslog config for a RELP collector: `imrelp` on 127.0.0.1:`port` writing
 * every message, as sent (`%rawmsg%`), one per line, to `file`. Its ruleset
 * runs on a Direct queue, so a message is written to the file before imrelp
 * answers `rsp 200`: what rsyslogd acknowledged survives its SIGKILL.
 */
export function imrelpCollectorConf(o: ImrelpCollectorOptions): string {
  return `# imrelp collector written by tests/_helpers/relp_rsyslogd.ts
global(
  workDirectory=${q(o.dir)}
  maxMessageSize="256k"
  parser.escapeControlCharactersOnReceive="off"
  net.enableDNS="off"
)
module(load="imrelp")
template(name="collector_raw" type="string" string="%rawmsg%\\n")
ruleset(name="collector" queue.type="Direct") {
  action(type="omfile" file=${q(o.file)} template="collector_raw"
         asyncWriting="off" flushOnTXEnd="on")
}
input(type="imrelp" address="127.0.0.1" port="${o.port}" ruleset="collector" maxDataSize="256k")
`;
}

/** Options of {@linkcode omrelpRelayConf}. */
export interface OmrelpRelayOptions {
  /** imtcp port that takes the messages (octet-counted or LF). */
  tcpPort: number;
  /** RELP port on 127.0.0.1 that `omrelp` forwards to. */
  relpPort: number;
  dir: string;
  /** omrelp's window: unanswered messages at most (default 128). */
  window?: number;
}

/**
 * An rsyslog config that takes messages on imtcp 127.0.0.1:`tcpPort` and
 * forwards them unchanged (`%rawmsg%`) with `omrelp` (window 128) to
 * 127.0.0.1:`relpPort`, retrying forever, with a queue big enough to hold a
 * test's whole stream while the other side is down.
 */
export function omrelpRelayConf(o: OmrelpRelayOptions): string {
  return `# omrelp relay written by tests/_helpers/relp_rsyslogd.ts
global(
  workDirectory=${q(o.dir)}
  maxMessageSize="256k"
  parser.escapeControlCharactersOnReceive="off"
  net.enableDNS="off"
)
module(load="imtcp" maxFrameSize="262144")
module(load="omrelp")
template(name="relay_raw" type="string" string="%rawmsg%")
ruleset(name="relay") {
  action(type="omrelp" target="127.0.0.1" port="${o.relpPort}" template="relay_raw"
         windowSize="${o.window ?? 128}" timeout="10"
         queue.type="LinkedList" queue.size="500000" queue.dequeueBatchSize="1024"
         action.resumeRetryCount="-1" action.resumeInterval="1")
}
input(type="imtcp" address="127.0.0.1" port="${o.tcpPort}" ruleset="relay")
`;
}

/**
 * An rsyslogd whose config is made by `conf(port)`, on a fixed port, writing to
 * `<dir>/received.log`; restarts keep the port and append to the same file.
 */
export class RsyslogCollector {
  readonly dir: string;
  readonly port: number;
  readonly file: string;
  #conf: (c: RsyslogCollector) => string;
  #proc: RsyslogdProcess | undefined;

  private constructor(dir: string, port: number, conf: (c: RsyslogCollector) => string) {
    this.dir = dir;
    this.port = port;
    this.file = `${dir}/received.log`;
    this.#conf = conf;
  }

  /** Starts one in `dir` (created) on a free port; `conf` gets the collector (port, dir, file). */
  static async start(
    dir: string,
    conf: (c: RsyslogCollector) => string,
  ): Promise<RsyslogCollector> {
    await Deno.mkdir(dir, { recursive: true });
    const c = new RsyslogCollector(dir, await freePort(), conf);
    await c.restart();
    return c;
  }

  /** Starts rsyslogd again (after a kill or stop). */
  async restart(): Promise<void> {
    this.#proc = await startRsyslogd({
      conf: this.#conf(this),
      dir: this.dir,
      readyPort: this.port,
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

  /** SIGTERM (then SIGKILL). */
  async stop(): Promise<void> {
    await this.#proc?.stop();
    this.#proc = undefined;
  }

  /** Every complete line received so far. */
  lines(): Promise<string[]> {
    return readLines(this.file);
  }
}

function q(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}
