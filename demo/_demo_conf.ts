/**
 * The files `agent demo` writes into its temp dir, beyond the rsyslog
 * configs of testkit: the stand-in that dies on SIGHUP, the agent's config
 * and logrotate's config.
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
  /** The collector's work dir (config, log) and the file it writes every message to. */
  collectorDir: string;
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

/** A word for sh, single-quoted. */
export function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
