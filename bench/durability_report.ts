/**
 * BENCHMARKS.md's durability section: per disk, one table with the previous
 * release ("before") and this checkout ("after") side by side at every load
 * and sync policy, the fdatasync time of each disk, and a reading of the
 * numbers, written from bench/results/latest.json's `durability` part.
 *
 * @module
 */

import { RUN_FLAGS } from "./relays.ts";
import {
  CATCH_UP_MAX_MS,
  CONTENDED_CORES,
  DURABILITY_LABELS,
  DURABILITY_SYNCS,
  type DurabilityCase,
  type DurabilityDisk,
  type DurabilityLabel,
  type DurabilityLabelRun,
  type DurabilityLoad,
  type DurabilityResults,
  type DurabilitySync,
  type Lag,
} from "./durability.ts";

/** Markers around the durability section of BENCHMARKS.md. */
export const DURABILITY_BEGIN = "<!-- begin: durability, written by bench/run.ts -->";
/** See {@link DURABILITY_BEGIN}. */
export const DURABILITY_END = "<!-- end: durability -->";

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

const DISK_TITLES: Record<DurabilityDisk, string> = {
  local: "This machine's disk",
  slow: "A real slow disk (ext4 on a loop device, writes throttled to 200 a second)",
};

function loadName(l: DurabilityLoad): string {
  return `${int.format(l.rate)}/s × ${l.perWrite}`;
}

function find(
  run: DurabilityLabelRun | undefined,
  disk: DurabilityDisk,
  sync: DurabilitySync,
  l: DurabilityLoad,
): DurabilityCase | undefined {
  return run?.cases.find((c) =>
    c.disk === disk && c.sync === sync && c.rate === l.rate && c.perWrite === l.perWrite
  );
}

function fsyncMean(run: DurabilityLabelRun | undefined, disk: DurabilityDisk): number | undefined {
  return run?.disks.find((d) => d.disk === disk)?.fdatasync?.meanMs;
}

function ms(v: number): string {
  return v >= 100 ? int.format(v) : v >= 10 ? v.toFixed(0) : v.toFixed(1).replace(/\.0$/, "");
}

/**
 * A lag. `sampleMs` for a disk lag: its age is a lower bound, within one
 * sample interval of the truth; 0 with messages waiting means "less than one".
 */
function lagCell(l: Lag | undefined, sampleMs?: number): string {
  if (l === undefined) return "—";
  if (l.messages === 0) return "0";
  const age = sampleMs !== undefined && l.ageMs === 0 ? `< ${sampleMs} ms` : `${ms(l.ageMs)} ms`;
  return `${age}, ${int.format(l.messages)} msgs`;
}

function times(r: number): string {
  return `${r >= 10 ? int.format(r) : r.toFixed(1)}×`;
}

function ratioCell(l: Lag | undefined, fsync: number | undefined, sampleMs?: number): string {
  if (l === undefined || fsync === undefined || !(fsync > 0)) return "—";
  if (l.messages === 0) return "0×";
  if (sampleMs !== undefined && l.ageMs === 0) return `< ${times(sampleMs / fsync)}`;
  return times(l.ageMs / fsync);
}

function endCell(
  l: Lag | undefined,
  catchUpMs: number | undefined,
  maxMs: number,
  sampleMs?: number,
): string {
  if (l === undefined) return "—";
  const base = lagCell(l, sampleMs);
  if (l.messages === 0) return base;
  return catchUpMs === undefined
    ? `${base}; not caught up in ${maxMs / 1000} s`
    : `${base}; caught up in ${(catchUpMs / 1000).toFixed(2)} s`;
}

function rateCell(c: DurabilityCase | undefined): string {
  const r = c?.run;
  if (r === undefined) return "not run";
  if (r.receivedPerSec === undefined) return "—";
  return `${int.format(r.receivedPerSec)}${r.sender?.keptPace === false ? " (sender behind)" : ""}`;
}

function othersCell(c: DurabilityCase | undefined): string {
  const v = c?.run.otherCores;
  if (v === undefined) return "—";
  return `${v.toFixed(2)}${v > CONTENDED_CORES ? " †" : ""}${c!.attempts > 1 ? " (2nd run)" : ""}`;
}

/** The loads in the order they ran (either label's). */
function loadsOf(results: DurabilityResults): DurabilityLoad[] {
  const seen = new Map<string, DurabilityLoad>();
  for (const label of DURABILITY_LABELS) {
    for (const c of results[label]?.cases ?? []) {
      const key = `${c.rate}x${c.perWrite}`;
      if (!seen.has(key)) seen.set(key, { rate: c.rate, perWrite: c.perWrite });
    }
  }
  return [...seen.values()].sort((a, b) => a.rate - b.rate || a.perWrite - b.perWrite);
}

/** Smallest and largest of the defined values, as "a–b" (or "a"). */
function span(values: (number | undefined)[], fmt: (v: number) => string): string | undefined {
  const xs = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (xs.length === 0) return undefined;
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo === hi ? fmt(lo) : `${fmt(lo)}–${fmt(hi)}`;
}

/** The reading: numbers of the sync-always cases per disk, and the rates kept. */
function reading(results: DurabilityResults, loads: DurabilityLoad[]): string[] {
  const { before, after } = results;
  const m0 = (before ?? after)!.meta;
  const out: string[] = [];
  for (const disk of ["slow", "local"] as const) {
    const casesOf = (run: DurabilityLabelRun | undefined) =>
      loads.map((l) => find(run, disk, "always", l)).filter((c) => c !== undefined);
    const a = casesOf(after);
    const b = casesOf(before);
    if (a.length === 0 && b.length === 0) continue;
    const fa = fsyncMean(after, disk);
    const afterLag = span(a.map((c) => c.run.worstLag?.ageMs), ms);
    const afterX = fa === undefined ? undefined : span(
      a.map((c) => {
        const v = c.run.worstLag?.ageMs;
        return v === undefined ? undefined : v / fa;
      }),
      (v) => v.toFixed(1),
    );
    // Before: the loads at which it fell a second or more behind, and the worst of the others.
    const behind = b.filter((c) => (c.run.diskWorstLag?.ageMs ?? 0) >= 1_000);
    const kept = b.filter((c) => !behind.includes(c));
    const behindLag = span(behind.map((c) => c.run.diskWorstLag?.ageMs), ms);
    const keptLag = kept.length === 0
      ? undefined
      : Math.max(...kept.map((c) => c.run.diskWorstLag?.ageMs ?? 0));
    const beforeEnd = b.reduce<DurabilityCase | undefined>(
      (w, c) => (c.run.diskEndLag?.messages ?? 0) > (w?.run.diskEndLag?.messages ?? -1) ? c : w,
      undefined,
    );
    const afterEndMax = Math.max(0, ...a.map((c) => c.run.endLag?.messages ?? 0));
    const slowest = after?.disks.find((d) => d.disk === disk)?.fdatasync?.maxMs;
    const within = slowest === undefined
      ? undefined
      : a.filter((c) => c.run.worstLag !== undefined && c.run.worstLag.ageMs <= 2 * slowest);
    const parts: string[] = [];
    if (afterLag !== undefined) {
      parts.push(
        `the worst lag after was ${afterLag} ms over the ${a.length} loads (status${
          afterX === undefined ? "" : `; ${afterX} × its mean fdatasync of ${fa!.toFixed(2)} ms`
        }${
          within === undefined
            ? ""
            : `; within two of its slowest write + fdatasync (${
              ms(slowest!)
            } ms) at ${within.length} of ${a.length} loads`
        }), ${
          afterEndMax === 0
            ? "with nothing left to make durable"
            : `with at most ${int.format(afterEndMax)} message(s) not yet durable`
        } when the load ended`,
      );
    }
    if (b.length > 0) {
      const e = beforeEnd?.run.diskEndLag;
      parts.push(
        `before (disk lag, a lower bound) it was ${
          behind.length === 0
            ? "below 1 s at every load"
            : `at least ${behindLag} ms at ${behind.length} of ${b.length} loads (${
              behind.map(loadName).join(", ")
            })`
        }${
          keptLag === undefined || behind.length === 0
            ? ""
            : ` and below ${ms(keptLag + m0.sampleMs)} ms at the others`
        }${
          e !== undefined && beforeEnd !== undefined && e.messages > 0
            ? `, with ${
              int.format(e.messages)
            } received messages not yet in the files at the end of the ${loadName(beforeEnd)} load`
            : ""
        }`,
      );
    }
    const where = disk === "slow" ? "On the slow disk" : "On this machine's disk";
    out.push(`${where} with \`sync: "always"\`, ${parts.join("; ")}.`);
  }
  const kept = (run: DurabilityLabelRun | undefined) => {
    const cs = run?.cases.filter((c) => c.run.receivedPerSec !== undefined) ?? [];
    const ok = cs.filter((c) => c.run.receivedPerSec! >= 0.98 * c.rate && c.run.sender?.keptPace);
    return { ok: ok.length, all: cs.length, short: cs.filter((c) => !ok.includes(c)) };
  };
  const rates = DURABILITY_LABELS.map((label) => ({ label, ...kept(results[label]) }))
    .filter((k) => k.all > 0)
    .map((k) =>
      `${k.label}: ${k.ok} of ${k.all} cases${
        k.short.length === 0
          ? ""
          : ` (not: ${
            k.short.map((c) =>
              `${c.disk} ${c.sync} ${loadName(c)} at ${int.format(c.run.receivedPerSec!)}/s`
            ).join(", ")
          })`
      }`
    );
  if (rates.length > 0) {
    out.push(
      `The agent received within 2% of the offered rate with the sender on pace in ${
        rates.join("; ")
      }.`,
    );
  }
  return out;
}

/** The durability section of BENCHMARKS.md (without its markers). */
export function renderDurability(results: DurabilityResults): string {
  const out: string[] = [];
  const row = (cells: (string | number)[]) => out.push(`| ${cells.join(" | ")} |`);
  const sep = (n: number) => out.push(`|${" --- |".repeat(n)}`);
  const cell = (t: string) => t.replaceAll("|", "\\|").replaceAll("\n", " ");
  const runs = DURABILITY_LABELS.map((l) => results[l]).filter((r) => r !== undefined);
  const any = runs[0];
  const loads = loadsOf(results);

  out.push("## Durability: how far behind the disk the spool is", "");
  if (any === undefined) {
    out.push("Not run yet: `deno task bench --only durability [--label before|after]`.", "");
    return out.join("\n");
  }
  const m = any.meta;
  out.push(
    "The durability lag is what the agent has received and not yet made durable: under",
    '`sync: "always"` not yet fdatasync\'ed, under `"interval"` not yet written (what a `kill -9`',
    'would take; `"interval"` leaves the last 200 ms to a power cut). The agent runs as a process',
    `(TCP input on 127.0.0.1, \`spool.mode: "always"\`, one rsyslogd imtcp collector draining it)`,
    `under a paced load of R messages a second in socket writes of N messages (\`R/s × N\`; 1 is`,
    `one message per \`send()\`), messages of ${m.messageBytes} bytes, ${
      m.loadMs / 1000
    } s of load after ${m.warmupMs / 1000} s of warm-up, its spool on`,
    "this machine's disk and on a real slow disk. Before (`--label before`, with `--agent-main` of",
    `a checkout of ${
      cell(results.before?.meta.agentRevision ?? "—")
    }): the previous release, whose write loop fdatasync'ed one read at a time. After`,
    `(\`--label after\`: ${
      cell(results.after?.meta.agentRevision ?? "—")
    }): the write loop commits in groups, one fdatasync per cycle of everything queued.`,
    "",
  );
  for (const r of runs) {
    const mm = r.meta;
    out.push(
      `- ${r.label}: \`${cell(mm.command)}\` on ${mm.date} (${
        Math.round(mm.durationSeconds)
      } s), agent \`${cell(mm.agentMain)}\` at ${cell(mm.agentRevision)}; 1-minute load average ${
        mm.loadAverage[0].toFixed(2)
      } before, ${mm.loadAverage[1].toFixed(2)} after${mm.quick ? "; --quick" : ""}.`,
    );
  }
  out.push(
    `- Machine: ${m.machine.nproc} × ${cell(m.machine.cpuModel)}, kernel ${
      cell(m.machine.kernel)
    }, deno ${m.machine.deno}, ${cell(m.machine.rsyslogd)} (the collector). Shared: other`,
    "  engineers' work ran beside it.",
    "",
  );

  out.push(
    "fdatasync of each disk, measured by each run before its cases: 200 × (write of 250 bytes +",
    "fdatasync) on a new file in the spool's directory, from a process of its own (on the slow",
    "disk, in its cgroup). The slow disk's throttle lets about 20 writes through per 100 ms and",
    "then holds the next one for about 90 ms, so its median is not its cost: 200 syncs take 1 s,",
    "5 ms each on average. The ratios below use the mean.",
    "",
  );
  row(["disk", "run", "median ms", "mean ms", "p90 ms", "max ms"]);
  sep(6);
  for (const disk of ["local", "slow"] as const) {
    for (const r of runs) {
      const d = r.disks.find((x) => x.disk === disk);
      if (d === undefined) continue;
      const f = d.fdatasync;
      row([
        DISK_TITLES[disk].split(" (")[0]!,
        r.label,
        ...(f === undefined
          ? [d.available ? "probe failed" : `not run: ${cell(d.reason ?? "")}`, "", "", ""]
          : [f.medianMs, f.meanMs, f.p90Ms, f.maxMs].map((v) => v.toFixed(2))),
      ]);
    }
  }
  out.push("");

  const read = reading(results, loads);
  if (read.length > 0) out.push("Reading: " + read.join(" "), "");

  for (const disk of ["local", "slow"] as const) {
    out.push(`### ${DISK_TITLES[disk]}`, "");
    const info = runs.map((r) => ({ r, d: r.disks.find((x) => x.disk === disk) }));
    const notRun = info.filter(({ d }) => d !== undefined && !d.available);
    for (const { r, d } of notRun) out.push(`Not run for ${r.label}: ${cell(d!.reason ?? "")}.`);
    if (notRun.length > 0) out.push("");
    if (!runs.some((r) => r.cases.some((c) => c.disk === disk))) continue;
    const fb = fsyncMean(results.before, disk);
    const fa = fsyncMean(results.after, disk);
    row([
      "sync",
      "load",
      "received/s before",
      "received/s after",
      "worst lag before (disk)",
      "worst lag after (disk)",
      "worst lag after (status)",
      "÷ fdatasync before",
      "÷ fdatasync after",
      "end of load before (disk)",
      "end of load after (status)",
      "CPU s before",
      "CPU s after",
      "others' cores before",
      "others' cores after",
    ]);
    sep(15);
    const problems: string[] = [];
    for (const sync of DURABILITY_SYNCS) {
      for (const l of loads) {
        const b = find(results.before, disk, sync, l);
        const a = find(results.after, disk, sync, l);
        if (b === undefined && a === undefined) continue;
        for (const [label, c] of [["before", b], ["after", a]] as [DurabilityLabel, typeof a][]) {
          if (c?.run.problem !== undefined) {
            problems.push(`${label}, ${sync}, ${loadName(l)}: ${c.run.problem}`);
          }
        }
        row([
          sync,
          loadName(l),
          rateCell(b),
          rateCell(a),
          lagCell(b?.run.diskWorstLag, m.sampleMs),
          lagCell(a?.run.diskWorstLag, m.sampleMs),
          lagCell(a?.run.worstLag),
          ratioCell(b?.run.diskWorstLag, fb, m.sampleMs),
          ratioCell(a?.run.worstLag, fa),
          endCell(b?.run.diskEndLag, b?.run.diskCatchUpMs, CATCH_UP_MAX_MS, m.sampleMs),
          endCell(a?.run.endLag, a?.run.catchUpMs, CATCH_UP_MAX_MS),
          b?.run.cpuSeconds?.toFixed(2) ?? "—",
          a?.run.cpuSeconds?.toFixed(2) ?? "—",
          othersCell(b),
          othersCell(a),
        ].map((v) => cell(String(v))));
      }
    }
    out.push("");
    if (problems.length > 0) {
      out.push("Problems:", "");
      for (const p of problems) out.push(`- ${cell(p)}`);
      out.push("");
    }
  }

  out.push("### Columns and how they are measured", "");
  const bullets = [
    "received/s: the least-squares slope of status `counters.received` over the samples in the window (from the first sample after the warm-up to the last one before the sender's last write). \"sender behind\": the sender's own rate (messages written / (first write → last write returned + one interval)) was below 98% of R: its writes were held back. The sender is bench/durability_sender.ts as its own process: one connection, every write exactly N messages, write k due k × N / R s after the first, none after the end of the load (a write still held back 250 ms later is cut short).",
    `Samples: every ${m.sampleMs} ms, the agent's status over its control socket, then the records in its segment files. Worst lag: the largest age (ms) and, separately, the largest message count over the samples in the window.`,
    "after (status): status `spool.lag` (appended to the spool, not yet durable; its age has 1 ms resolution, `Date.now()`). The previous release's status has no lag, so:",
    "(disk): `counters.received` minus the records in the spool's segment files, every file hard-linked into a directory beside the spool as soon as it appears (a segment deleted once delivered is still counted; records are all 248 bytes, so records = bytes / 248; at the end a walk of the record headers checks the count against `received`). It is a lower bound of received-but-not-durable: the counter is read before the files are counted; a record written but not yet fdatasync'ed counts as on disk (under sync always, up to one read before, one cycle after); its age is from the first sample that counted the oldest missing message as received (so 0 means less than one sample interval). Shown for after too, to compare the two measures on one build.",
    "÷ fdatasync: the worst lag's age divided by that run's mean fdatasync time of the disk (the table above); before uses its disk lag, after its status lag.",
    `End of load: the first sample after the sender's last write, and how long until the lag was 0 (at most ${
      CATCH_UP_MAX_MS / 1000
    } s are waited for).`,
    "CPU s: the agent process's utime + stime (/proc/PID/stat, all threads, 10 ms ticks) from the end of the warm-up to the sender's last write.",
    `others' cores: the machine is shared; the CPU that everything but the case's own processes (agent, collector, sender, the bench) used in the window, in cores (/proc/stat busy time minus theirs, over the window; kernel threads working for the case count here too). A case above ${CONTENDED_CORES} († ) was run once more at the end of its disk's cases when the time budget allowed ("2nd run"), and the run with less of it is shown.`,
    `Each case: a fresh collector, agent and spool; \`syncIntervalMs\` ${m.syncIntervalMs} for interval; the agent with the release's runtime flags (\`deno run ${
      RUN_FLAGS.join(" ")
    }\`); on the slow disk the agent's process is put in the disk's cgroup as soon as it is spawned.`,
    ...runs.flatMap((r) => r.meta.notes.map((n) => `${r.label}: ${n}`)),
  ];
  for (const b of bullets) out.push(`- ${cell(b)}`);
  out.push("");
  return out.join("\n");
}
