/**
 * End-to-end: the fleet simulation of `deno task fleet` (bench/fleet_scenario.ts),
 * short: 6 real agents relaying to 3 real rsyslogd collectors inside a private
 * network namespace, through a collector SIGKILLed and restored, the whole
 * tier down and back, and a member added by DNS; nothing may go missing, and
 * nothing (process, namespace, hosts file) may be left behind. Needs root and
 * `ip netns`; ignored, with the reason in its name, where they cannot be had.
 */

import assert from "node:assert/strict";
import { capture, netnsUnavailable, processesUsing, runCleanups } from "../testkit/mod.ts";
import { scenarioPlan, SHORT_TIMING } from "../bench/fleet_plan.ts";
import { collectorsLabel, runFleetScenario } from "../bench/fleet_scenario.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const RSYSLOGD = "/usr/sbin/rsyslogd";

async function unavailable(): Promise<string | undefined> {
  if (!(await Deno.stat(RSYSLOGD).catch(() => undefined))?.isFile) return `no ${RSYSLOGD}`;
  return await netnsUnavailable();
}
const WHY_NOT = await unavailable();

/** The pool over every address of collectors.fleet.test, names resolved every 2 s. */
const POOL = [{ addresses: ["collectors.fleet.test:514"], resolveIntervalMs: 2_000 }];

async function fleetNamespaces(): Promise<string[]> {
  const list = await capture("ip", ["netns", "list"]).catch(() => "");
  const dirs: string[] = [];
  try {
    for await (const e of Deno.readDir("/etc/netns")) dirs.push(`/etc/netns/${e.name}`);
  } catch {
    // no /etc/netns
  }
  return [...list.split("\n").map((l) => l.split(" ")[0] ?? ""), ...dirs]
    .filter((n) => n.includes("syslog-fleet-"));
}

Deno.test({
  name: "fleet: 6 agents, 3 collectors in a netns: one killed, the tier down, one added by DNS; " +
    "0 missing in each, nothing left behind" +
    (WHY_NOT === undefined ? "" : ` (ignored: ${WHY_NOT})`),
  ignore: WHY_NOT !== undefined,
  ...opts,
  async fn(t) {
    const before = await fleetNamespaces();
    const baseDir = await Deno.makeTempDir({ prefix: "fleet-test-" });
    try {
      const collectors = POOL;
      for (const n of [2, 4, 5]) {
        const plan = scenarioPlan(n, SHORT_TIMING);
        await t.step(`${n}. ${plan.key} (${collectorsLabel(collectors)})`, async () => {
          const s = await runFleetScenario(plan, {
            agents: 6,
            rate: 200,
            size: 256,
            collectors,
            spoolMode: "fallback",
            timing: SHORT_TIMING,
            baseDir,
            log: () => {},
          });
          const detail = JSON.stringify({
            sent: s.sent,
            delivered: s.delivered,
            missingByAgent: s.missingByAgent,
            problems: s.problems,
            inflow: s.inflow,
          });
          assert.equal(s.sent, 6 * 200 * plan.loadS, detail);
          assert.equal(s.missing, 0, detail);
          assert.equal(s.delivered, s.sent, detail);
          assert.equal(s.events.filter((e) => e.error !== undefined).length, 0, detail);
          assert.notEqual(s.drainS, null, detail);
        });
      }
    } finally {
      await runCleanups();
      const left = await processesUsing(baseDir);
      await Deno.remove(baseDir, { recursive: true }).catch(() => {});
      assert.deepEqual(left, [], "processes left running");
      assert.deepEqual((await fleetNamespaces()).filter((n) => !before.includes(n)), []);
    }
  },
});
