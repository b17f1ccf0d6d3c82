/**
 * Sends canary tokens into rsyslogd at `rsyslogd.probe.target`.
 *
 * @module
 */

import { type ProbeTarget, probeTargetText } from "../config/mod.ts";
import { closeQuietly, errorText } from "../ground/mod.ts";

/** A probe target that canaries are sent to (not `none`). */
export type Target = Exclude<ProbeTarget, { kind: "none" }>;

const encoder = new TextEncoder();
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * One syslog message per canary. To a unix socket (`unix:///dev/log`) it is a
 * datagram in the format of glibc's `syslog()`
 * (`<14>Nov 25 10:00:00 syslog-agent[PID]: TOKEN`), sent from a socket bound
 * in a private temporary directory; to `udp://` a datagram and to `tcp://` an
 * octet-counted frame on a fresh connection, both RFC 5424
 * (`<14>1 TIME HOST syslog-agent PID - - TOKEN`). Facility user, severity info,
 * so that the usual `*.info` selectors let it through.
 */
export class ProbeSender {
  #target: Target;
  #text: string;
  #timeoutMs: number;
  #dir: string | undefined;
  #dgram: Deno.DatagramConn | undefined;

  /** @param target where canaries go: a unix socket, or a UDP or TCP address */
  constructor(target: Target, timeoutMs: number) {
    this.#target = target;
    this.#text = probeTargetText(target);
    this.#timeoutMs = timeoutMs;
  }

  /** Creates the local socket (unix: in a new temporary directory; udp: an ephemeral port). */
  async open(): Promise<void> {
    const t = this.#target;
    try {
      if (t.kind === "unix") {
        this.#dir = await Deno.makeTempDir({ prefix: "syslog-agent-probe-" });
        this.#dgram = Deno.listenDatagram({ transport: "unixpacket", path: `${this.#dir}/probe` });
      } else if (t.kind === "udp") {
        const hostname = t.address.hostname.includes(":") ? "::" : "0.0.0.0";
        this.#dgram = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
      }
    } catch (e) {
      await this.close();
      throw new Error(
        `watchdog: cannot create the socket that sends canaries to ${this.#text}: ${
          errorText(e)
        }; check that the temporary directory (TMPDIR) is writable, or set rsyslogd.probe.target to "none"`,
      );
    }
  }

  /** Sends one canary; rejects when the target refuses it or does not take it in time. */
  async send(token: string): Promise<void> {
    const t = this.#target;
    if (t.kind === "unix") {
      const msg = encoder.encode(`<14>${bsdTime(new Date())} syslog-agent[${Deno.pid}]: ${token}`);
      await this.#withTimeout(this.#dgram!.send(msg, { transport: "unixpacket", path: t.path }));
      return;
    }
    const msg = encoder.encode(
      `<14>1 ${new Date().toISOString()} ${hostname()} syslog-agent ${Deno.pid} - - ${token}`,
    );
    if (t.kind === "udp") {
      await this.#withTimeout(
        this.#dgram!.send(msg, {
          transport: "udp",
          hostname: t.address.hostname,
          port: t.address.port,
        }),
      );
      return;
    }
    const connecting = Deno.connect({ hostname: t.address.hostname, port: t.address.port });
    let conn: Deno.TcpConn;
    try {
      conn = await this.#withTimeout(connecting);
    } catch (e) {
      connecting.then((c) => c.close(), () => {});
      throw e;
    }
    try {
      const frame = new Uint8Array([...encoder.encode(`${msg.length} `), ...msg]);
      let off = 0;
      while (off < frame.length) off += await this.#withTimeout(conn.write(frame.subarray(off)));
    } finally {
      closeQuietly(conn);
    }
  }

  /** Closes the socket and removes the temporary directory. */
  async close(): Promise<void> {
    closeQuietly(this.#dgram);
    this.#dgram = undefined;
    if (this.#dir !== undefined) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    this.#dir = undefined;
  }

  #withTimeout<T>(p: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no progress within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }
}

let cachedHostname: string | undefined;

function hostname(): string {
  if (cachedHostname === undefined) {
    try {
      cachedHostname = Deno.hostname().replace(/\s/g, "") || "-";
    } catch {
      cachedHostname = "-";
    }
  }
  return cachedHostname;
}

/** `Nov 25 10:00:00` in local time (RFC 3164, as glibc writes it). */
function bsdTime(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${pad(d.getHours())}:${
    pad(d.getMinutes())
  }:${pad(d.getSeconds())}`;
}
