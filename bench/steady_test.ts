import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { achievedRate, dueMs, wholeWrites } from "./steady_sender.ts";
import { failedSteadyRun, type SteadyRelay, type SteadyRun, threadCpuDelta } from "./steady.ts";
import type { SteadyEntry } from "./steady_scenario.ts";
import { cpuRatios, steadyTargets } from "./steady_report.ts";

Deno.test("paced writes are due every batch / rate seconds", () => {
  assertEquals(dueMs(0, 2_000, 20), 0);
  assertEquals(dueMs(1, 2_000, 20), 10);
  assertEquals(dueMs(5, 50_000, 1), 0.1);
  assertEquals(dueMs(3, 1_000, 200), 600);
});

Deno.test("achieved rate of an exactly paced run is the rate; a late run is below it", () => {
  // 100 writes of 20 at 2,000/s: the last is due at 990 ms
  assertEquals(achievedRate({ sent: 2_000, elapsedMs: 990, rate: 2_000, batch: 20 }), 2_000);
  const late = achievedRate({ sent: 2_000, elapsedMs: 1_990, rate: 2_000, batch: 20 });
  assert(late < 1_001 && late > 999, `got ${late}`);
});

Deno.test("a paced run sends whole writes only", () => {
  assertEquals(wholeWrites(10_050, 200), 10_000);
  assertEquals(wholeWrites(5, 20), 20);
});

Deno.test("thread CPU delta: new threads count from zero, vanished threads are counted", () => {
  const before = new Map([[1, 1e9], [2, 5e8]]);
  assertEquals(threadCpuDelta(before, new Map([[1, 1.5e9], [2, 5e8], [3, 2.5e8]])), {
    seconds: 0.75,
    vanished: 0,
  });
  assertEquals(threadCpuDelta(before, new Map([[1, 2e9]])), { seconds: 1, vanished: 1 });
});

function run(cpuSecPerMillion: number, peakMiB = 40): SteadyRun {
  return {
    ...failedSteadyRun("x"),
    problem: undefined,
    cpuSecPerMillion,
    peakRssBytes: peakMiB * 1024 * 1024,
  };
}

function entry(relay: SteadyRelay, rate: number, batch: number, runs: SteadyRun[]): SteadyEntry {
  return { relay, rate, batch, available: true, reason: undefined, runs };
}

Deno.test("CPU ratios use the median of the rounds and skip runs that lost messages", () => {
  const entries = [
    entry("agent-fallback", 2_000, 20, [run(10), run(30), run(12)]),
    entry("rsyslogd", 2_000, 20, [run(8), failedSteadyRun("lost messages: 3 of 10")]),
  ];
  const [r] = cpuRatios(entries, [{ rate: 2_000, batch: 20 }], "agent-fallback", "rsyslogd");
  assertEquals(r?.ratio, 1.5);
});

Deno.test("steady targets: worst load decides, a load without figures is not counted", () => {
  const loads = [{ rate: 2_000, batch: 20 }, { rate: 20_000, batch: 200 }, {
    rate: 50_000,
    batch: 1,
  }];
  const entries = [
    entry("agent-fallback", 2_000, 20, [run(9)]),
    entry("rsyslogd", 2_000, 20, [run(10)]),
    entry("deno-min", 2_000, 20, [run(5)]),
    entry("agent-always", 2_000, 20, [run(10)]),
    entry("agent-fallback", 20_000, 200, [run(2, 55)]),
    entry("rsyslogd", 20_000, 200, [run(1)]),
    entry("deno-min", 20_000, 200, [run(1.5, 50)]),
    entry("agent-always", 20_000, 200, [run(2.4, 70)]),
  ];
  const [vsRsyslogd, vsMin, always, rssFallback, rssAlways] = steadyTargets(entries, loads);
  assertEquals(vsRsyslogd?.met, false);
  assertEquals(vsRsyslogd?.metAt, [1, 2]);
  assertEquals(vsRsyslogd?.worst?.rate, 20_000);
  assertEquals(vsRsyslogd?.worst?.ratio, 2);
  assertEquals(vsMin?.met, false); // 9 / 5 = 1.8 at 2,000/s
  assertEquals(always?.met, true); // 1.11 and 1.2
  assertEquals(rssFallback?.met, true); // 55 / 50 MiB
  assertEquals(rssAlways?.met, false);
  assertEquals(rssAlways?.worst?.ratio, 1.4); // 70 / 50 MiB
});
