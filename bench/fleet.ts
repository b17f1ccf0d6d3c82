/**
 * `deno task fleet`: a fleet simulation with real processes (see
 * bench/fleet_scenario.ts): N agents relaying a paced, numbered load to three
 * rsyslogd collectors inside a private network namespace, through five
 * scenarios (steady; one, two, then all collectors killed and restored; a
 * member added by DNS). Writes bench/results/fleet.json, an SVG per scenario
 * and the "Fleet" section of BENCHMARKS.md; exits 1 when a scenario lost a
 * message. Needs root (`ip netns`).
 *
 * ```
 * deno task fleet [--agents 30] [--rate 200] [--only 1,2] [--collectors JSON] [--label L]
 *                 [--spool-mode fallback|always] [--short] [--resolve-interval-ms 5000]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import {
  installSignalCleanup,
  isInterrupted,
  netnsUnavailable,
  runCleanups,
  tempDir,
} from "../testkit/mod.ts";
import { machineInfo } from "./machine_info.ts";
import { FULL_TIMING, POOL_NAME, SCENARIO_KEYS, scenarioPlan, SHORT_TIMING } from "./fleet_plan.ts";
import {
  checkFleetConfig,
  collectorsLabel,
  runFleetScenario,
  type ScenarioResult,
} from "./fleet_scenario.ts";
import { type FleetPaths, type FleetRun, writeFleetReports } from "./fleet_report.ts";

/** The default collectors entry: a pool over every address the name resolves to. */
export const DEFAULT_COLLECTORS = `{"addresses": ["${POOL_NAME}:514"]}`;

const USAGE = `usage: deno task fleet [options]

  --agents N               agents (default 30)
  --rate R                 messages per second to each agent (default 200)
  --only 1,2               scenarios to run (default all): ${
  SCENARIO_KEYS.map((k, i) => `${i + 1} ${k}`).join(", ")
}
  --collectors JSON        the agents' collectors: an entry (object) or a list (array);
                           default ${DEFAULT_COLLECTORS}; e.g. the failover list
                           '[{"address":"c1.fleet.test:514"},{"address":"c2.fleet.test:514"},{"address":"c3.fleet.test:514"}]'
  --resolve-interval-ms N  added to a pool entry (addresses/srv) without one (default 5000)
  --label L                the run's name in the report (default: pool, failover or single)
  --spool-mode M           fallback (default) or always
  --size B                 bytes per message (default 256)
  --short                  the test's short timing (a few seconds per phase)
  --render                 run nothing: write the SVGs and the Markdown again from the results
  --results PATH           default bench/results/fleet.json (SVGs beside it)
  --markdown PATH          default BENCHMARKS.md

Needs root (ip netns). Exits 1 when a scenario lost a message.`;

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The outputs: the JSON, the SVGs beside it, the Markdown and how it links to the SVGs. */
function reportPaths(json: string, markdown: string): FleetPaths {
  const dir = json.slice(0, json.lastIndexOf("/") + 1) || "./";
  const mdDir = markdown.slice(0, markdown.lastIndexOf("/") + 1) || "./";
  const link = dir.startsWith(mdDir) ? dir.slice(mdDir.length).replace(/\/$/, "") : dir;
  return {
    json,
    svgDir: dir.replace(/\/$/, "") || ".",
    svgLink: link === "" ? "." : link.replace(/\/$/, ""),
    markdown,
  };
}

/** `arg` as one shell word: quoted when it holds anything but letters, digits and `-_.,/:=`. */
function shellWord(arg: string): string {
  return /^[\w.,/:=-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

async function loadAverage(): Promise<number> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return Number(text.split(" ")[0] ?? NaN);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      agents: { type: "string", default: "30" },
      rate: { type: "string", default: "200" },
      only: { type: "string" },
      collectors: { type: "string", default: DEFAULT_COLLECTORS },
      "resolve-interval-ms": { type: "string", default: "5000" },
      label: { type: "string" },
      "spool-mode": { type: "string", default: "fallback" },
      size: { type: "string", default: "256" },
      short: { type: "boolean", default: false },
      render: { type: "boolean", default: false },
      results: { type: "string", default: `${ROOT}bench/results/fleet.json` },
      markdown: { type: "string", default: `${ROOT}BENCHMARKS.md` },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const fail = (msg: string): number => {
    console.error(`fleet: ${msg}\n\n${USAGE}`);
    return 2;
  };
  const agents = Number(values.agents);
  const rate = Number(values.rate);
  const size = Number(values.size);
  const resolveIntervalMs = Number(values["resolve-interval-ms"]);
  if (!Number.isInteger(agents) || agents < 1 || agents > 500) {
    return fail(`--agents: expected 1..500, got ${values.agents}`);
  }
  if (!(rate > 0)) return fail(`--rate: expected a positive number, got ${values.rate}`);
  if (!Number.isInteger(size) || size < 80) return fail(`--size: expected >= 80 bytes`);
  const spoolMode = values["spool-mode"];
  if (spoolMode !== "fallback" && spoolMode !== "always") {
    return fail(`--spool-mode: expected fallback or always, got ${spoolMode}`);
  }
  const numbers = values.only === undefined
    ? SCENARIO_KEYS.map((_, i) => i + 1)
    : values.only.split(",").map((s) => Number(s.trim()));
  if (numbers.some((n) => !Number.isInteger(n) || n < 1 || n > SCENARIO_KEYS.length)) {
    return fail(`--only: expected numbers 1..${SCENARIO_KEYS.length}, got ${values.only}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(values.collectors ?? DEFAULT_COLLECTORS);
  } catch (err) {
    return fail(`--collectors: not JSON: ${err instanceof Error ? err.message : err}`);
  }
  const collectors = (Array.isArray(parsed) ? parsed : [parsed]).map((c) => {
    if (typeof c !== "object" || c === null || Array.isArray(c)) return c;
    const entry = c as Record<string, unknown>;
    const pool = "addresses" in entry || "srv" in entry;
    return pool && !("resolveIntervalMs" in entry) ? { ...entry, resolveIntervalMs } : entry;
  });
  const label = values.label ?? collectorsLabel(collectors);
  const timing = values.short ? SHORT_TIMING : FULL_TIMING;

  const paths = reportPaths(values.results!, values.markdown!);
  if (values.render) {
    await writeFleetReports(undefined, paths);
    console.error(`fleet: wrote the SVGs and the Fleet section of ${paths.markdown}`);
    return 0;
  }
  const why = await netnsUnavailable();
  if (why !== undefined) {
    console.error(`fleet: cannot run here: ${why}`);
    return 2;
  }
  const removeSignals = installSignalCleanup("fleet");
  const started = Date.now();
  const log = (line: string) =>
    console.error(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  const base = await tempDir("syslog-fleet-");
  const scenarios: ScenarioResult[] = [];
  let exit = 0;
  try {
    const refused = await checkFleetConfig({ collectors, spoolMode }, base.path);
    if (refused !== undefined) {
      console.error(
        `fleet: the agent refuses these collectors (${JSON.stringify(collectors)}):\n${refused}`,
      );
      return 2;
    }
    log(
      `${label}: ${agents} agents × ${rate}/s, collectors ${
        JSON.stringify(collectors)
      }, spool.mode ${spoolMode}, scenarios ${numbers.join(",")}`,
    );
    const load0 = await loadAverage();
    for (const n of numbers) {
      if (isInterrupted()) break;
      const plan = scenarioPlan(n, timing);
      try {
        const s = await runFleetScenario(plan, {
          agents,
          rate,
          size,
          collectors,
          spoolMode,
          timing,
          baseDir: base.path,
          log,
        });
        scenarios.push(s);
        log(
          `scenario ${n} (${plan.key}): sent ${s.sent}, delivered ${s.delivered}, missing ${s.missing}, duplicates ${s.duplicates}${
            s.problems.length > 0 ? `; problems: ${s.problems.join("; ")}` : ""
          }`,
        );
        if (s.missing > 0) exit = 1;
      } catch (err) {
        log(`scenario ${n} (${plan.key}) failed: ${err instanceof Error ? err.stack : err}`);
        exit = 1;
      } finally {
        await Deno.remove(`${base.path}/s${n}`, { recursive: true }).catch(() => {});
      }
    }
    if (scenarios.length > 0 && !isInterrupted()) {
      const run: FleetRun = {
        label,
        meta: {
          date: new Date().toISOString(),
          command: ["deno task fleet", ...Deno.args.map(shellWord)].join(" "),
          agents,
          rate,
          size,
          spoolMode,
          collectors,
          timing,
          durationS: (Date.now() - started) / 1000,
          loadAverage: [load0, await loadAverage()],
          machine: await machineInfo("not used"),
        },
        scenarios,
      };
      await writeFleetReports(run, paths);
      log(`wrote ${paths.json}, its SVGs and the Fleet section of ${paths.markdown}`);
    }
  } finally {
    await runCleanups();
    removeSignals();
  }
  return exit;
}

if (import.meta.main) Deno.exit(await main());
