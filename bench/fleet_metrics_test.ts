import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  balance,
  drainedAt,
  rebalanceSeconds,
  returnPeak,
  spoolEmptyAfter,
  type StatusPoll,
} from "./fleet_metrics.ts";
import { agentTag, fleetHosts, FULL_TIMING, scenarioPlan, SHORT_TIMING } from "./fleet_plan.ts";
import { tagAndSeq } from "./fleet_tally.ts";
import { type FleetRun, mergeRun, renderFleet, shareSvg } from "./fleet_report.ts";
import type { ScenarioResult } from "./fleet_scenario.ts";
import { seqMessage } from "../testkit/mod.ts";

Deno.test("fleet balance: mean per collector, max/min, and the worst second", () => {
  const b = balance([[10, 20, 30], [10, 10, 30], [5, 10, 30]], 0, 2);
  assertEquals(b.means, [15, 10, 7.5]);
  assertEquals(b.ratio, 2);
  assertEquals(b.worstSecond, 2);
  // a collector at 0: never balanced
  assertEquals(balance([[10, 10], [0, 0]], 0, 2).ratio, null);
  // only the members counted
  assertEquals(balance([[10, 10], [10, 10], [0, 0]], 0, 2, [0, 1]).ratio, 1);
});

Deno.test("fleet rebalance: the end of the first second of a run of 3 that all hold", () => {
  const inflow = [
    [100, 100, 100, 100, 100, 100, 100, 100],
    [100, 0, 0, 60, 10, 60, 60, 60],
  ];
  // half of 100 = 50: second 3 holds but 4 does not; from second 5 on it holds for 3 s
  assertEquals(rebalanceSeconds(inflow, 1, [0, 1], 100, 8), 5);
  // only seconds before the load's end count
  assertEquals(rebalanceSeconds(inflow, 1, [0, 1], 100, 5), null);
  // a run cut short by the load's end is enough
  assertEquals(rebalanceSeconds(inflow, 1, [0, 1], 100, 8, 5), 5);
  assertEquals(rebalanceSeconds(inflow, 1, [], 100, 8), null);
});

Deno.test("fleet return peak: busiest second in the window against the share", () => {
  const p = returnPeak([[1, 2, 3], [0, 50, 400, 100]], 1, 1, 4, 200);
  assertEquals(p, { collector: 1, peak: 400, atS: 2, ratio: 2 });
});

Deno.test("fleet drain: spools empty, everything received, forwarded still", () => {
  const poll = (atS: number, spooled: number[], forwarded: number[]): StatusPoll => ({
    atS,
    spooled,
    forwarded,
    received: [10, 10],
  });
  const polls = [poll(1, [5, 0], [5, 10]), poll(2, [0, 0], [10, 10]), poll(3, [0, 0], [10, 10])];
  assertEquals(spoolEmptyAfter(polls, 0), 2);
  assertEquals(spoolEmptyAfter(polls, 2.5), 0.5);
  assertEquals(drainedAt(polls, 1, [10, 10]), false); // forwarded moved
  assertEquals(drainedAt(polls, 2, [10, 10]), true);
  assertEquals(drainedAt(polls, 2, [10, 11]), false); // not all received
});

Deno.test("fleet tally: tag and sequence of a seqMessage line", () => {
  assertEquals(tagAndSeq(seqMessage(42, 256, "a07")), { tag: "a07", seq: 42 });
  assertEquals(tagAndSeq("something else"), undefined);
  assertEquals(agentTag(6, 30), "a07");
  assertEquals(agentTag(6, 120), "a007");
});

Deno.test("fleet plan: five scenarios, events inside the load, hosts file", () => {
  for (const timing of [FULL_TIMING, SHORT_TIMING]) {
    for (let n = 1; n <= 5; n++) {
      const p = scenarioPlan(n, timing);
      assertEquals(p.number, n);
      for (const e of p.events) assert(e.atS > p.before[0] && e.atS < p.loadS, `${n} ${e.atS}`);
      assert(p.before[0] < p.before[1]);
      if (p.after) assert(p.after[0] < p.after[1] && p.after[1] === p.loadS);
    }
  }
  const full = [1, 2, 3, 4, 5].reduce((s, n) => s + scenarioPlan(n, FULL_TIMING).loadS, 0);
  assert(full <= 300, `the full run's load is ${full} s`);
  assertEquals(
    fleetHosts(2).split("\n").filter((l) => l.endsWith(" collectors.fleet.test")).length,
    2,
  );
  assertEquals(fleetHosts(3).split("\n").filter((l) => l.includes("c3.fleet.test")), [
    "127.0.0.4 c3.fleet.test",
  ]);
});

function scenario(number: number, over: Partial<ScenarioResult> = {}): ScenarioResult {
  const inflow = [[100, 100, 0, 0], [100, 100, 200, 200], [100, 100, 100, 0]];
  const b = balance(inflow, 0, 2);
  return {
    number,
    key: "one-down",
    title: "One collector SIGKILLed",
    loadS: 4,
    sent: 1200,
    delivered: 1200,
    missing: 0,
    duplicates: 3,
    outOfOrder: 0,
    missingByAgent: [],
    foreignLines: 0,
    senderMaxWriteWaitMs: 1,
    fairShare: 100,
    sampleS: [1, 2, 3, 4],
    inflow,
    connections: [[1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]],
    spooled: [0, 0, 0, 0],
    unanswered: [0, 0, 0, 0],
    before: { from: 0, to: 2, balance: b, connections: [1, 1, 1] },
    after: undefined,
    events: [{
      atS: 2,
      what: "kill c1",
      doneAtS: 2,
      error: undefined,
      rebalanceS: 1,
      live: [1, 2],
    }],
    returnPeaks: [],
    spoolEmptyAfterRestoreS: undefined,
    drainS: 1,
    spooledPeak: 0,
    cpuSeconds: 1,
    cpuWindowS: 5,
    rssSumPeakBytes: 1 << 30,
    rssSumEndBytes: 1 << 29,
    peakRssMaxBytes: 1 << 26,
    peakRssMeanBytes: 1 << 26,
    startS: 1,
    problems: [],
    ...over,
  };
}

function run(label: string, scenarios: ScenarioResult[], agents = 3): FleetRun {
  return {
    label,
    meta: {
      date: "2026-12-07T00:00:00.000Z",
      command: "deno task fleet",
      agents,
      rate: 100,
      size: 256,
      spoolMode: "fallback",
      collectors: [{ address: "c1.fleet.test:514" }],
      timing: SHORT_TIMING,
      durationS: 60,
      loadAverage: [1, 1],
      machine: {
        nproc: 2,
        cpuModel: "cpu",
        kernel: "k",
        rsyslogd: "rsyslogd 8",
        syslogNg: "-",
        deno: "2",
      },
    },
    scenarios,
  };
}

Deno.test("fleet results: a rerun replaces its scenarios, another setup the whole run", () => {
  const first = mergeRun({ runs: [] }, run("failover", [scenario(1), scenario(2)]));
  const again = mergeRun(first, run("failover", [scenario(2, { duplicates: 9 })]));
  assertEquals(again.runs[0]?.scenarios.map((s) => [s.number, s.duplicates]), [[1, 3], [2, 9]]);
  const other = mergeRun(again, run("failover", [scenario(3)], 30));
  assertEquals(other.runs[0]?.scenarios.map((s) => s.number), [3]);
  const both = mergeRun(other, run("pool", [scenario(3)]));
  assertEquals(both.runs.map((r) => r.label), ["pool", "failover"]);
});

Deno.test("fleet report: one table per scenario with a column per run, an SVG each", () => {
  const results = mergeRun(
    mergeRun({ runs: [] }, run("pool", [scenario(2)])),
    run("failover", [scenario(2, { missing: 5 })]),
  );
  const md = renderFleet(results, "bench/results");
  assert(md.includes("### 2. One collector SIGKILLed"));
  assert(md.includes("| | pool | failover |"));
  assert(md.includes("| **missing** | **0** | **5** |"));
  assert(md.includes("![pool: messages per second into each collector, scenario 2]"));
  assert(md.includes("(bench/results/fleet-failover-2-one-down.svg)"));
  const svg = shareSvg(scenario(2), run("pool", []));
  assert(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  assertEquals(svg.match(/<polyline /g)?.length, 6); // inflow and connections, 3 each
  assert(svg.includes(">kill c1</text>"));
});
