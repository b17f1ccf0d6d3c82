/**
 * How fast the watchdog brings back a SIGKILLed rsyslogd: the time from the
 * SIGKILL to the first canary that comes back through the new rsyslogd,
 * over 20 kills, next to what monit and systemd would do.
 *
 * ```
 * deno run -A --unstable-net bench/watchdog_recovery.ts [--kills N]
 * ```
 *
 * The agent runs in this process (inputs, ingest, forwarder, watchdog: the
 * product's code) in child mode with a real rsyslogd whose config forwards to
 * the agent; canaries go in over a unix socket. Each kill is measured as the
 * first death after a stable run: with the product's defaults that takes a
 * minute of running, so the benchmark shortens only that ("stableMs"); the
 * first-restart delay (100 ms) and everything else are the defaults.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Agent } from "../agent/mod.ts";
import { parseConfig } from "../config/mod.ts";
import { Logger } from "../ground/mod.ts";
import { FakeCollector, freePort, managedRsyslogConf } from "../testkit/mod.ts";

const { values } = parseArgs({ args: Deno.args, options: { kills: { type: "string" } } });
const kills = Number(values.kills ?? 20);
if (!Number.isInteger(kills) || kills < 1) {
  throw new Error(`--kills: expected a positive integer, got "${values.kills}"`);
}

const dir = await Deno.makeTempDir({ prefix: "agent-wd-bench-" });
const collector = await FakeCollector.start("serve");
let agent: Agent | undefined;
try {
  const port = await freePort();
  const sock = `${dir}/log.sock`;
  const conf = `${dir}/rsyslog.conf`;
  await Deno.writeTextFile(conf, managedRsyslogConf({ dir, agentPort: port, socket: sock }));
  const config = parseConfig(
    JSON.stringify({
      inputs: [{ type: "tcp", address: `127.0.0.1:${port}` }],
      collectors: [{ address: `127.0.0.1:${collector.port}` }],
      spool: { dir: `${dir}/spool` },
      rsyslogd: {
        mode: "child",
        command: ["/usr/sbin/rsyslogd", "-n", "-iNONE", "-f", conf],
        probe: { target: `unix://${sock}`, intervalMs: 5000, timeoutMs: 2000, failures: 3 },
      },
      control: { socket: `${dir}/agent.sock`, metrics: "" },
      log: { level: "warn" },
    }),
    "the benchmark config",
  );
  const log = new Logger({ level: "warn", format: "text", write: () => {} });
  agent = await Agent.start(config, log, { watchdog: { restart: { stableMs: 0 } } });
  const a = agent;
  const rsyslogd = () => a.status().rsyslogd;
  const until = async (ok: () => boolean, what: string, ms = 10_000) => {
    const deadline = performance.now() + ms;
    while (!ok()) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  await until(() => rsyslogd().state === "running", "rsyslogd to pass its first probe");

  const samples: number[] = [];
  for (let i = 0; i < kills; i++) {
    await new Promise((r) => setTimeout(r, 300)); // steady state between kills
    const pid = rsyslogd().pid;
    const killedAt = Date.now();
    Deno.kill(pid, "SIGKILL");
    await until(() => {
      const r = rsyslogd();
      return r.pid !== pid && r.state === "running" && Date.parse(r.probe.lastOkAt) >= killedAt;
    }, `a passing probe after kill ${i + 1}`);
    samples.push(Date.parse(rsyslogd().probe.lastOkAt) - killedAt);
  }

  const sorted = [...samples].sort((x, y) => x - y);
  const median = sorted.length % 2 === 1
    ? sorted[(sorted.length - 1) / 2]!
    : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  const worst = sorted.at(-1)!;
  console.log(`SIGKILL of rsyslogd to a passing canary probe, ${kills} kills (ms):`);
  console.log(`  each:   ${samples.join(", ")}`);
  console.log(`  median: ${median} ms   worst: ${worst} ms   best: ${sorted[0]} ms`);
  console.log(`  restarts counted by the agent: ${rsyslogd().restarts}`);
  console.log("For comparison (time until the restart is even attempted):");
  console.log("  monit, default cycle:                 up to 30 s upstream, 120 s on Debian");
  console.log(
    "  systemd Restart=on-failure, RestartSec=100ms: 100 ms, no proof it processes messages",
  );
  console.log(
    `  syslog-agent watchdog:                ${median} ms median, ${worst} ms worst, to a proven round trip`,
  );
  console.log(`aim: worst under 1000 ms: ${worst < 1000 ? "met" : "NOT met"}`);
} finally {
  await agent?.stop();
  collector.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
