/**
 * `deno task bench --only durability`: how far behind the spool's disk the
 * agent is (the durability lag: received, not yet durable) at paced loads,
 * with `spool.mode: "always"` and `sync: "always"` or `"interval"`, on this
 * machine's disk and on a real slow disk (testkit's `slowDisk`: a loop device
 * whose writes are throttled for the processes in its cgroup).
 *
 * Each case is the agent as a real process (TCP input on 127.0.0.1, one
 * rsyslogd imtcp collector draining it), a paced sender of its own
 * (bench/durability_sender.ts) and, every ~50 ms, the agent's status over its
 * control socket plus the records its segment files hold. The lag is read
 * from status `spool.lag` where the agent has it; an agent without it (a
 * release before that field) is measured from the disk: `counters.received`
 * minus the records written to the segment files, each file hard-linked as
 * soon as it appears so that a segment deleted once delivered is still
 * counted. `--agent-main` runs another checkout's agent, `--label` files the
 * results as "before" or "after".
 *
 * @module
 */

import { dirname } from "node:path";
import {
  capture,
  clockTicksPerSecond,
  cpuSeconds,
  freePort,
  isInterrupted,
  RsyslogCollector,
  sleep,
  type SlowDisk,
  slowDisk,
  slowDiskMissing,
  spawnLogged,
  tcpReady,
  waitFor,
} from "../testkit/mod.ts";
import { controlRequest } from "../control/mod.ts";
import { HEADER } from "../spool/mod.ts";
import { type FdatasyncTimes, probeFdatasync } from "./fdatasync_probe.ts";
import { epochMs, type SenderResult, startSender } from "./durability_sender.ts";
import { type Machine, machineInfo } from "./machine_info.ts";

export type { Machine };
import { RUN_FLAGS } from "./relays.ts";

/** Which build of the agent a run measured. */
export type DurabilityLabel = "before" | "after";
/** The labels, in table order. */
export const DURABILITY_LABELS: readonly DurabilityLabel[] = ["before", "after"];

/** The disks: this machine's, and the throttled loop device. */
export const DURABILITY_DISKS = ["local", "slow"] as const;
/** One disk. */
export type DurabilityDisk = typeof DURABILITY_DISKS[number];

/** The `spool.sync` policies measured (`syncIntervalMs` 200 for `interval`). */
export const DURABILITY_SYNCS = ["always", "interval"] as const;
/** One sync policy. */
export type DurabilitySync = typeof DURABILITY_SYNCS[number];

/** A paced load: `rate` messages a second in socket writes of `perWrite` messages. */
export interface DurabilityLoad {
  /** Messages per second. */
  rate: number;
  /** Messages per socket write (1: one message per send()). */
  perWrite: number;
}

/** 1,000 / 4,000 / 20,000 msg/s, each in writes of 1, 20 and 200 messages. */
export const DURABILITY_LOADS: readonly DurabilityLoad[] = [1_000, 4_000, 20_000].flatMap(
  (rate) => [1, 20, 200].map((perWrite) => ({ rate, perWrite })),
);
const QUICK_LOADS: readonly DurabilityLoad[] = [
  { rate: 1_000, perWrite: 1 },
  { rate: 20_000, perWrite: 200 },
];

/** Bytes of each message (not counting the octet-count prefix). */
export const DURABILITY_MESSAGE_BYTES = 240;
/** Bytes of each message's record in a segment file. */
const RECORD_BYTES = DURABILITY_MESSAGE_BYTES + HEADER;
/** `syncIntervalMs` of the interval cases. */
export const SYNC_INTERVAL_MS = 200;
/** Time between two samples of status and disk. */
const SAMPLE_MS = 50;
/** After the load, how long the lag gets to reach zero. */
export const CATCH_UP_MAX_MS = 5_000;
/**
 * A case during which other processes (the machine is shared) kept more than
 * this much of a core busy on average is run again once at the end of its
 * disk's cases, budget permitting; the run with less of them is kept.
 */
export const CONTENDED_CORES = 0.25;
/** The slow disk's size (its cases' spools and hard links live there, one case at a time). */
const SLOW_DISK_MIB = 512;

/** A lag: messages not yet durable and the age of the oldest of them. */
export interface Lag {
  /** Messages. */
  messages: number;
  /** Age of the oldest, ms. */
  ageMs: number;
}

/** What one case measured. */
export interface DurabilityRun {
  /** The sender's own figures (its pace). */
  sender: {
    sent: number;
    achievedPerSec: number;
    /** The furthest a write started behind its due time, ms. */
    maxLagMs: number;
    /** Whether it reached 98% of the offered rate. */
    keptPace: boolean;
    error: string | undefined;
  } | undefined;
  /** Window (after the warm-up, to the sender's last write), seconds. */
  windowSeconds: number | undefined;
  /**
   * Messages the agent received per second in the window: the least-squares
   * slope of `counters.received` over the samples' times (writes of 200 at
   * 1,000/s arrive in steps of 200 every 200 ms: the slope does not depend on
   * where the window cuts a step, a difference of two samples would).
   */
  receivedPerSec: number | undefined;
  /** Worst status `spool.lag` sampled in the window; undefined when status has no lag. */
  worstLag: Lag | undefined;
  /** Status `spool.lag` at the first sample after the sender's last write. */
  endLag: Lag | undefined;
  /** From the end of the load until status `spool.lag` is 0, ms; undefined: not within 5 s. */
  catchUpMs: number | undefined;
  /**
   * The same from the disk: `counters.received` minus the records in the
   * segment files, both lower bounds (see the notes).
   */
  diskWorstLag: Lag | undefined;
  /** The disk lag at the first sample after the sender's last write. */
  diskEndLag: Lag | undefined;
  /** From the end of the load until every received message is in the files, ms. */
  diskCatchUpMs: number | undefined;
  /** Samples in the window. */
  samples: number;
  /** The median time between two samples in the window, ms. */
  sampleIntervalMs: number | undefined;
  /** The agent's CPU seconds in the window (utime + stime of /proc/PID/stat). */
  cpuSeconds: number | undefined;
  /**
   * Cores kept busy by everything but this case's processes (agent, collector,
   * sender, the bench itself) in the window: /proc/stat's busy time minus
   * theirs, over the window; kernel threads working for the case (loop device,
   * journal, loopback softirqs) count here too.
   */
  otherCores: number | undefined;
  /** `counters.received` at the end. */
  received: number | undefined;
  /** Records in the segment files at the end (a walk of the record headers). */
  recordsOnDisk: number | undefined;
  /** Set when the case failed or a figure cannot be trusted. */
  problem: string | undefined;
}

/** One case: a disk, a sync policy, a load, and what it measured. */
export interface DurabilityCase extends DurabilityLoad {
  /** The disk the spool was on. */
  disk: DurabilityDisk;
  /** `spool.sync`. */
  sync: DurabilitySync;
  /** The measurement. */
  run: DurabilityRun;
  /** Runs made (2 when the first was contended and was run again). */
  attempts: number;
}

/** A disk's availability and its fdatasync time. */
export interface DurabilityDiskInfo {
  /** Which disk. */
  disk: DurabilityDisk;
  /** False when it could not be made here (its cases are not run). */
  available: boolean;
  /** Why not. */
  reason: string | undefined;
  /** write(250 B) + fdatasync, measured before the cases. */
  fdatasync: FdatasyncTimes | undefined;
}

/** One label's run: every case on every disk. */
export interface DurabilityLabelRun {
  /** Which build. */
  label: DurabilityLabel;
  /** When and how. */
  meta: {
    date: string;
    command: string;
    /** The agent's main.ts. */
    agentMain: string;
    /** `git rev-parse --short HEAD` of its checkout, with "+ uncommitted changes" when dirty. */
    agentRevision: string;
    quick: boolean;
    warmupMs: number;
    loadMs: number;
    sampleMs: number;
    messageBytes: number;
    syncIntervalMs: number;
    durationSeconds: number;
    /** /proc/loadavg (1-minute figure) before and after. */
    loadAverage: [number, number];
    machine: Machine;
    notes: string[];
  };
  /** The disks. */
  disks: DurabilityDiskInfo[];
  /** Every case, in run order. */
  cases: DurabilityCase[];
}

/** The durability part of bench/results/latest.json: the last run of each label. */
export interface DurabilityResults {
  /** The previous release's agent (`--label before`). */
  before?: DurabilityLabelRun | undefined;
  /** This checkout's agent (`--label after`, the default). */
  after?: DurabilityLabelRun | undefined;
}

/** How the scenario is to run. */
export interface DurabilityOptions {
  /** The label the results are filed under. */
  label: DurabilityLabel;
  /** The agent's main.ts. */
  agentMain: string;
  /** Two loads, 1 s warm-up, 3 s load. */
  quick: boolean;
  /** These loads instead of the full (or quick) list. */
  loads?: DurabilityLoad[] | undefined;
  /** These disks only. */
  disks?: DurabilityDisk[] | undefined;
  /** Cases that would end after this many ms from the start are skipped. */
  budgetMs: number;
  /** A directory for the cases' files (the slow disk's image too). */
  baseDir: string;
  /** The command line, for the report. */
  command: string;
  /** Progress lines. */
  log(line: string): void;
}

async function loadAverage(): Promise<number> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return Number(text.split(" ")[0] ?? NaN);
}

function firstLine(err: unknown): string {
  return err instanceof Error ? err.message.split("\n")[0] ?? "" : String(err);
}

/** The checkout's revision, for the report. */
async function revisionOf(main: string): Promise<string> {
  const dir = dirname(main);
  try {
    const rev = (await capture("git", ["-C", dir, "rev-parse", "--short", "HEAD"])).trim();
    const dirty = (await capture("git", ["-C", dir, "status", "--porcelain"])).trim() !== "";
    return dirty ? `${rev} + uncommitted changes` : rev;
  } catch (err) {
    return `unknown (${firstLine(err)})`;
  }
}

/** Runs every case of one label; never throws for a failed case (it records its problem). */
export async function runDurabilityScenario(opts: DurabilityOptions): Promise<DurabilityLabelRun> {
  const started = Date.now();
  const load0 = await loadAverage();
  const warmupMs = opts.quick ? 1_000 : 2_000;
  const loadMs = opts.quick ? 3_000 : 6_000;
  const loads = opts.loads ?? (opts.quick ? QUICK_LOADS : DURABILITY_LOADS);
  const disks = DURABILITY_DISKS.filter((d) => opts.disks === undefined || opts.disks.includes(d));
  const infos: DurabilityDiskInfo[] = [];
  const cases: DurabilityCase[] = [];
  const notes: string[] = [];
  let skipped = 0;
  let caseNo = 0;
  const caseMs: number[] = [];
  /** What a case takes: the slowest of the last 9 (a slow disk's backlog makes them longer). */
  const caseEstimate = () =>
    caseMs.length === 0 ? warmupMs + loadMs + 5_000 : Math.max(...caseMs.slice(-9));
  for (const disk of disks) {
    if (isInterrupted()) break;
    let slow: SlowDisk | undefined;
    let root = `${opts.baseDir}/durability-${disk}`;
    const info: DurabilityDiskInfo = {
      disk,
      available: true,
      reason: undefined,
      fdatasync: undefined,
    };
    infos.push(info);
    await Deno.mkdir(root, { recursive: true });
    if (disk === "slow") {
      const made = slowDiskMissing() ?? await slowDisk(root, { sizeMiB: SLOW_DISK_MIB });
      if (typeof made === "string") {
        info.available = false;
        info.reason = made;
        opts.log(`durability: slow disk not run: ${made}`);
        continue;
      }
      slow = made;
      root = made.dir;
    }
    try {
      try {
        const t = await probeFdatasync(root, slow === undefined ? {} : { join: slow.join });
        info.fdatasync = t;
        opts.log(
          `durability ${disk}: write(${t.bytes} B) + fdatasync ×${t.count}: median ${
            t.medianMs.toFixed(2)
          } ms, mean ${t.meanMs.toFixed(2)} ms, max ${t.maxMs.toFixed(1)} ms`,
        );
      } catch (err) {
        notes.push(`${disk} disk: the fdatasync probe failed: ${firstLine(err)}`);
      }
      const runOne = async (sync: DurabilitySync, load: DurabilityLoad, again: boolean) => {
        const what =
          `durability ${opts.label} ${disk} sync ${sync} ${load.rate}/s × ${load.perWrite}${
            again ? " (again: contended)" : ""
          }`;
        const t0 = Date.now();
        const n = ++caseNo;
        const run = await runCase({
          ...load,
          sync,
          warmupMs,
          loadMs,
          agentMain: opts.agentMain,
          dir: `${opts.baseDir}/case-${n}`,
          spoolRoot: `${root}/case-${n}`,
          slow,
        }).catch((err): DurabilityRun => failedRun(`run failed: ${firstLine(err)}`));
        caseMs.push(Date.now() - t0);
        opts.log(`${what}: ${summary(run)}`);
        return run;
      };
      const mine: DurabilityCase[] = [];
      for (const sync of DURABILITY_SYNCS) {
        for (const load of loads) {
          if (isInterrupted()) break;
          if (Date.now() - started + caseEstimate() > opts.budgetMs) {
            skipped++;
            continue;
          }
          mine.push({ ...load, disk, sync, run: await runOne(sync, load, false), attempts: 1 });
        }
      }
      // The machine is shared: a case run beside others' work is run once more, as long as the
      // cases of the disks after this one still fit.
      const later = (disks.length - 1 - disks.indexOf(disk)) * loads.length *
        DURABILITY_SYNCS.length;
      for (const c of mine) {
        if (!(c.run.otherCores !== undefined && c.run.otherCores > CONTENDED_CORES)) continue;
        if (isInterrupted()) break;
        if (Date.now() - started + caseEstimate() * (1 + later) > opts.budgetMs) break;
        const again = await runOne(c.sync, c, true);
        c.attempts = 2;
        if (
          again.problem === undefined && again.otherCores !== undefined &&
          again.otherCores < c.run.otherCores!
        ) c.run = again;
      }
      cases.push(...mine);
    } finally {
      await slow?.remove();
      await Deno.remove(`${opts.baseDir}/durability-${disk}`, { recursive: true }).catch(() => {});
    }
  }
  if (skipped > 0) {
    notes.unshift(
      `${skipped} case(s) skipped: the scenario's time budget (${
        Math.round(opts.budgetMs / 1000)
      } s) ran out.`,
    );
  }
  return {
    label: opts.label,
    meta: {
      date: new Date().toISOString(),
      command: opts.command,
      agentMain: opts.agentMain,
      agentRevision: await revisionOf(opts.agentMain),
      quick: opts.quick,
      warmupMs,
      loadMs,
      sampleMs: SAMPLE_MS,
      messageBytes: DURABILITY_MESSAGE_BYTES,
      syncIntervalMs: SYNC_INTERVAL_MS,
      durationSeconds: (Date.now() - started) / 1000,
      loadAverage: [load0, await loadAverage()],
      machine: await machineInfo("not used by this scenario"),
      notes,
    },
    disks: infos,
    cases,
  };
}

function summary(r: DurabilityRun): string {
  const lag = (l: Lag | undefined) =>
    l === undefined ? "—" : `${l.ageMs.toFixed(0)} ms/${l.messages} msgs`;
  return `received ${r.receivedPerSec?.toFixed(0) ?? "—"}/s (sender ${
    r.sender?.keptPace ? "on pace" : "behind"
  }), worst lag ${lag(r.worstLag)} (disk ${lag(r.diskWorstLag)}), end ${lag(r.endLag)} (disk ${
    lag(r.diskEndLag)
  }), CPU ${r.cpuSeconds?.toFixed(2) ?? "—"} s, others ${r.otherCores?.toFixed(2) ?? "—"} cores${
    r.problem ? ` (${r.problem})` : ""
  }`;
}

function failedRun(problem: string): DurabilityRun {
  return {
    sender: undefined,
    windowSeconds: undefined,
    receivedPerSec: undefined,
    worstLag: undefined,
    endLag: undefined,
    catchUpMs: undefined,
    diskWorstLag: undefined,
    diskEndLag: undefined,
    diskCatchUpMs: undefined,
    samples: 0,
    sampleIntervalMs: undefined,
    cpuSeconds: undefined,
    otherCores: undefined,
    received: undefined,
    recordsOnDisk: undefined,
    problem,
  };
}

/**
 * The records written to a spool's segment files so far, deletions included:
 * every segment file is hard-linked into `linkDir` (same file system) when it
 * is first seen, so a segment the agent deletes once it is delivered keeps
 * its inode, and its size, for the count. All messages have one size, so
 * records = bytes / record size.
 */
class WrittenRecords {
  #spoolDir: string;
  #linkDir: string;
  #linked = new Set<string>();

  constructor(spoolDir: string, linkDir: string) {
    this.#spoolDir = spoolDir;
    this.#linkDir = linkDir;
  }

  /** Segment files seen so far, by name. */
  get names(): string[] {
    return [...this.#linked].sort();
  }

  /** Records written so far (bytes of every segment seen / the record size). */
  async count(): Promise<number> {
    try {
      for await (const e of Deno.readDir(this.#spoolDir)) {
        if (!e.name.endsWith(".seg") || this.#linked.has(e.name)) continue;
        try {
          await Deno.link(`${this.#spoolDir}/${e.name}`, `${this.#linkDir}/${e.name}`);
          this.#linked.add(e.name);
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err; // no spool dir yet
    }
    let bytes = 0;
    for (const name of this.#linked) bytes += (await Deno.stat(`${this.#linkDir}/${name}`)).size;
    return Math.floor(bytes / RECORD_BYTES);
  }

  /**
   * Walks the record headers of every file seen: the records, and whether
   * each holds a message of the one size (so that bytes / size counted them).
   */
  async walk(): Promise<{ records: number; odd: number }> {
    let records = 0;
    let odd = 0;
    for (const name of this.names) {
      const data = await Deno.readFile(`${this.#linkDir}/${name}`);
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      let at = 0;
      while (at + HEADER <= data.length) {
        const len = view.getUint32(at + 4, true);
        if (at + HEADER + len > data.length) break;
        if (len !== DURABILITY_MESSAGE_BYTES) odd++;
        records++;
        at += HEADER + len;
      }
    }
    return { records, odd };
  }

  /** Segment ids seen that are not one after the other (a segment never seen). */
  gaps(): number {
    const ids = this.names.map((n) => Number(n.slice(0, -4))).sort((a, b) => a - b);
    let gaps = 0;
    for (let i = 1; i < ids.length; i++) if (ids[i]! !== ids[i - 1]! + 1) gaps++;
    return gaps;
  }
}

/** One sample: status (counter read before `t`) and the records written after it. */
interface Sample {
  /** When status answered (epoch ms). */
  t: number;
  /** `counters.received`. */
  received: number;
  /** Status `spool.lag`, when the agent has it. */
  lag: Lag | undefined;
  /** Records in the segment files, counted after status answered. */
  written: number;
}

/** CPU seconds used by the whole machine and by the case's processes, at `at` (ms). */
interface Busy {
  at: number;
  all: number;
  ours: number;
}

/** CPU seconds the whole machine has been busy (/proc/stat: all but idle and iowait). */
async function busySeconds(): Promise<number> {
  const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0] ?? "";
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is inside user)
  const busyTicks = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) +
    (f[7] ?? 0);
  return busyTicks / await clockTicksPerSecond();
}

interface CaseSpec extends DurabilityLoad {
  sync: DurabilitySync;
  warmupMs: number;
  loadMs: number;
  agentMain: string;
  /** The case's directory on this machine's disk (config, logs, control socket, collector). */
  dir: string;
  /** Where its spool and the hard links go (on the disk under test). */
  spoolRoot: string;
  slow: SlowDisk | undefined;
}

interface LooseStatus {
  counters?: { received?: number };
  spool?: { lag?: { messages: number; ageSeconds: number } };
}

async function runCase(c: CaseSpec): Promise<DurabilityRun> {
  await Deno.mkdir(c.dir, { recursive: true });
  await Deno.mkdir(`${c.spoolRoot}/links`, { recursive: true });
  const spoolDir = `${c.spoolRoot}/spool`;
  const socket = `${c.dir}/agent.sock`;
  const collector = await RsyslogCollector.start(`${c.dir}/collector`);
  let agent: ReturnType<typeof spawnLogged> | undefined;
  try {
    const port = await freePort();
    const config = {
      inputs: [{ type: "tcp", address: `127.0.0.1:${port}` }],
      collectors: [{ address: `127.0.0.1:${collector.port}` }],
      spool: { dir: spoolDir, mode: "always", sync: c.sync, syncIntervalMs: SYNC_INTERVAL_MS },
      control: { socket, metrics: "" },
    };
    const configPath = `${c.dir}/agent.json`;
    await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2) + "\n");
    const child = spawnLogged({
      cmd: Deno.execPath(),
      args: ["run", ...RUN_FLAGS, c.agentMain, "run", "--config", configPath],
      logPath: `${c.dir}/agent.log`,
    });
    agent = child;
    await c.slow?.join(child.pid);
    await waitFor(
      async () => {
        if (child.exited()) throw new Error(`the agent exited: ${await child.logTail(400)}`);
        return await tcpReady(port, child.pid);
      },
      { timeoutMs: 20_000, what: `the agent to listen on 127.0.0.1:${port}`, intervalMs: 25 },
    );
    const written = new WrittenRecords(spoolDir, `${c.spoolRoot}/links`);

    const samples: Sample[] = [];
    let firstAt: number | undefined;
    let cpu0: number | undefined;
    let senderPid: number | undefined;
    let busy0: Busy | undefined;
    let busy1: Busy | undefined;
    const busy = async (): Promise<Busy | undefined> => {
      const pids = [child.pid, collector.pid, senderPid, Deno.pid];
      const ours = await Promise.all(pids.map((p) => p === undefined ? undefined : cpuSeconds(p)));
      if (ours.some((v) => v === undefined)) return undefined;
      return {
        at: performance.now(),
        all: await busySeconds(),
        ours: ours.reduce<number>((a, v) => a + v!, 0),
      };
    };
    let sampling = true;
    const sampleOnce = async (): Promise<Sample> => {
      const st = await controlRequest(
        socket,
        { command: "status" },
        5_000,
      ) as unknown as LooseStatus;
      const t = epochMs();
      const lag = st.spool?.lag;
      const s: Sample = {
        t,
        received: st.counters?.received ?? NaN,
        lag: lag === undefined
          ? undefined
          : { messages: lag.messages, ageMs: lag.ageSeconds * 1000 },
        written: await written.count(),
      };
      samples.push(s);
      return s;
    };
    const sampler = (async () => {
      while (sampling) {
        const t0 = performance.now();
        const s = await sampleOnce();
        if (firstAt === undefined && s.received > 0) firstAt = s.t;
        if (cpu0 === undefined && firstAt !== undefined && s.t >= firstAt + c.warmupMs) {
          cpu0 = await cpuSeconds(child.pid);
          busy0 = await busy();
        }
        // (taken while the sender still runs: its CPU cannot be read once it has exited)
        const end = (firstAt ?? Infinity) + c.warmupMs + c.loadMs - 300;
        if (busy0 !== undefined && busy1 === undefined && s.t >= end) busy1 = await busy();
        const ahead = SAMPLE_MS - (performance.now() - t0);
        if (ahead > 0) await sleep(ahead);
      }
    })();

    let sent: SenderResult;
    try {
      const sender = startSender({
        port,
        rate: c.rate,
        perWrite: c.perWrite,
        count: Math.round(c.rate * (c.warmupMs + c.loadMs) / 1000),
        size: DURABILITY_MESSAGE_BYTES,
        maxMs: c.warmupMs + c.loadMs,
      });
      senderPid = sender.pid;
      sent = await sender.result;
    } catch (err) {
      sampling = false;
      await sampler.catch(() => {});
      throw err;
    }
    const cpu1 = await cpuSeconds(child.pid);
    const endT = sent.finishedAtMs;
    // After the load: until the lag is gone (both measures), or 10 s.
    const caughtUp = (s: Sample) =>
      (s.lag === undefined || s.lag.messages === 0) && s.written >= s.received;
    await waitFor(() => {
      const s = samples[samples.length - 1];
      return s !== undefined && s.t > endT && caughtUp(s);
    }, { timeoutMs: CATCH_UP_MAX_MS, what: "the lag to reach 0", intervalMs: SAMPLE_MS })
      .catch(() => {});
    sampling = false;
    await sampler;
    const last = await sampleOnce();
    const walk = await written.walk();
    const problems: string[] = [];
    if (sent.error !== undefined) problems.push(`sender: ${sent.error}`);
    if (walk.odd > 0) problems.push(`${walk.odd} record(s) not of ${DURABILITY_MESSAGE_BYTES} B`);
    if (written.gaps() > 0) problems.push(`${written.gaps()} segment(s) deleted before seen`);
    // Not caught up in time is a figure (the end lag), not a problem; once caught up, the
    // header walk must find exactly what was received.
    if (last.written >= last.received && walk.records !== last.received) {
      problems.push(
        `at the end ${last.received} received, ${walk.records} records in the files (${last.written} by size)`,
      );
    }
    return {
      ...figures(samples, {
        windowStart: (firstAt ?? sent.startedAtMs) + c.warmupMs,
        windowEnd: endT,
      }),
      sender: {
        sent: sent.sent,
        achievedPerSec: sent.achievedPerSec,
        maxLagMs: sent.maxLagMs,
        keptPace: sent.error === undefined && sent.achievedPerSec >= 0.98 * c.rate,
        error: sent.error,
      },
      cpuSeconds: cpu0 === undefined || cpu1 === undefined ? undefined : cpu1 - cpu0,
      otherCores: busy0 === undefined || busy1 === undefined || busy1.at <= busy0.at
        ? undefined
        : Math.max(0, busy1.all - busy0.all - (busy1.ours - busy0.ours)) /
          ((busy1.at - busy0.at) / 1000),
      received: last.received,
      recordsOnDisk: walk.records,
      problem: problems.length > 0 ? problems.join("; ") : undefined,
    };
  } finally {
    await agent?.stop(3_000).catch(() => {});
    await collector.stop().catch(() => {});
    await Deno.remove(c.spoolRoot, { recursive: true }).catch(() => {});
    await Deno.remove(c.dir, { recursive: true }).catch(() => {});
  }
}

/** The disk lag of sample `j`: received minus written, and a lower bound of its age. */
function diskLag(samples: Sample[], j: number): Lag {
  const s = samples[j]!;
  const messages = Math.max(0, s.received - s.written);
  if (messages === 0) return { messages, ageMs: 0 };
  // Message number `written` (0-based) is not in the files yet; it had been received when
  // the first sample counting more than `written` was answered, so it has waited at least
  // from then until this sample.
  let i = j;
  while (i > 0 && samples[i - 1]!.received > s.written) i--;
  return { messages, ageMs: s.t - samples[i]!.t };
}

function worst(lags: Lag[]): Lag | undefined {
  if (lags.length === 0) return undefined;
  return {
    messages: Math.max(...lags.map((l) => l.messages)),
    ageMs: Math.max(...lags.map((l) => l.ageMs)),
  };
}

/** The least-squares slope of `received` over `t`, per second. */
function slopePerSec(samples: Sample[]): number | undefined {
  if (samples.length < 2) return undefined;
  const n = samples.length;
  const tm = samples.reduce((a, s) => a + s.t, 0) / n;
  const rm = samples.reduce((a, s) => a + s.received, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - tm) * (s.received - rm);
    den += (s.t - tm) ** 2;
  }
  return den === 0 ? undefined : num / den * 1000;
}

function median(xs: number[]): number | undefined {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The figures of a case from its samples (windowStart/End: epoch ms). */
function figures(
  samples: Sample[],
  w: { windowStart: number; windowEnd: number },
): Pick<
  DurabilityRun,
  | "windowSeconds"
  | "receivedPerSec"
  | "worstLag"
  | "endLag"
  | "catchUpMs"
  | "diskWorstLag"
  | "diskEndLag"
  | "diskCatchUpMs"
  | "samples"
  | "sampleIntervalMs"
> {
  const inWindow = samples.map((s, j) => ({ s, j }))
    .filter(({ s }) => s.t >= w.windowStart && s.t <= w.windowEnd);
  const first = inWindow[0]?.s;
  const lastIn = inWindow[inWindow.length - 1]?.s;
  const endJ = samples.findIndex((s) => s.t > w.windowEnd);
  const end = endJ >= 0 ? samples[endJ] : undefined;
  const windowSeconds = first && lastIn && lastIn.t > first.t
    ? (lastIn.t - first.t) / 1000
    : undefined;
  const statusLags = inWindow.map(({ s }) => s.lag).filter((l): l is Lag => l !== undefined);
  const hasLag = samples.some((s) => s.lag !== undefined);
  const after = endJ >= 0 ? samples.slice(endJ) : [];
  const zeroAt = (pred: (s: Sample, j: number) => boolean) => {
    const k = after.findIndex((s, i) => pred(s, endJ + i));
    return k < 0 ? undefined : Math.max(0, after[k]!.t - w.windowEnd);
  };
  const intervals = inWindow.slice(1).map(({ s }, i) => s.t - inWindow[i]!.s.t);
  return {
    windowSeconds,
    receivedPerSec: windowSeconds === undefined
      ? undefined
      : slopePerSec(inWindow.map(({ s }) => s)),
    worstLag: hasLag ? worst(statusLags) : undefined,
    endLag: end?.lag,
    catchUpMs: hasLag ? zeroAt((s) => s.lag?.messages === 0) : undefined,
    diskWorstLag: worst(inWindow.map(({ j }) => diskLag(samples, j))),
    diskEndLag: endJ >= 0 ? diskLag(samples, endJ) : undefined,
    diskCatchUpMs: zeroAt((s) => s.written >= s.received),
    samples: inWindow.length,
    sampleIntervalMs: median(intervals),
  };
}
