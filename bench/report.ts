/**
 * Results of a bench run: the JSON kept in bench/results/latest.json and the
 * Markdown of BENCHMARKS.md, with medians and min–max spread over rounds and
 * agent/peer ratios as the headline.
 *
 * @module
 */

import { capture } from "./child.ts";
import { RELAY_LABELS, type RelayKind } from "./relays.ts";
import type { LoadGen, OutageRun, RelayRun } from "./scenarios.ts";

/** Median and spread of one figure over the rounds that produced it. */
export interface Spread {
  /** Median (mean of the middle two for an even count). */
  median: number;
  /** Smallest value. */
  min: number;
  /** Largest value. */
  max: number;
  /** How many rounds gave a value. */
  n: number;
}

/** The machine the numbers come from. */
export interface Machine {
  /** `nproc`. */
  nproc: number;
  /** CPU model from /proc/cpuinfo. */
  cpuModel: string;
  /** `uname -r`. */
  kernel: string;
  /** `rsyslogd -v`, first line. */
  rsyslogd: string;
  /** `syslog-ng --version`, first line, or why it is not available. */
  syslogNg: string;
  /** `Deno.version`. */
  deno: string;
}

/** One relay-scenario configuration and all its rounds. */
export interface RelayEntry {
  /** Relay kind. */
  relay: RelayKind;
  /** Load generator. */
  loadgen: LoadGen;
  /** Sender connections. */
  connections: number;
  /** False when the relay (or generator) could not run here. */
  available: boolean;
  /** Why not available. */
  reason: string | undefined;
  /** Every round. */
  runs: RelayRun[];
}

/** One outage-scenario peer and all its rounds. */
export interface OutageEntry {
  /** Relay kind. */
  relay: RelayKind;
  /** False when it could not run here. */
  available: boolean;
  /** Why not available. */
  reason: string | undefined;
  /** Every round. */
  runs: OutageRun[];
}

/** Everything a bench run produced. */
export interface Results {
  /** When and how the run was made. */
  meta: {
    date: string;
    command: string;
    quick: boolean;
    rounds: number;
    messages: number;
    messageBytes: number;
    outageSendCapSeconds: number;
    durationSeconds: number;
    machine: Machine;
    loggen: string;
    notes: string[];
  };
  /** Relay scenario (collector up). */
  relay: RelayEntry[];
  /** Outage scenario (collector down). */
  outage: OutageEntry[];
}

/** Median and min–max of the defined values; undefined when there are none. */
export function spread(values: (number | undefined)[]): Spread | undefined {
  const xs = values.filter((v): v is number => v !== undefined && Number.isFinite(v))
    .sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  const mid = Math.floor(xs.length / 2);
  const median = xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
  return { median, min: xs[0]!, max: xs[xs.length - 1]!, n: xs.length };
}

/** Facts about this machine and the peers' versions. */
export async function machineInfo(syslogNg: string): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const first = async (cmd: string, args: string[]): Promise<string> => {
    try {
      return (await capture(cmd, args)).split("\n")[0]?.trim() ?? "";
    } catch (err) {
      return `unknown (${err instanceof Error ? err.message.split("\n")[0] : err})`;
    }
  };
  return {
    nproc: Number(await first("nproc", [])),
    cpuModel: model,
    kernel: await first("uname", ["-r"]),
    rsyslogd: (await first("/usr/sbin/rsyslogd", ["-v"])).replace(/\s+compiled with:$/, "")
      .replace(/\s+/g, " "),
    syslogNg,
    deno: Deno.version.deno,
  };
}

/** Writes the JSON and the Markdown. */
export async function writeReports(
  results: Results,
  paths: { json: string; markdown: string },
): Promise<void> {
  await Deno.mkdir(paths.json.slice(0, paths.json.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(paths.json, JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(
    paths.markdown,
    mergeMarkdown(await readOr(paths.markdown), renderMarkdown(results)),
  );
  // the repo's `deno fmt --check` covers Markdown: leave the file as deno fmt would
  await capture(Deno.execPath(), ["fmt", "--quiet", paths.markdown]).catch((err) => {
    console.error(`bench: deno fmt ${paths.markdown}: ${err instanceof Error ? err.message : err}`);
  });
}

/** Markers around the part of BENCHMARKS.md that this bench owns. */
export const BEGIN = "<!-- begin: written by bench/run.ts -->";
/** See {@link BEGIN}. */
export const END = "<!-- end: written by bench/run.ts -->";

/**
 * Puts `block` between the markers in `existing`, keeping everything else
 * (other benchmarks may add their own sections); without markers, the block
 * is appended, or is the whole file when there was none.
 */
export function mergeMarkdown(existing: string, block: string): string {
  const wrapped = `${BEGIN}\n${block.trimEnd()}\n${END}\n`;
  const b = existing.indexOf(BEGIN);
  const e = existing.indexOf(END);
  if (b >= 0 && e > b) return existing.slice(0, b) + wrapped + existing.slice(e + END.length + 1);
  if (existing.trim() === "" || existing.includes("Written by `bench/run.ts`")) return wrapped;
  return existing.trimEnd() + "\n\n" + wrapped;
}

async function readOr(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function fmt(s: Spread | undefined, digits: number, scale = 1): string {
  if (s === undefined) return "—";
  const f = (v: number) => digits === 0 ? int.format(v * scale) : (v * scale).toFixed(digits);
  return s.n > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

function ratio(a: Spread | undefined, b: Spread | undefined): string {
  if (a === undefined || b === undefined || b.median === 0) return "—";
  return `${(a.median / b.median).toFixed(2)}×`;
}

const MIB = 1024 * 1024;

function relayFigures(e: RelayEntry | undefined) {
  const runs = e?.available ? e.runs : [];
  return {
    rate: spread(runs.map((r) => r.msgsPerSec)),
    cpu: spread(runs.map((r) => r.cpuSecPerMillion)),
    rss: spread(runs.map((r) => r.peakRssBytes)),
  };
}

function outageFigures(e: OutageEntry | undefined) {
  const runs = e?.available ? e.runs : [];
  return {
    rate: spread(runs.map((r) => r.acceptPerSec)),
    wait: spread(runs.map((r) => r.maxWriteWaitMs)),
    disk: spread(runs.map((r) => r.diskPerMessageByte)),
    cpu: spread(runs.map((r) => r.cpuSecPerMillion)),
    rss: spread(runs.map((r) => r.peakRssBytes)),
  };
}

function problems(runs: { problem: string | undefined }[]): string {
  const seen = [...new Set(runs.map((r) => r.problem).filter((p) => p !== undefined))];
  return seen.join("; ");
}

const AGENTS: RelayKind[] = ["agent-fallback", "agent-always"];

/** BENCHMARKS.md. */
export function renderMarkdown(r: Results): string {
  const m = r.meta;
  const out: string[] = [];
  const row = (cells: (string | number)[]) => out.push(`| ${cells.join(" | ")} |`);
  const sep = (n: number) => out.push(`|${" --- |".repeat(n)}`);
  const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");

  out.push("# Benchmarks", "");
  out.push(
    "Written by `bench/run.ts` (between its markers: do not edit that part by hand). Rerun with",
    "`deno task bench` (full, about",
    "10–15 minutes) or `deno task bench --quick` (under 2 minutes). Raw figures of every round:",
    "[`bench/results/latest.json`](bench/results/latest.json).",
    "",
  );
  row(["machine", ""]);
  sep(2);
  row(["date", m.date]);
  row(["command", `\`${m.command}\``]);
  row(["nproc", m.machine.nproc]);
  row(["CPU", cell(m.machine.cpuModel)]);
  row(["kernel", m.machine.kernel]);
  row(["rsyslogd", cell(m.machine.rsyslogd)]);
  row(["syslog-ng", cell(m.machine.syslogNg)]);
  row(["deno", m.machine.deno]);
  row([
    "per run",
    `${
      int.format(m.messages)
    } messages of ${m.messageBytes} bytes, ${m.rounds} round(s), medians with (min–max)`,
  ]);
  row(["bench wall time", `${Math.round(m.durationSeconds)} s`]);
  out.push("");

  // headline
  const find = (relay: RelayKind, loadgen: LoadGen, connections: number) =>
    r.relay.find((e) =>
      e.relay === relay && e.loadgen === loadgen && e.connections === connections
    );
  const loads = [...new Set(r.relay.map((e) => `${e.loadgen}/${e.connections}`))];
  out.push("## Headline: agent / peer", "");
  out.push(
    "Throughput ratio > 1: the agent relays faster. CPU ratio < 1: the agent spends less CPU per",
    "message. Relay scenario, collector up; ratios of medians.",
    "",
  );
  row([
    "agent",
    "load",
    "conns",
    "msgs/s vs rsyslogd",
    "vs syslog-ng",
    "CPU/msg vs rsyslogd",
    "vs syslog-ng",
  ]);
  sep(7);
  for (const agent of AGENTS) {
    for (const key of loads) {
      const [loadgen, conns] = key.split("/") as [LoadGen, string];
      const a = find(agent, loadgen, Number(conns));
      if (a === undefined) continue;
      if (!a.available) {
        row([
          RELAY_LABELS[agent],
          loadgen,
          conns,
          `not available: ${cell(a.reason ?? "")}`,
          "",
          "",
          "",
        ]);
        continue;
      }
      const fa = relayFigures(a);
      const fr = relayFigures(find("rsyslogd", loadgen, Number(conns)));
      const fs = relayFigures(find("syslog-ng", loadgen, Number(conns)));
      row([
        RELAY_LABELS[agent],
        loadgen,
        conns,
        ratio(fa.rate, fr.rate),
        ratio(fa.rate, fs.rate),
        ratio(fa.cpu, fr.cpu),
        ratio(fa.cpu, fs.cpu),
      ]);
    }
  }
  out.push("");
  if (r.outage.length > 0) {
    const peer = (k: RelayKind) => outageFigures(r.outage.find((e) => e.relay === k));
    const da = peer("rsyslogd");
    const ng = peer("syslog-ng");
    const inc = peer("rsyslogd-noqueue");
    out.push(
      "Outage (collector down): accept rate ratio > 1 means the agent takes messages faster; the",
      "worst write wait is shown for the agent and, in brackets, rsyslogd DA / syslog-ng / the",
      "incident config; disk ratio < 1 means fewer bytes on disk per message byte.",
      "",
    );
    row([
      "agent",
      "accept rate vs rsyslogd DA",
      "vs syslog-ng",
      "vs incident config",
      "worst write wait ms",
      "disk vs rsyslogd DA",
      "vs syslog-ng",
    ]);
    sep(7);
    const ms = (s: Spread | undefined) => s === undefined ? "—" : s.median.toFixed(1);
    for (const agent of AGENTS) {
      const e = r.outage.find((x) => x.relay === agent);
      if (e === undefined) continue;
      if (!e.available) {
        row([RELAY_LABELS[agent], `not available: ${cell(e.reason ?? "")}`, "", "", "", "", ""]);
        continue;
      }
      const f = outageFigures(e);
      row([
        RELAY_LABELS[agent],
        ratio(f.rate, da.rate),
        ratio(f.rate, ng.rate),
        ratio(f.rate, inc.rate),
        `${ms(f.wait)} (${ms(da.wait)} / ${ms(ng.wait)} / ${ms(inc.wait)})`,
        ratio(f.disk, da.disk),
        ratio(f.disk, ng.disk),
      ]);
    }
    out.push("");
  }

  // relay detail
  if (r.relay.length > 0) {
    out.push("## Relay, collector up", "");
    out.push(
      `${
        int.format(m.messages)
      } messages of ${m.messageBytes} bytes, octet-counted, → relay → rsyslogd`,
      "collector writing each to a file. msgs/s: first byte sent → the file holds every line. CPU: the",
      "relay process's user+system seconds (all threads, /proc/PID/stat) per million messages. RSS:",
      "peak (VmHWM). `none` sends straight to the collector: the ceiling of this setup.",
      "",
    );
    row(["load", "conns", "relay", "msgs/s", "CPU s / 1M msgs", "peak RSS MiB", "notes"]);
    sep(7);
    for (const e of r.relay) {
      const f = relayFigures(e);
      row([
        e.loadgen,
        e.connections,
        RELAY_LABELS[e.relay],
        e.available ? fmt(f.rate, 0) : "not available",
        e.available ? fmt(f.cpu, 2) : "",
        e.available ? fmt(f.rss, 0, 1 / MIB) : "",
        cell(e.available ? problems(e.runs) : e.reason ?? ""),
      ]);
    }
    out.push("");
  }

  // outage detail
  if (r.outage.length > 0) {
    out.push("## Outage, collector down", "");
    out.push(
      `${
        int.format(m.messages)
      } messages of ${m.messageBytes} bytes offered over one TCP connection while`,
      "nothing listens on the collector port. Accept rate: messages/s the sender wrote. Worst wait: the",
      "longest single socket write. Disk: allocated bytes of the relay's queue/spool files once all",
      `was accepted, per byte of message. A sender that stalls is stopped after ${m.outageSendCapSeconds} s.`,
      "",
    );
    row([
      "relay",
      "accepted msgs/s",
      "worst write wait ms",
      "disk bytes / message byte",
      "CPU s / 1M msgs",
      "peak RSS MiB",
      "notes",
    ]);
    sep(7);
    for (const e of r.outage) {
      const f = outageFigures(e);
      row([
        RELAY_LABELS[e.relay],
        e.available ? fmt(f.rate, 0) : "not available",
        e.available ? fmt(f.wait, 1) : "",
        e.available ? fmt(f.disk, 3) : "",
        e.available ? fmt(f.cpu, 2) : "",
        e.available ? fmt(f.rss, 0, 1 / MIB) : "",
        cell(e.available ? problems(e.runs) : e.reason ?? ""),
      ]);
    }
    out.push("");
  }

  out.push("## How it is measured", "");
  for (const note of m.notes) out.push(`- ${note}`);
  out.push("");
  return out.join("\n");
}
