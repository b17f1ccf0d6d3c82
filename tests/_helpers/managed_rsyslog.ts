/**
 * rsyslog configs for an rsyslogd that the agent manages (watchdog tests and
 * the recovery benchmark): inputs for senders and canaries, forwarding to the
 * agent, optionally a log file.
 *
 * @module
 */

/** Options for {@link managedRsyslogConf}. */
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
}

/**
 * A complete rsyslog config: the inputs asked for, then, for every message,
 * the file (if any) and forwarding to the agent with a small in-memory action
 * queue that retries forever (the README's recommended forwarding) and is
 * given 5 s to drain on shutdown. Never touches /dev/log or /var/log.
 */
export function managedRsyslogConf(o: ManagedRsyslogConfOptions): string {
  const lines = [
    "# managed rsyslogd written by tests/_helpers/managed_rsyslog.ts",
    `global(workDirectory=${q(o.dir)} net.enableDNS="off" maxMessageSize="64k"`,
    `       parser.escapeControlCharactersOnReceive="off")`,
  ];
  if (o.socket !== undefined) {
    lines.push(
      `module(load="imuxsock" SysSock.Use="off")`,
      `input(type="imuxsock" Socket=${q(o.socket)} CreatePath="on" RateLimit.Interval="0")`,
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
      `action(type="omfile" file=${q(o.file)} template="managed_raw"`,
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

/** A RainerScript string literal. */
function q(value: string): string {
  if (/[\n\r\0]/.test(value)) {
    throw new RangeError(`managedRsyslogConf: line break or NUL in ${JSON.stringify(value)}`);
  }
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}
