/**
 * The relays under test behind one interface: started with an input port and
 * a collector port, they expose a pid (for CPU and memory) and a spool dir
 * (for disk bytes). rsyslogd and syslog-ng are the peers; the agent is one
 * more relay kind.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import {
  deferCleanup,
  rsyslogString,
  sleep,
  spawnLogged,
  startRsyslogd,
  tcpReady,
} from "../testkit/mod.ts";
import type { SyslogNgInstall } from "./syslog_ng.ts";
import { COMPILE_FLAGS } from "../packaging/compile.ts";

/** The release binary's runtime flags, for `deno run` (remote and npm imports do not apply). */
export const RUN_FLAGS = COMPILE_FLAGS.filter((f) => f !== "--no-remote" && f !== "--no-npm");
import { controlRequest, type Status } from "../control/mod.ts";

/** Every relay kind the bench knows. */
export const RELAY_KINDS = [
  "direct",
  "rsyslogd",
  "rsyslogd-noqueue",
  "syslog-ng",
  "agent-fallback",
  "agent-always",
] as const;

/** One relay kind. */
export type RelayKind = typeof RELAY_KINDS[number];

/** Human labels for the report. */
export const RELAY_LABELS: Record<RelayKind, string> = {
  "direct": "none (sender → collector)",
  "rsyslogd": "rsyslogd, disk-assisted queue",
  "rsyslogd-noqueue": "rsyslogd, no action queue (incident config)",
  "syslog-ng": "syslog-ng, disk-buffer",
  "agent-fallback": "agent, spool fallback",
  "agent-always": "agent, spool always",
};

/** A started relay. */
export interface Relay {
  /** Which kind it is. */
  readonly kind: RelayKind;
  /** Where senders connect (127.0.0.1). */
  readonly inputPort: number;
  /** The process to measure; undefined for `direct`. */
  readonly pid: number | undefined;
  /** Directory holding its queue/spool files; undefined when it has none. */
  readonly spoolDir: string | undefined;
  /** The agent's control socket (agent kinds only). */
  readonly controlSocket: string | undefined;
  /** Whether the process has exited (it should not during a run). */
  exited(): boolean;
  /** Stops it (SIGTERM, grace, SIGKILL). */
  stop(): Promise<void>;
}

/** Thrown when a relay cannot be started here; the reason goes into the report. */
export class RelayUnavailable extends Error {
  /** @param reason why the relay is not available */
  constructor(reason: string) {
    super(reason);
    this.name = "RelayUnavailable";
  }
}

/** Where and how to start a relay. */
export interface RelayStart {
  /** Port the relay must listen on (127.0.0.1). */
  inputPort: number;
  /** Collector port it forwards to (127.0.0.1); may have no listener. */
  collectorPort: number;
  /** A fresh directory for its config, logs and spool. */
  dir: string;
}

/** What relay starts need from the environment. */
export interface RelayDeps {
  /** The unpacked syslog-ng, when available. */
  syslogNg: SyslogNgInstall | undefined;
  /** Why syslog-ng is not available (when it is not). */
  syslogNgReason: string | undefined;
  /** The agent's entry point. */
  agentMain: string;
}

/** The repository's main.ts. */
export const AGENT_MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

/** Starts a relay of `kind`; throws {@link RelayUnavailable} when it cannot run here. */
export async function startRelay(kind: RelayKind, at: RelayStart, deps: RelayDeps): Promise<Relay> {
  switch (kind) {
    case "direct":
      return {
        kind,
        inputPort: at.collectorPort,
        pid: undefined,
        spoolDir: undefined,
        controlSocket: undefined,
        exited: () => false,
        stop: () => Promise.resolve(),
      };
    case "rsyslogd":
    case "rsyslogd-noqueue":
      return await startRsyslogRelay(kind, at);
    case "syslog-ng":
      return await startSyslogNgRelay(at, deps);
    case "agent-fallback":
    case "agent-always":
      return await startAgentRelay(kind, at, deps);
  }
}

/**
 * rsyslogd as a relay: imtcp → omfwd over TCP with octet-counted framing,
 * forwarding the received message unchanged (`%rawmsg%`). With `queue` the
 * action has the tuned disk-assisted LinkedList queue (100k messages in
 * memory, to disk above 80k); without it, it is the incident configuration
 * (retry forever, no action queue).
 */
export function rsyslogRelayConf(
  opts: { inputPort: number; collectorPort: number; workDir: string; queue: boolean },
): string {
  // rsyslogd 8.2302 with the default action queue (size 1000, high watermark
  // 900) never switched to disk here while the collector was down: the queue
  // filled, discarded messages and stalled the sender. Explicit size and
  // watermarks make the disk-assisted mode engage.
  const queue = opts.queue
    ? `\n    queue.type="LinkedList" queue.filename="relay_q" queue.saveOnShutdown="on"
    queue.size="100000" queue.highWatermark="80000" queue.lowWatermark="20000"
    queue.maxDiskSpace="4g"`
    : "";
  return `# relay written by bench/relays.ts
global(workDirectory=${rsyslogString(opts.workDir)} maxMessageSize="64k" net.enableDNS="off"
       parser.escapeControlCharactersOnReceive="off")
module(load="imtcp" maxSessions="1000")
template(name="relay_raw" type="string" string="%rawmsg%")
ruleset(name="relay") {
  action(type="omfwd" target="127.0.0.1" port="${opts.collectorPort}" protocol="tcp"
    TCP_Framing="octet-counted" template="relay_raw"${queue}
    action.resumeRetryCount="-1")
}
input(type="imtcp" address="127.0.0.1" port="${opts.inputPort}" ruleset="relay")
`;
}

async function startRsyslogRelay(kind: RelayKind, at: RelayStart): Promise<Relay> {
  const spoolDir = `${at.dir}/spool`;
  await Deno.mkdir(spoolDir, { recursive: true });
  const proc = await startRsyslogd({
    conf: rsyslogRelayConf({
      inputPort: at.inputPort,
      collectorPort: at.collectorPort,
      workDir: spoolDir,
      queue: kind === "rsyslogd",
    }),
    dir: at.dir,
    readyPort: at.inputPort,
    name: "relay",
  });
  const unregister = deferCleanup(() => proc.stop());
  let done = false;
  proc.status.then(() => {
    done = true;
  });
  return {
    kind,
    inputPort: at.inputPort,
    pid: proc.pid,
    spoolDir,
    controlSocket: undefined,
    exited: () => done,
    stop: async () => {
      unregister();
      await proc.stop();
    },
  };
}

/**
 * syslog-ng as a relay: `syslog()` source (RFC 6587 octet counting, parsing
 * off so the message passes unchanged) → `network()` destination with a
 * non-reliable disk-buffer. The destination writes `$MSG\n` (LF framing):
 * syslog-ng's octet-counted `syslog()` destination always prepends its own
 * RFC 5424 header.
 */
export function syslogNgRelayConf(
  opts: { inputPort: number; collectorPort: number; spoolDir: string },
): string {
  return `@version: 3.38
# relay written by bench/relays.ts
options { stats-freq(0); log-msg-size(65536); time-reopen(1); use-dns(no); dns-cache(no);
          keep-hostname(yes); chain-hostnames(no); };
source s_in { syslog(ip("127.0.0.1") port(${opts.inputPort}) transport("tcp") flags(no-parse)
                     max-connections(100) log-iw-size(10000)); };
destination d_out { network("127.0.0.1" port(${opts.collectorPort}) transport("tcp")
                    template("$MSG\\n")
                    disk-buffer(reliable(no) dir("${opts.spoolDir}")
                                disk-buf-size(4294967296) mem-buf-length(10000))); };
log { source(s_in); destination(d_out); };
`;
}

async function startSyslogNgRelay(at: RelayStart, deps: RelayDeps): Promise<Relay> {
  const install = deps.syslogNg;
  if (install === undefined) {
    throw new RelayUnavailable(`syslog-ng not available: ${deps.syslogNgReason ?? "unknown"}`);
  }
  const spoolDir = `${at.dir}/spool`;
  await Deno.mkdir(spoolDir, { recursive: true });
  const confPath = `${at.dir}/syslog-ng.conf`;
  await Deno.writeTextFile(
    confPath,
    syslogNgRelayConf({
      inputPort: at.inputPort,
      collectorPort: at.collectorPort,
      spoolDir,
    }),
  );
  const child = spawnLogged({
    cmd: install.syslogNg,
    args: [
      "-F",
      "--no-caps",
      "-e",
      "-f",
      confPath,
      "-R",
      `${at.dir}/syslog-ng.persist`,
      "-c",
      `${at.dir}/syslog-ng.ctl`,
      "-p",
      `${at.dir}/syslog-ng.pid`,
    ],
    logPath: `${at.dir}/syslog-ng.log`,
    env: install.env,
  });
  await waitListening("syslog-ng", child, at.inputPort, 10_000);
  return {
    kind: "syslog-ng",
    inputPort: at.inputPort,
    pid: child.pid,
    spoolDir,
    controlSocket: undefined,
    exited: child.exited,
    stop: async () => {
      await child.stop();
    },
  };
}

/** The agent's config for a bench run. */
export function agentConfig(
  opts: { inputPort: number; collectorPort: number; dir: string; mode: "fallback" | "always" },
): Record<string, unknown> {
  return {
    inputs: [{ type: "tcp", address: `127.0.0.1:${opts.inputPort}` }],
    collectors: [{ address: `127.0.0.1:${opts.collectorPort}` }],
    spool: { dir: `${opts.dir}/spool`, mode: opts.mode },
    control: { socket: `${opts.dir}/agent.sock`, metrics: "" },
  };
}

async function startAgentRelay(
  kind: "agent-fallback" | "agent-always",
  at: RelayStart,
  deps: RelayDeps,
): Promise<Relay> {
  const config = agentConfig({
    inputPort: at.inputPort,
    collectorPort: at.collectorPort,
    dir: at.dir,
    mode: kind === "agent-always" ? "always" : "fallback",
  });
  await Deno.mkdir(at.dir, { recursive: true });
  const configPath = `${at.dir}/agent.json`;
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2) + "\n");
  const child = spawnLogged({
    cmd: Deno.execPath(),
    args: ["run", ...RUN_FLAGS, deps.agentMain, "run", "--config", configPath],
    logPath: `${at.dir}/agent.log`,
  });
  await waitListening("agent", child, at.inputPort, 20_000);
  return {
    kind,
    inputPort: at.inputPort,
    pid: child.pid,
    spoolDir: `${at.dir}/spool`,
    controlSocket: `${at.dir}/agent.sock`,
    exited: child.exited,
    stop: async () => {
      await child.stop(15_000);
    },
  };
}

/** Waits until `child` listens on `port`; otherwise kills it and throws {@link RelayUnavailable}. */
async function waitListening(
  what: string,
  child: ReturnType<typeof spawnLogged>,
  port: number,
  timeoutMs: number,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && !child.exited()) {
    if (await tcpReady(port, child.pid)) return;
    await sleep(25);
  }
  const why = child.exited()
    ? `exited with code ${(await child.status).code}`
    : `did not listen on 127.0.0.1:${port} within ${timeoutMs / 1000} s`;
  await child.stop(2_000);
  const log = (await child.logTail(600)).split("\n").slice(-4).join(" | ");
  throw new RelayUnavailable(`${what} ${why}${log ? `: ${log}` : ""}`);
}

/** The parts of the agent's status the bench reads. */
export interface AgentStatus {
  /** spool.messages */
  spoolMessages: number;
  /** spool.bytes */
  spoolBytes: number;
  /** counters.received */
  received: number;
  /** counters.forwarded */
  forwarded: number;
  /** counters.dropped */
  dropped: number;
}

/** Asks the agent for `status` over its control socket (control/control_client.ts). */
export async function agentStatus(socketPath: string, timeoutMs = 2_000): Promise<AgentStatus> {
  const r = await controlRequest(socketPath, { command: "status" }, timeoutMs) as Status;
  return {
    spoolMessages: r.spool.messages,
    spoolBytes: r.spool.bytes,
    received: r.counters.received,
    forwarded: r.counters.forwarded,
    dropped: r.counters.dropped,
  };
}
