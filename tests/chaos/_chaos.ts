/**
 * Shared parts of the chaos scenarios: an agent (a real process) between a
 * sender and a collector, status helpers, the one summary line each scenario
 * prints, and process hygiene.
 *
 * @module
 */

import {
  type AgentProcess,
  freePort,
  processesUsing,
  rssBytes,
  RsyslogCollector,
  type RsyslogCollectorOptions,
  startAgent,
} from "../../testkit/mod.ts";

/** Real-process tests leave async work behind on purpose (killed processes, sockets). */
export const opts = { sanitizeOps: false, sanitizeResources: false };

/** The agent's message counters (status `counters`). */
export interface Counts {
  received: number;
  forwarded: number;
  dropped: number;
  malformed: number;
  truncated: number;
}

/** The agent's spool figures (status `spool`). */
export interface SpoolCounts {
  messages: number;
  bytes: number;
  oldestAgeSeconds: number;
  dropped: number;
  corrupt: number;
  /** The durability lag: received, not yet durable. */
  lag: { messages: number; bytes: number; ageSeconds: number };
}

/** A collector's state (status `collectors[]`). */
export interface CollectorState {
  address: string;
  state: string;
  lastError: string;
}

/** The parts of the status document the scenarios read. */
export interface StatusDoc {
  state: string;
  reasons: string[];
  agent: { pid: number };
  rsyslogd: { state: string; pid: number; restarts: number; probe: { ok: boolean } };
  collectors: CollectorState[];
  spool: SpoolCounts;
  counters: Counts;
}

/** The agent's status over its control socket. */
export async function status(agent: AgentProcess): Promise<StatusDoc> {
  return await agent.statusJson() as unknown as StatusDoc;
}

/** Prints the scenario's one summary line: `chaos: <scenario>: <text>`. */
export function summary(scenario: string, text: string): void {
  console.log(`chaos: ${scenario}: ${text}`);
}

/** A number with thousands separators. */
export function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Resident memory of a process in MiB (VmRSS); NaN once it is gone. */
export async function rssMiB(pid: number): Promise<number> {
  return (await rssBytes(pid) ?? NaN) / (1024 * 1024);
}

/** One scenario's temp dir, collector and agent. */
export interface Rig {
  dir: string;
  /** The agent's TCP input on 127.0.0.1. */
  port: number;
  collector: RsyslogCollector;
  agent: AgentProcess;
}

/** Options of {@linkcode rig}. */
export interface RigOptions {
  /** Start the collector down (default: up). */
  down?: boolean;
  /** Collector port instead of a real collector (a FakeCollector's). */
  collectorPort?: number;
  /** Extra keys of the collector entry. */
  collector?: Record<string, unknown>;
  /** The collector's rsyslog config (default imtcp; `imrelpCollectorConf` for RELP). */
  collectorConf?: RsyslogCollectorOptions["conf"];
  /** The spool section (its dir defaults to `<dir>/agent/spool`). */
  spool?: Record<string, unknown>;
  /** Extra keys of the TCP input. */
  input?: Record<string, unknown>;
  /** Anything else of the config (rsyslogd, log, …). */
  extra?: Record<string, unknown>;
  /**
   * Called with the dir and the agent's input port before the agent starts
   * (mounts, files); what it returns is merged into the config.
   */
  prepare?: (dir: string, port: number) => Promise<Record<string, unknown> | void>;
}

/**
 * A temp dir, a real rsyslogd collector (or a port of someone else's), and an
 * agent relaying from a TCP input to it. Its config is `<dir>/agent/agent.json`.
 */
export async function rig(name: string, o: RigOptions = {}): Promise<Rig> {
  const dir = await Deno.makeTempDir({ prefix: `chaos-${name}-` });
  const r = { dir } as Rig;
  try {
    const conf = { conf: o.collectorConf };
    r.collector = o.down || o.collectorPort !== undefined
      ? await RsyslogCollector.down(`${dir}/collector`, conf)
      : await RsyslogCollector.start(`${dir}/collector`, conf);
    r.port = await freePort();
    const more = await o.prepare?.(dir, r.port) ?? {};
    r.agent = await startAgent({
      dir: `${dir}/agent`,
      readyPort: r.port,
      config: {
        inputs: [{ type: "tcp", address: `127.0.0.1:${r.port}`, ...o.input }],
        collectors: [{
          address: `127.0.0.1:${o.collectorPort ?? r.collector.port}`,
          connectTimeoutMs: 1000,
          writeTimeoutMs: 1000,
          ...o.collector,
        }],
        spool: { dir: `${dir}/agent/spool`, ...o.spool },
        log: { level: "info" },
        ...o.extra,
        ...more,
      },
    });
    return r;
  } catch (e) {
    await teardown(r);
    throw e;
  }
}

/** Restarts the rig's agent with the same config (after a kill), waiting until it listens. */
export async function restartAgent(r: Rig): Promise<void> {
  r.agent = await startAgent({
    dir: `${r.dir}/agent`,
    readyPort: r.port,
    config: JSON.parse(await Deno.readTextFile(`${r.dir}/agent/agent.json`)),
  });
}

/** Stops everything of the rig, kills whatever still mentions its dir, removes the dir. */
export async function teardown(r: Partial<Rig>, before?: () => Promise<void>): Promise<void> {
  await r.agent?.stop("SIGKILL").catch(() => {});
  await r.collector?.stop().catch(() => {});
  if (r.dir === undefined) return;
  for (const p of await processesUsing(r.dir)) {
    try {
      Deno.kill(p.pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
  await before?.().catch(() => {});
  await Deno.remove(r.dir, { recursive: true }).catch(() => {});
}

export { alive, seededRandom } from "../../testkit/mod.ts";
