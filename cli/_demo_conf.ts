/**
 * The files `agent demo` writes into its temp dir: the collector's and the
 * managed rsyslogd's configs, the stand-in that dies on SIGHUP, the agent's
 * config and logrotate's config.
 *
 * @module
 */

import { parseConfig } from "../config/mod.ts";

/** Every path and port of one demo run. */
export interface DemoLayout {
  /** The temp dir everything lives in. */
  dir: string;
  /** The rsyslogd binary. */
  rsyslogd: string;
  /** The collector rsyslogd's TCP port on 127.0.0.1. */
  collectorPort: number;
  /** The agent's TCP input on 127.0.0.1 (rsyslogd forwards there). */
  agentPort: number;
  /** The collector's work dir, config and the file it writes every message to. */
  collectorDir: string;
  collectorConf: string;
  received: string;
  /** The managed rsyslogd: config, its /dev/log-like socket, the file logrotate rotates. */
  rsyslogConf: string;
  socket: string;
  logFile: string;
  /** The stand-in script that runs rsyslogd and dies on SIGHUP. */
  standIn: string;
  /** The agent's config, log, spool and control socket. */
  agentConf: string;
  agentLog: string;
  spool: string;
  controlSocket: string;
  /** logrotate's config and state file. */
  logrotateConf: string;
  logrotateState: string;
}

/** Longest path a unix socket address can hold on Linux (sun_path less its NUL). */
const MAX_SOCKET_PATH = 107;

/** Lays out a demo run in `dir`; throws when its socket paths would be too long. */
export function demoLayout(
  dir: string,
  rsyslogd: string,
  collectorPort: number,
  agentPort: number,
): DemoLayout {
  const longest = new TextEncoder().encode(`${dir}/agent.sock`).length;
  if (longest > MAX_SOCKET_PATH) {
    throw new Error(
      `the temp dir ${dir} is too long for a unix socket path (${longest} bytes, at most ${MAX_SOCKET_PATH}); set TMPDIR to a shorter dir, e.g. TMPDIR=/tmp`,
    );
  }
  return {
    dir,
    rsyslogd,
    collectorPort,
    agentPort,
    collectorDir: `${dir}/collector`,
    collectorConf: `${dir}/collector/rsyslog.conf`,
    received: `${dir}/collector/received.log`,
    rsyslogConf: `${dir}/rsyslog.conf`,
    socket: `${dir}/log.sock`,
    logFile: `${dir}/log/messages.log`,
    standIn: `${dir}/rsyslogd-dies-on-hup`,
    agentConf: `${dir}/agent.json`,
    agentLog: `${dir}/agent.log`,
    spool: `${dir}/spool`,
    controlSocket: `${dir}/agent.sock`,
    logrotateConf: `${dir}/logrotate.conf`,
    logrotateState: `${dir}/logrotate.state`,
  };
}

/**
 * The collector: one imtcp listener that writes every message it receives,
 * as received (`%rawmsg%`), one per line, synchronously flushed.
 */
export function collectorConf(l: DemoLayout): string {
  return `# agent demo: the central collector
global(workDirectory=${q(l.collectorDir)} maxMessageSize="64k" net.enableDNS="off"
       parser.escapeControlCharactersOnReceive="off")
module(load="imtcp")
template(name="demo_raw" type="string" string="%rawmsg%\\n")
ruleset(name="collector") {
  action(type="omfile" file=${q(l.received)} template="demo_raw"
         asyncWriting="off" flushOnTXEnd="on")
}
input(type="imtcp" address="127.0.0.1" port="${l.collectorPort}" ruleset="collector")
`;
}

/**
 * The host's rsyslogd, as the agent's README recommends it: a socket for local
 * programs (imuxsock, as /dev/log), every message to a log file (as
 * /var/log/syslog) and forwarded to the agent over TCP with a small in-memory
 * queue.
 */
export function managedRsyslogConf(l: DemoLayout): string {
  return `# agent demo: the host's rsyslogd, managed by the agent
global(workDirectory=${q(l.dir)} maxMessageSize="64k" net.enableDNS="off"
       parser.escapeControlCharactersOnReceive="off")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket=${q(l.socket)} CreatePath="on" RateLimit.Interval="0")
template(name="demo_raw" type="string" string="%rawmsg%\\n")
action(type="omfile" file=${q(l.logFile)} template="demo_raw" asyncWriting="off" flushOnTXEnd="on")
action(type="omfwd" target="127.0.0.1" port="${l.agentPort}" protocol="tcp"
       TCP_Framing="octet-counted"
       queue.type="LinkedList" queue.size="10000" queue.timeoutShutdown="5000"
       action.resumeRetryCount="-1" action.resumeInterval="1")
`;
}

/**
 * The stand-in for the rsyslogd of the incident (rsyslog 4.6.2, which crashed
 * on the HUP that logrotate sends): the real rsyslogd runs underneath a shell
 * that, on SIGHUP, takes the socket away (senders are refused from then on),
 * gives rsyslogd a moment to take in what was queued, ends it (it forwards
 * what it holds) and exits 1. To the agent, rsyslogd died of the HUP. Run as
 * `sh SCRIPT CONF SOCKET`.
 */
export function standInScript(l: DemoLayout): string {
  return `#!/bin/sh
# agent demo: a stand-in for rsyslogd that dies on SIGHUP, reproducing the
# crash of rsyslog 4.6.2 in the incident. The real rsyslogd runs underneath.
child=
trap 'rm -f "$2"; sleep 0.1; kill -TERM $child; wait $child; exit 1' HUP
trap 'kill -TERM $child; wait $child; exit 0' TERM INT
${shQuote(l.rsyslogd)} -n -iNONE -f "$1" &
child=$!
wait $child
`;
}

/**
 * The agent's config: TCP input, one collector, the spool, rsyslogd in child
 * mode (the stand-in) with a canary probe, and the control socket, all in the
 * demo's dir. Checked with the agent's own parser.
 */
export function agentConfig(l: DemoLayout, group: string): string {
  const json = {
    inputs: [{ type: "tcp", address: `127.0.0.1:${l.agentPort}` }],
    collectors: [{
      address: `127.0.0.1:${l.collectorPort}`,
      connectTimeoutMs: 1000,
      writeTimeoutMs: 2000,
    }],
    spool: { dir: l.spool },
    rsyslogd: {
      mode: "child",
      command: ["/bin/sh", l.standIn, l.rsyslogConf, l.socket],
      probe: { target: `unix://${l.socket}`, intervalMs: 1000, timeoutMs: 500, failures: 3 },
    },
    control: { socket: l.controlSocket, group, metrics: "" },
    log: { level: "info", format: "text" },
  };
  const text = JSON.stringify(json, null, 2) + "\n";
  parseConfig(text, "the demo's agent.json");
  return text;
}

/** logrotate's config for the managed rsyslogd's file; `postrotate` runs `rotate` (argv). */
export function logrotateConf(l: DemoLayout, rotate: string[]): string {
  return `# agent demo: rotation of the managed rsyslogd's file, HUP by the agent
${l.logFile} {
	rotate 2
	missingok
	nocompress
	postrotate
		${rotate.map(shQuote).join(" ")}
	endscript
}
`;
}

/** A RainerScript string literal. */
function q(value: string): string {
  if (/[\n\r\0]/.test(value)) {
    throw new RangeError(`demo: a path holds a line break or NUL: ${JSON.stringify(value)}`);
  }
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** A word for sh, single-quoted. */
export function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
