/**
 * rsyslog configs for tests, benchmarks and the demo, all quoting their
 * string values with one function, {@linkcode rsyslogString}: a collector
 * (imtcp, or imrelp, to a file), an omrelp relay, and the host's rsyslogd as
 * the agent manages it. None touches /dev/log or /var/log.
 *
 * @module
 */

/**
 * A RainerScript double-quoted string literal for `value` (backslashes and
 * quotes escaped). Throws a RangeError for a line break or NUL, which a
 * RainerScript string cannot hold.
 *
 * @example
 * ```ts
 * import { rsyslogString } from "./rsyslog_conf.ts";
 *
 * const line = `global(workDirectory=${rsyslogString('/tmp/a "b"')})`;
 * // global(workDirectory="/tmp/a \"b\"")
 * ```
 */
export function rsyslogString(value: string): string {
  if (/[\n\r\0]/.test(value)) {
    throw new RangeError(
      `rsyslog config: a string value holds a line break or NUL: ${
        JSON.stringify(value)
      }; use a path without them`,
    );
  }
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** Where a collector listens and writes (see {@linkcode collectorConf}). */
export interface CollectorConfOptions {
  /** TCP port on 127.0.0.1 to listen on. */
  port: number;
  /** rsyslog work directory (must exist). */
  dir: string;
  /** File that receives every message, one per line. */
  file: string;
  /**
   * Write messages in the order they arrived: the ruleset runs on a Direct
   * queue, each message written by the thread that read it from its
   * connection. Without it the ruleset runs on rsyslog's main queue, whose
   * worker threads each take batches of 256 messages: under a burst of a few
   * hundred thousand messages a second a second worker starts, and two
   * batches can reach the file swapped.
   */
  ordered?: boolean | undefined;
}

/**
 * A complete rsyslog config for a test collector: one imtcp listener on
 * 127.0.0.1:`port` (octet-counted and LF framing both accepted) that writes
 * every message it receives to `file` exactly as sent, followed by `\n`.
 *
 * - `%rawmsg%` is the received message without its octet-count prefix or
 *   framing LF, with escaping of control characters on receive switched off,
 *   so tabs, `#` and UTF-8 arrive byte for byte. (rsyslog still turns a NUL
 *   byte inside a message into the 4 characters `#000`, and drops NULs at the
 *   end.)
 * - Messages up to 256 KiB are neither truncated (`maxMessageSize`) nor, when
 *   octet-counted, rejected as over-long frames (imtcp `maxFrameSize`, 200000
 *   by default). Longer LF-framed lines are split into 256 KiB pieces.
 * - The file is written synchronously and flushed at the end of every batch
 *   (`asyncWriting="off"`, `flushOnTXEnd="on"`), so a message is on disk a
 *   few milliseconds after it arrived.
 * - No other input (no imuxsock, no imklog, nothing on /dev/log) and no other
 *   output: the listener is bound to its own ruleset, so rsyslogd's internal
 *   messages go to its stderr (the log of `startRsyslogd`), never into `file`
 *   and never to /var/log.
 *
 * @example
 * ```ts
 * import { collectorConf } from "./rsyslog_conf.ts";
 *
 * const conf = collectorConf({ port: 10514, dir: "/tmp/c", file: "/tmp/c/received.log" });
 * ```
 */
export function collectorConf(opts: CollectorConfOptions): string {
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
    throw new RangeError(`collectorConf: port must be 1..65535, got ${opts.port}`);
  }
  const queue = opts.ordered ? ` queue.type="Direct"` : "";
  return `# test collector written by testkit/rsyslog_conf.ts
${globals(opts.dir)}
module(load="imtcp" maxFrameSize="262144" maxSessions="1000")
template(name="collector_raw" type="string" string="%rawmsg%\\n")
ruleset(name="collector"${queue}) {
  action(type="omfile" file=${rsyslogString(opts.file)} template="collector_raw"
         asyncWriting="off" flushOnTXEnd="on")
}
input(type="imtcp" address="127.0.0.1" port="${opts.port}" ruleset="collector")
`;
}

/** {@linkcode collectorConf} with `ordered`: messages written in the order they arrived. */
export function orderedCollectorConf(c: Omit<CollectorConfOptions, "ordered">): string {
  return collectorConf({ ...c, ordered: true });
}

/**
 * An rsyslog config for a RELP collector: `imrelp` on 127.0.0.1:`port` writing
 * every message, as sent (`%rawmsg%`), one per line, to `file`. Its ruleset
 * runs on a Direct queue, so a message is written to the file before imrelp
 * answers `rsp 200`: what rsyslogd acknowledged survives its SIGKILL.
 */
export function imrelpCollectorConf(o: Omit<CollectorConfOptions, "ordered">): string {
  return `# imrelp collector written by testkit/rsyslog_conf.ts
${globals(o.dir)}
module(load="imrelp")
template(name="collector_raw" type="string" string="%rawmsg%\\n")
ruleset(name="collector" queue.type="Direct") {
  action(type="omfile" file=${rsyslogString(o.file)} template="collector_raw"
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
  /** rsyslog work directory (must exist). */
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
  return `# omrelp relay written by testkit/rsyslog_conf.ts
${globals(o.dir)}
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

/** Options for {@linkcode managedRsyslogConf}. */
export interface ManagedRsyslogConfOptions {
  /** rsyslog work directory (must exist). */
  dir: string;
  /** The agent's TCP input on 127.0.0.1: everything is forwarded there, octet-counted. */
  agentPort: number;
  /** A unix datagram socket (imuxsock, no rate limit), e.g. the probe target. */
  socket?: string | undefined;
  /** A TCP listener (imtcp) on 127.0.0.1. */
  tcpPort?: number | undefined;
  /** A file that gets every message (`%rawmsg%`, one per line), as /var/log/syslog would. */
  file?: string | undefined;
  /** The first line, a comment saying what this rsyslogd is. */
  comment?: string | undefined;
}

/**
 * The host's rsyslogd as the agent's README recommends it, for an rsyslogd
 * the agent manages: the inputs asked for (a socket for local programs, as
 * /dev/log; a TCP listener), then, for every message, the file (if any, as
 * /var/log/syslog) and forwarding to the agent with a small in-memory action
 * queue that retries forever and is given 5 s to drain on shutdown.
 *
 * @example
 * ```ts
 * import { managedRsyslogConf } from "./rsyslog_conf.ts";
 *
 * const conf = managedRsyslogConf({ dir: "/tmp/r", agentPort: 5514, socket: "/tmp/r/log.sock" });
 * ```
 */
export function managedRsyslogConf(o: ManagedRsyslogConfOptions): string {
  const lines = [
    `# ${o.comment ?? "managed rsyslogd written by testkit/rsyslog_conf.ts"}`,
    `global(workDirectory=${rsyslogString(o.dir)} net.enableDNS="off" maxMessageSize="64k"`,
    `       parser.escapeControlCharactersOnReceive="off")`,
  ];
  if (o.socket !== undefined) {
    lines.push(
      `module(load="imuxsock" SysSock.Use="off")`,
      `input(type="imuxsock" Socket=${
        rsyslogString(o.socket)
      } CreatePath="on" RateLimit.Interval="0")`,
    );
  }
  if (o.tcpPort !== undefined) {
    lines.push(
      `module(load="imtcp")`,
      `input(type="imtcp" address="127.0.0.1" port="${o.tcpPort}")`,
    );
  }
  lines.push(`template(name="managed_raw" type="string" string="%rawmsg%\\n")`);
  if (o.file !== undefined) {
    lines.push(
      `action(type="omfile" file=${rsyslogString(o.file)} template="managed_raw"`,
      `       asyncWriting="off" flushOnTXEnd="on")`,
    );
  }
  lines.push(
    `action(type="omfwd" target="127.0.0.1" port="${o.agentPort}" protocol="tcp"`,
    `       TCP_Framing="octet-counted"`,
    `       queue.type="LinkedList" queue.size="10000" queue.timeoutShutdown="5000"`,
    `       action.resumeRetryCount="-1" action.resumeInterval="1")`,
  );
  return lines.join("\n") + "\n";
}

/** The `global()` of a collector or relay: 256 KiB messages, received bytes kept as they are. */
function globals(dir: string): string {
  return `global(
  workDirectory=${rsyslogString(dir)}
  maxMessageSize="256k"
  parser.escapeControlCharactersOnReceive="off"
  net.enableDNS="off"
)`;
}
