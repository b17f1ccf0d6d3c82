/**
 * The fleet simulation's outputs: bench/results/fleet.json (every run, one
 * per collectors entry, e.g. the pool and the failover list), an SVG of each
 * scenario's per-second inflow per collector, and the "Fleet" section of
 * BENCHMARKS.md (between its own markers).
 *
 * @module
 */

import { capture } from "../testkit/mod.ts";
import type { Machine } from "./machine_info.ts";
import type { FleetTiming } from "./fleet_plan.ts";
import type { ScenarioResult } from "./fleet_scenario.ts";
import { mergeMarkdown } from "./report.ts";

export type { Machine };

/** Markers around the fleet section of BENCHMARKS.md. */
export const FLEET_BEGIN = "<!-- begin: fleet, written by bench/fleet.ts -->";
/** See {@link FLEET_BEGIN}. */
export const FLEET_END = "<!-- end: fleet, written by bench/fleet.ts -->";

/** One run of `deno task fleet` with one collectors entry. */
export interface FleetRun {
  /** `pool`, `failover`, `single`, or `--label`. */
  label: string;
  /** How it ran. */
  meta: {
    date: string;
    command: string;
    agents: number;
    rate: number;
    size: number;
    spoolMode: "fallback" | "always";
    /** The agents' `collectors` list. */
    collectors: unknown[];
    timing: FleetTiming;
    durationS: number;
    /** /proc/loadavg (1-minute figure) before and after. */
    loadAverage: [number, number];
    machine: Machine;
  };
  /** The scenarios run, by number. */
  scenarios: ScenarioResult[];
}

/** bench/results/fleet.json. */
export interface FleetResults {
  /** One run per label. */
  runs: FleetRun[];
}

/**
 * `results` with `run` in it: it replaces the run of the same label, except
 * that when that run was made the same way (agents, rate, size, spool mode,
 * collectors, timing), only the scenarios run again are replaced.
 */
export function mergeRun(results: FleetResults, run: FleetRun): FleetResults {
  const old = results.runs.find((r) => r.label === run.label);
  const others = results.runs.filter((r) => r.label !== run.label);
  let merged = run;
  if (old !== undefined && sameSetup(old, run)) {
    const numbers = new Set(run.scenarios.map((s) => s.number));
    merged = {
      ...run,
      scenarios: [...old.scenarios.filter((s) => !numbers.has(s.number)), ...run.scenarios]
        .sort((a, b) => a.number - b.number),
    };
  }
  return { runs: [...others, merged].sort((a, b) => labelOrder(a.label) - labelOrder(b.label)) };
}

function sameSetup(a: FleetRun, b: FleetRun): boolean {
  const key = (r: FleetRun) =>
    JSON.stringify([
      r.meta.agents,
      r.meta.rate,
      r.meta.size,
      r.meta.spoolMode,
      r.meta.collectors,
      r.meta.timing,
    ]);
  return key(a) === key(b);
}

function labelOrder(label: string): number {
  const i = ["pool", "failover", "single"].indexOf(label);
  return i < 0 ? 99 : i;
}

/** Where the outputs go. */
export interface FleetPaths {
  /** bench/results/fleet.json. */
  json: string;
  /** The directory of the SVGs (bench/results). */
  svgDir: string;
  /** How BENCHMARKS.md names that directory (`bench/results`). */
  svgLink: string;
  /** BENCHMARKS.md. */
  markdown: string;
}

/** The SVG file name of one scenario of one run. */
export function svgName(label: string, s: Pick<ScenarioResult, "number" | "key">): string {
  return `fleet-${label}-${s.number}-${s.key}.svg`;
}

/**
 * Merges `run` into the JSON (`run` undefined: the JSON as it is), writes
 * every run's SVGs and the Markdown section (deno fmt'ed).
 */
export async function writeFleetReports(
  run: FleetRun | undefined,
  paths: FleetPaths,
): Promise<FleetResults> {
  let results: FleetResults = { runs: [] };
  try {
    results = JSON.parse(await Deno.readTextFile(paths.json)) as FleetResults;
    if (!Array.isArray(results.runs)) results = { runs: [] };
  } catch {
    // first run
  }
  if (run !== undefined) {
    results = mergeRun(results, run);
    await Deno.mkdir(paths.svgDir, { recursive: true });
    await Deno.writeTextFile(paths.json, JSON.stringify(results, null, 1) + "\n");
  }
  for (const r of results.runs) {
    for (const s of r.scenarios) {
      await Deno.writeTextFile(`${paths.svgDir}/${svgName(r.label, s)}`, shareSvg(s, r));
    }
  }
  const existing = await Deno.readTextFile(paths.markdown).catch(() => "");
  const block = renderFleet(results, paths.svgLink);
  await Deno.writeTextFile(
    paths.markdown,
    mergeMarkdown(existing, block, FLEET_BEGIN, FLEET_END),
  );
  await capture(Deno.execPath(), ["fmt", "--quiet", paths.markdown]).catch((err) => {
    console.error(`fleet: deno fmt ${paths.markdown}: ${err instanceof Error ? err.message : err}`);
  });
  return results;
}

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const MIB = 1024 * 1024;

function seconds(v: number | null | undefined): string {
  if (v === undefined) return "—";
  if (v === null) return "never";
  return `${v.toFixed(v < 1 ? 2 : v < 10 ? 1 : 0)} s`;
}

function ratio(v: number | null): string {
  return v === null ? "∞" : v.toFixed(2);
}

function perCollector(xs: number[]): string {
  return xs.map((v) => int.format(v)).join(" / ");
}

function mib(bytes: number): string {
  return bytes >= 1024 * MIB
    ? `${(bytes / 1024 / MIB).toFixed(2)} GiB`
    : `${int.format(bytes / MIB)} MiB`;
}

/** The table rows of one scenario of one run: [label, value]. */
export function scenarioRows(s: ScenarioResult): [string, string][] {
  const rows: [string, string][] = [
    ["messages sent", int.format(s.sent)],
    ["delivered (distinct)", int.format(s.delivered)],
    ["**missing**", `**${int.format(s.missing)}**`],
    ["duplicates", int.format(s.duplicates)],
    [
      `msgs/s per collector c1 / c2 / c3, s ${s.before.from}-${s.before.to}`,
      perCollector(s.before.balance.means),
    ],
    [
      `balance max/min, s ${s.before.from}-${s.before.to} (worst second)`,
      `${ratio(s.before.balance.ratio)} (${ratio(s.before.balance.worstSecond)})`,
    ],
    [
      `connections per collector, s ${s.before.from}-${s.before.to}`,
      s.before.connections.join(" / "),
    ],
  ];
  for (const e of s.events) {
    const value = e.error !== undefined
      ? `failed: ${e.error}`
      : e.live.length === 0
      ? "— (no collector up)"
      : seconds(e.rebalanceS);
    rows.push([`rebalanced, after ${e.what} at ${e.atS} s`, value]);
  }
  for (const p of s.returnPeaks) {
    rows.push([
      `c${p.collector + 1} back: its peak second / fair share`,
      `${int.format(p.peak)}/s (s ${p.atS}) = ${p.ratio.toFixed(2)}×`,
    ]);
  }
  if (s.after !== undefined) {
    rows.push(
      [
        `msgs/s per collector, s ${s.after.from}-${s.after.to}`,
        perCollector(s.after.balance.means),
      ],
      [
        `balance max/min, s ${s.after.from}-${s.after.to} (worst second)`,
        `${ratio(s.after.balance.ratio)} (${ratio(s.after.balance.worstSecond)})`,
      ],
      [
        `connections per collector, s ${s.after.from}-${s.after.to}`,
        s.after.connections.join(" / "),
      ],
    );
  }
  if (s.spoolEmptyAfterRestoreS !== undefined) {
    rows.push(["every spool empty, after the restore", seconds(s.spoolEmptyAfterRestoreS)]);
  }
  rows.push(
    ["most messages spooled at once (fleet)", int.format(s.spooledPeak)],
    ["drain after the load (spools empty, counters still)", seconds(s.drainS)],
    ["sender's longest write wait", `${s.senderMaxWriteWaitMs.toFixed(1)} ms`],
  );
  if (s.problems.length > 0) rows.push(["problems", s.problems.join("; ")]);
  return rows;
}

/** The section between the markers. */
export function renderFleet(results: FleetResults, svgLink: string): string {
  const runs = results.runs;
  const out: string[] = ["## Fleet", ""];
  out.push(
    "Written by `bench/fleet.ts` (`deno task fleet`): a fleet of real agent processes relaying to three real rsyslogd collectors, all inside a private network namespace (`ip netns`) whose hosts file names the collectors. What each run used:",
    "",
    "| run | agents' `collectors` | agents | msgs/s per agent | `spool.mode` | date | took | load average (1 min) before → after |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const r of runs) {
    out.push(
      `| ${r.label} | \`${JSON.stringify(r.meta.collectors)}\` | ${r.meta.agents} | ${
        int.format(r.meta.rate)
      } | ${r.meta.spoolMode} | ${r.meta.date.slice(0, 16).replace("T", " ")} UTC | ${
        (r.meta.durationS / 60).toFixed(1)
      } min | ${r.meta.loadAverage.map((v) => v.toFixed(2)).join(" → ")} |`,
    );
  }
  const first = runs[0];
  if (first !== undefined) {
    const m = first.meta.machine;
    out.push(
      "",
      `Machine: ${m.nproc} × ${m.cpuModel}, Linux ${m.kernel}, ${m.rsyslogd}, Deno ${m.deno}. Commands: ${
        runs.map((r) => `\`${r.meta.command}\``).join(", ")
      }.`,
    );
  }
  const numbers = [...new Set(runs.flatMap((r) => r.scenarios.map((s) => s.number)))].sort();
  for (const n of numbers) {
    const cols = runs.map((r) => ({ r, s: r.scenarios.find((s) => s.number === n) }));
    const title = cols.find((c) => c.s !== undefined)?.s?.title ?? "";
    out.push("", `### ${n}. ${title}`, "");
    const present = cols.filter((c) => c.s !== undefined);
    const rowSets = present.map((c) => scenarioRows(c.s!));
    const labels: string[] = [];
    for (const rows of rowSets) for (const [k] of rows) if (!labels.includes(k)) labels.push(k);
    out.push(
      `| | ${present.map((c) => c.r.label).join(" | ")} |`,
      `| --- | ${present.map(() => "---").join(" | ")} |`,
    );
    for (const k of labels) {
      out.push(
        `| ${k} | ${
          rowSets.map((rows) => cell(rows.find(([x]) => x === k)?.[1] ?? "—")).join(" | ")
        } |`,
      );
    }
    for (const c of present) {
      out.push(
        "",
        `![${c.r.label}: messages per second into each collector, scenario ${n}](${svgLink}/${
          svgName(c.r.label, c.s!)
        })`,
      );
    }
  }
  out.push(
    "",
    "### The fleet's CPU and memory",
    "",
    "| scenario | run | agents' CPU s | % of one core | CPU s per 1M messages | summed RSS, peak | summed RSS, end | peak RSS of one agent, max (mean) | fleet start |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const n of numbers) {
    for (const r of runs) {
      const s = r.scenarios.find((x) => x.number === n);
      if (s === undefined) continue;
      out.push(
        `| ${n}. ${s.key} | ${r.label} | ${s.cpuSeconds.toFixed(1)} | ${
          (s.cpuSeconds / Math.max(1, s.cpuWindowS) * 100).toFixed(0)
        }% over ${s.cpuWindowS.toFixed(0)} s | ${
          (s.cpuSeconds / Math.max(1, s.sent) * 1e6).toFixed(1)
        } | ${mib(s.rssSumPeakBytes)} | ${mib(s.rssSumEndBytes)} | ${mib(s.peakRssMaxBytes)} (${
          mib(s.peakRssMeanBytes)
        }) | ${s.startS.toFixed(0)} s |`,
      );
    }
  }
  out.push("", "### How the fleet is measured", "", ...method(first).map((l) => `- ${l}`));
  return out.join("\n") + "\n";
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function method(run: FleetRun | undefined): string[] {
  const t = run?.meta.timing;
  return [
    "Network: a namespace `syslog-fleet-<random>` per scenario (`ip netns add`, `lo` up); every process runs in it through `ip netns exec`, so `/etc/netns/<ns>/hosts` is its `/etc/hosts`: `collectors.fleet.test` on 127.0.0.2, 127.0.0.3 and 127.0.0.4 (one line each; scenario 5 starts with the first two and appends the third line while the fleet runs), `c1.fleet.test` … `c3.fleet.test` one each. The namespace, its hosts file and every process are removed at the end, on failure and on Ctrl-C.",
    "Collectors: three rsyslogd (testkit `NetnsCollector`: `collectorConf`'s imtcp on its own address, port 514, every message as received, one per line, into a file of its own). Killed with SIGKILL; restored on the same address, appending to the same file.",
    "Agents: real processes (`main.ts run`, testkit `startNetnsAgent`), each with its own dir, spool, control socket and TCP input 127.0.0.1:20001+i inside the namespace; the same `collectors` for all (the table above), everything else default.",
    `Load: one sender process inside the namespace (bench/fleet_sender.ts), one TCP connection per agent, ${
      run === undefined ? "R" : int.format(run.meta.rate)
    } messages a second to each (testkit \`sendSeq\`, octet-counted, ${
      run?.meta.size ?? 256
    } bytes, 20 ms worth per write), each agent's messages numbered from 0 and tagged with its own APP-NAME (\`a01\`, \`a02\`, …).`,
    "Every second (aligned on the load's start): the lines each collector's file gained (its inflow in that second; the SVGs plot it, one colour per collector, the dashed line is the fair share = agents × rate / 3, the vertical lines the events), the ESTABLISHED connections to each collector address (/proc/<pid>/net/tcp of a process in the namespace), every agent's `status` (spool.messages, counters) over its control socket, every agent's VmRSS.",
    "Missing and duplicates: one sequence tally per agent over all three files, against what the sender wrote to that agent; a message that reached two collectors is a duplicate. Balance: max / min of the collectors' mean inflow over the window (the steady seconds before the first event, from second " +
    `${
      t?.settleS ?? 5
    } on; and the last seconds of the load after the last event); the worst single second beside it; ∞ when a collector got nothing. Scenario 5's first window counts c1 and c2 only.`,
    "Rebalance: seconds from the event until every collector that should take traffic (up, and named by the hosts file for a pool) gets at least half of its fair share (agents × rate / live collectors) in a second and keeps it for 3 s (or until the load ends), during the load; `never` when that did not happen before the load ended. A returning collector's peak: its busiest second in the 15 s after its restore (scenario 5: after the hosts file changed) against the fair share agents × rate / 3.",
    "Drain: after the restore, the first status poll (once a second) with every agent's `spool.messages` at 0; after the load, polls every 250 ms, and the first with every spool empty, every agent having received what was sent to it and no agent's `forwarded` counter moving until the next poll. Sampling then goes on until every message is counted or the files hold still for 3 s.",
    "The machine has 2 cores; other benchmarks or test suites may have run beside the fleet (the load average above says how busy it was), which shows in timings (the sender's write waits, the rebalance seconds) more than in missing or duplicated messages.",
    "CPU: the agents' utime + stime (/proc/PID/stat) from the load's start to the end of sampling, summed over the fleet; RSS: VmRSS summed over the agents at each sample (peak and last), and each agent's VmHWM at the end.",
    t === undefined
      ? "Timing: see bench/fleet_plan.ts."
      : `Timing (seconds of load): 1: ${t.steadyS}; 2 and 3: ${t.beforeS} before, ${t.downS} down, ${t.afterS} after; 4: ${t.beforeS} before, ${t.tierDownS} down, ${t.afterS} after; 5: ${t.beforeS} with two addresses, ${t.dnsAfterS} after the third is added. A fresh fleet per scenario.`,
  ];
}

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c"];

function esc(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** A step of 1, 2 or 5 × 10^k giving at most `max` ticks up to `top`. */
function niceStep(top: number, max: number): number {
  const raw = top / max;
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/**
 * The SVG of one scenario: messages per second into each collector over the
 * seconds since the load started (one polyline per collector), the fair
 * share dashed, the events and the load's end as vertical lines; below it,
 * the connections to each collector over the same seconds.
 */
export function shareSvg(s: ScenarioResult, run: Pick<FleetRun, "label" | "meta">): string {
  const W = 760;
  const L = 64;
  const R = 16;
  const T = 60; // top of the inflow panel
  const P1 = 270; // its bottom
  const C0 = 290; // top of the connections panel
  const C1 = 360; // its bottom: the time axis
  const H = C1 + 42;
  const seconds = Math.max(1, ...s.inflow.map((x) => x.length));
  const peak = Math.max(s.fairShare, ...s.inflow.flat());
  const yStep = niceStep(peak * 1.05, 6);
  const yTop = Math.ceil(peak * 1.05 / yStep) * yStep;
  const cPeak = Math.max(1, run.meta.agents, ...s.connections.flat());
  const cStep = niceStep(cPeak, 2);
  const cTop = Math.ceil(cPeak / cStep) * cStep;
  const xStep = niceStep(seconds, 12);
  const x = (sec: number) => L + (sec / seconds) * (W - L - R);
  const y = (v: number) => T + (1 - v / yTop) * (P1 - T);
  const yc = (v: number) => C0 + (1 - v / cTop) * (C1 - C0);
  const f = (v: number) => v.toFixed(1);
  const colour = (c: number) => COLOURS[c % COLOURS.length]!;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${L}" y="16" font-size="13" font-weight="bold">${
      esc(`${run.label}: ${s.number}. ${s.title}`)
    }</text>`,
    `<text x="${L}" y="31" fill="#555">${
      esc(
        `${run.meta.agents} agents × ${run.meta.rate} msgs/s; above: messages per second into each collector; below: connections to it`,
      )
    }</text>`,
  ];
  const grid = (yy: number, label: string) =>
    parts.push(
      `<line x1="${L}" x2="${W - R}" y1="${f(yy)}" y2="${f(yy)}" stroke="#e5e5e5"/>`,
      `<text x="${L - 6}" y="${f(yy + 4)}" text-anchor="end">${label}</text>`,
    );
  for (let v = 0; v <= yTop + 1e-9; v += yStep) grid(y(v), int.format(v));
  for (let v = 0; v <= cTop + 1e-9; v += cStep) grid(yc(v), int.format(v));
  for (let sec = 0; sec <= seconds; sec += xStep) {
    parts.push(
      `<line x1="${f(x(sec))}" x2="${f(x(sec))}" y1="${P1}" y2="${P1 + 4}" stroke="#333"/>`,
      `<line x1="${f(x(sec))}" x2="${f(x(sec))}" y1="${C1}" y2="${C1 + 4}" stroke="#333"/>`,
      `<text x="${f(x(sec))}" y="${C1 + 16}" text-anchor="middle">${sec}</text>`,
    );
  }
  const axisTitle = (yMid: number, text: string) =>
    `<text x="14" y="${f(yMid)}" text-anchor="middle" transform="rotate(-90 14 ${
      f(yMid)
    })">${text}</text>`;
  parts.push(
    `<line x1="${L}" x2="${W - R}" y1="${P1}" y2="${P1}" stroke="#333"/>`,
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${P1}" stroke="#333"/>`,
    `<line x1="${L}" x2="${W - R}" y1="${C1}" y2="${C1}" stroke="#333"/>`,
    `<line x1="${L}" x2="${L}" y1="${C0}" y2="${C1}" stroke="#333"/>`,
    `<text x="${(L + W - R) / 2}" y="${
      H - 8
    }" text-anchor="middle">seconds since the load started</text>`,
    axisTitle((T + P1) / 2, "msgs/s"),
    axisTitle((C0 + C1) / 2, "conns"),
    `<line x1="${L}" x2="${W - R}" y1="${f(y(s.fairShare))}" y2="${
      f(y(s.fairShare))
    }" stroke="#888" stroke-dasharray="6 4"/>`,
  );
  const marks: [number, string][] = [
    ...s.events.map((e): [number, string] => [e.atS, e.what]),
    [s.loadS, "load ends"],
  ];
  for (const [i, [at, text]] of marks.entries()) {
    const nearEnd = x(at) > W - R - 90;
    parts.push(
      `<line x1="${f(x(at))}" x2="${
        f(x(at))
      }" y1="${T}" y2="${P1}" stroke="#555" stroke-dasharray="2 3"/>`,
      `<line x1="${f(x(at))}" x2="${
        f(x(at))
      }" y1="${C0}" y2="${C1}" stroke="#555" stroke-dasharray="2 3"/>`,
      `<text x="${f(x(at) + (nearEnd ? -3 : 3))}" y="${T + 10 + (i % 2) * 12}"${
        nearEnd ? ' text-anchor="end"' : ""
      } fill="#333">${esc(text)}</text>`,
    );
  }
  s.inflow.forEach((series, c) => {
    const pts = series.map((v, k) => `${f(x(k + 0.5))},${f(y(v))}`).join(" ");
    parts.push(
      `<polyline fill="none" stroke="${colour(c)}" stroke-width="1.6" points="${pts}"/>`,
    );
  });
  s.connections.forEach((series, c) => {
    // a step line, nudged apart so that equal counts stay visible
    const off = (c - 1) * 1.5;
    const pts = series.flatMap((v, k) => [
      `${f(x(k))},${f(yc(v) + off)}`,
      `${f(x(k + 1))},${f(yc(v) + off)}`,
    ]).join(" ");
    parts.push(`<polyline fill="none" stroke="${colour(c)}" stroke-width="1.4" points="${pts}"/>`);
  });
  // the legend: one row under the subtitle
  const legend: [string, string, string][] = [
    ...s.inflow.map((_, c): [string, string, string] => [
      colour(c),
      "",
      `c${c + 1} (127.0.0.${c + 2})`,
    ]),
    ["#888", "6 4", `fair share (${int.format(s.fairShare)}/s)`],
  ];
  legend.forEach(([stroke, dash, text], i) => {
    const lx = L + i * 140;
    const ly = 48;
    parts.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${
        ly - 4
      }" stroke="${stroke}" stroke-width="2"${dash === "" ? "" : ` stroke-dasharray="${dash}"`}/>`,
      `<text x="${lx + 28}" y="${ly}">${esc(text)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
