/**
 * BENCHMARKS.md's steady-state section: the figures of every relay at every
 * paced load, the ratios between them and the targets of issues 14 and 24, met or not.
 *
 * @module
 */

import { STEADY_LABELS, type SteadyLoad, type SteadyRelay } from "./steady.ts";
import type { SteadyEntry, SteadyResults } from "./steady_scenario.ts";

/** Markers around the steady section of BENCHMARKS.md (kept apart from the main block). */
export const STEADY_BEGIN = "<!-- begin: steady state, written by bench/run.ts -->";
/** See {@link STEADY_BEGIN}. */
export const STEADY_END = "<!-- end: steady state, written by bench/run.ts -->";

const MIB = 1024 * 1024;

function median(xs: (number | undefined)[]): number | undefined {
  const s = xs.filter((v): v is number => v !== undefined && Number.isFinite(v))
    .sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Medians over the rounds of one entry (undefined when it has no usable run). */
export interface SteadyFigures {
  /** CPU s per million messages. */
  cpuPerMillion: number | undefined;
  /** CPU %. */
  cpuPercent: number | undefined;
  /** Peak RSS, bytes. */
  peakRss: number | undefined;
  /** Steady RSS, bytes. */
  steadyRss: number | undefined;
  /** The sender's achieved rate. */
  achieved: number | undefined;
}

/** The medians of `e`'s rounds; a failed run contributes nothing. */
export function steadyFigures(e: SteadyEntry | undefined): SteadyFigures {
  const runs = e?.available ? e.runs.filter((r) => r.problem === undefined) : [];
  return {
    cpuPerMillion: median(runs.map((r) => r.cpuSecPerMillion)),
    cpuPercent: median(runs.map((r) => r.cpuPercent)),
    peakRss: median(runs.map((r) => r.peakRssBytes)),
    steadyRss: median(runs.map((r) => r.steadyRssBytes)),
    achieved: median(runs.map((r) => r.achievedPerSec)),
  };
}

/** One CPU ratio at one load. */
export interface LoadRatio extends SteadyLoad {
  /** a / b of the CPU s per 1M medians; undefined when either is missing. */
  ratio: number | undefined;
}

/** A steady-state target over every load it covers. */
export interface SteadyTarget {
  /** What is promised. */
  target: string;
  /** The per-load ratios. */
  values: LoadRatio[];
  /** The least favourable value, and where. */
  worst: LoadRatio | undefined;
  /** true: met at every load measured; false: missed at one at least; undefined: not measured. */
  met: boolean | undefined;
  /** Loads at which it was measured and met / measured at all. */
  metAt: [number, number];
}

function entryOf(
  entries: SteadyEntry[],
  relay: SteadyRelay,
  l: SteadyLoad,
): SteadyEntry | undefined {
  return entries.find((e) => e.relay === relay && e.rate === l.rate && e.batch === l.batch);
}

/** CPU-per-message ratio `a / b` at every load. */
export function cpuRatios(
  entries: SteadyEntry[],
  loads: SteadyLoad[],
  a: SteadyRelay,
  b: SteadyRelay,
): LoadRatio[] {
  return loads.map((l) => {
    const x = steadyFigures(entryOf(entries, a, l)).cpuPerMillion;
    const y = steadyFigures(entryOf(entries, b, l)).cpuPerMillion;
    return {
      ...l,
      ratio: x === undefined || y === undefined || y === 0 ? undefined : x / y,
    };
  });
}

function target(name: string, values: LoadRatio[], limit: number): SteadyTarget {
  const measured = values.filter((v) => v.ratio !== undefined);
  const worst = measured.reduce<LoadRatio | undefined>(
    (w, v) => w === undefined || v.ratio! > w.ratio! ? v : w,
    undefined,
  );
  const ok = measured.filter((v) => v.ratio! <= limit).length;
  return {
    target: name,
    values,
    worst,
    met: measured.length === 0 ? undefined : ok === measured.length,
    metAt: [ok, measured.length],
  };
}

/**
 * The steady-state targets: at every load, fallback ≤ 1.0× rsyslogd's CPU
 * (issue 24; issue 14 also asked ≤ 1.5× the minimal Deno relay's) and
 * `always` ≤ 1.25× fallback's; peak RSS at 20,000 msgs/s ≤ 1.3× the minimal
 * Deno relay's at the same load, each agent mode (issue 24).
 *
 * @example
 * ```ts
 * import { steadyTargets } from "./steady_report.ts";
 *
 * const targets = steadyTargets([], [{ rate: 2_000, batch: 20 }]);
 * targets[0]?.met; // undefined: nothing measured
 * ```
 */
export function steadyTargets(entries: SteadyEntry[], loads: SteadyLoad[]): SteadyTarget[] {
  const rss = (relay: SteadyRelay): LoadRatio[] =>
    loads.filter((l) => l.rate === 20_000).map((l) => {
      const v = steadyFigures(entryOf(entries, relay, l)).peakRss;
      const min = steadyFigures(entryOf(entries, "deno-min", l)).peakRss;
      return { ...l, ratio: v === undefined || !min ? undefined : v / min };
    });
  return [
    target(
      "fallback CPU ≤ 1.0× rsyslogd's",
      cpuRatios(entries, loads, "agent-fallback", "rsyslogd"),
      1.0,
    ),
    target(
      "fallback CPU ≤ 1.5× the minimal Deno relay's",
      cpuRatios(entries, loads, "agent-fallback", "deno-min"),
      1.5,
    ),
    target(
      "always CPU ≤ 1.25× fallback's",
      cpuRatios(entries, loads, "agent-always", "agent-fallback"),
      1.25,
    ),
    target(
      "peak RSS ≤ 1.3× the minimal Deno relay's at 20,000 msgs/s (fallback)",
      rss("agent-fallback"),
      1.3,
    ),
    target(
      "peak RSS ≤ 1.3× the minimal Deno relay's at 20,000 msgs/s (always)",
      rss("agent-always"),
      1.3,
    ),
  ];
}

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function loadName(l: SteadyLoad): string {
  return `${int.format(l.rate)}/s × ${l.batch}`;
}

/** The steady-state section of BENCHMARKS.md (without its markers). */
export function renderSteady(s: SteadyResults): string {
  const out: string[] = [];
  const row = (cells: (string | number)[]) => out.push(`| ${cells.join(" | ")} |`);
  const sep = (n: number) => out.push(`|${" --- |".repeat(n)}`);
  const cell = (t: string) => t.replaceAll("|", "\\|").replaceAll("\n", " ");
  const m = s.meta;
  const x = (v: number | undefined) => v === undefined ? "—" : `${v.toFixed(2)}×`;
  const mib = (v: number | undefined) => v === undefined ? "—" : (v / MIB).toFixed(1);

  out.push("## Steady state, paced load", "");
  out.push(
    "Each relay under a paced load of R msgs/s in socket writes of N messages (`R/s × N`), the",
    "rates a host runs at all day, rather than saturated. CPU of the relay process only, over the",
    `measurement window (${m.measureMs / 1000} s after ${
      m.warmupMs / 1000
    } s of warm-up); every message counted at the sink.`,
    `Written by \`${m.command}\` on ${m.date} (${Math.round(m.durationSeconds)} s, ${m.rounds}`,
    `round(s), medians); ${m.machine.nproc} × ${cell(m.machine.cpuModel)}, deno ${m.machine.deno},`,
    `${cell(m.machine.rsyslogd)}, ${cell(m.machine.syslogNg)}.`,
    "",
    `The machine is shared: other engineers' tests ran beside the bench (1-minute load average ${
      m.loadAverage[0].toFixed(2)
    } before, ${
      m.loadAverage[1].toFixed(2)
    } after, on ${m.machine.nproc} cores), so figures carry that noise; the relays of one load`,
    "run back to back (about a minute for all five), so a ratio compares runs under similar noise.",
    "",
  );

  const targets = steadyTargets(s.entries, s.loads);
  out.push("### Targets (issues 14 and 24)", "");
  row(["target", "worst measured", "met at loads", "status"]);
  sep(4);
  for (const t of targets) {
    row([
      t.target,
      t.worst === undefined ? "—" : `${x(t.worst.ratio)} (${loadName(t.worst)})`,
      `${t.metAt[0]} of ${t.metAt[1]}`,
      t.met === undefined ? "not measured" : t.met ? "met" : "not met",
    ]);
  }
  out.push("");

  out.push("### CPU ratios per load", "");
  out.push("Ratios of the CPU s / 1M msgs medians; < 1 means the first spends less.", "");
  const pairs: [SteadyRelay, SteadyRelay, string][] = [
    ["agent-fallback", "rsyslogd", "fallback / rsyslogd (≤ 1.0)"],
    ["agent-fallback", "deno-min", "fallback / minimal Deno (≤ 1.5)"],
    ["agent-always", "agent-fallback", "always / fallback (≤ 1.25)"],
    ["agent-always", "rsyslogd", "always / rsyslogd"],
    ["agent-fallback", "syslog-ng", "fallback / syslog-ng"],
    ["deno-min", "rsyslogd", "minimal Deno / rsyslogd"],
  ];
  row(["load", ...pairs.map(([, , name]) => name)]);
  sep(pairs.length + 1);
  const ratios = pairs.map(([a, b]) => cpuRatios(s.entries, s.loads, a, b));
  s.loads.forEach((l, i) => row([loadName(l), ...ratios.map((r) => x(r[i]?.ratio))]));
  out.push("");

  out.push("### Figures", "");
  out.push(
    "CPU s / 1M msgs: relay CPU seconds (user + system, all threads) per million messages",
    "forwarded in the window. CPU %: 100 = one core. Peak RSS: VmHWM; steady: median VmRSS in",
    "the window. Achieved: the sender's rate.",
    "",
  );
  row([
    "load",
    "relay",
    "CPU s / 1M msgs",
    "CPU %",
    "peak RSS MiB",
    "steady RSS MiB",
    "achieved msgs/s",
    "notes",
  ]);
  sep(8);
  for (const l of s.loads) {
    for (const e of s.entries.filter((e) => e.rate === l.rate && e.batch === l.batch)) {
      const f = steadyFigures(e);
      const notes = e.available
        ? [...new Set(e.runs.flatMap((r) => [r.problem, r.note]).filter((n) => n !== undefined))]
          .join("; ")
        : `not available: ${e.reason ?? ""}`;
      row([
        loadName(l),
        STEADY_LABELS[e.relay],
        f.cpuPerMillion?.toFixed(2) ?? "—",
        f.cpuPercent?.toFixed(2) ?? "—",
        mib(f.peakRss),
        mib(f.steadyRss),
        f.achieved === undefined ? "—" : int.format(f.achieved),
        cell(notes),
      ]);
    }
  }
  out.push("");
  out.push("### How the steady state is measured", "");
  for (const n of m.notes) out.push(`- ${n}`);
  out.push("");
  return out.join("\n");
}
