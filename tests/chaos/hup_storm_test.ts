/**
 * Chaos: a HUP storm during traffic. The agent gets SIGHUP 56 times in 4 s
 * (some in bursts), each a config reload (the log level, and every other time the collector's
 * settings, which replaces the forwarder), while rotate requests HUP the
 * rsyslogd it manages. Nothing is lost, the agent and rsyslogd stay the same
 * processes, and the agent ends healthy.
 */

import assert from "node:assert/strict";
import { controlRequest } from "../../control/mod.ts";
import {
  checkSeqs,
  freePort,
  managedRsyslogConf,
  sendSeq,
  sleep,
  waitFor,
} from "../../testkit/mod.ts";
import { alive, fmt, opts, rig, status, summary, teardown } from "./_chaos.ts";

const HUPS = 40;
const RATE = 2000;
const SECONDS = 8;

/** Lines that came through rsyslogd (its forwarding format: `… via-rsyslogd: seq=…`). */
function viaLines(lines: string[]): string[] {
  return lines.filter((l) => l.includes(" via-rsyslogd"));
}

Deno.test(
  "chaos: a HUP storm (56 SIGHUPs: reloads; 28 rotate requests) during traffic: nothing lost, agent and rsyslogd healthy",
  opts,
  async () => {
    let tcpPort = 0;
    const r = await rig("hup", {
      prepare: async (dir, agentPort) => {
        tcpPort = await freePort();
        const conf = `${dir}/rsyslog.conf`;
        await Deno.writeTextFile(
          conf,
          managedRsyslogConf({ dir, agentPort, socket: `${dir}/log.sock`, tcpPort }),
        );
        return {
          rsyslogd: {
            mode: "child",
            command: ["/usr/sbin/rsyslogd", "-n", "-iNONE", "-f", conf],
            probe: {
              target: `unix://${dir}/log.sock`,
              intervalMs: 500,
              timeoutMs: 300,
              failures: 3,
            },
          },
        };
      },
    });
    try {
      const socket = `${r.dir}/agent/agent.sock`;
      const running = await waitFor(async () => {
        const st = await status(r.agent);
        return st.rsyslogd.state === "running" && st.rsyslogd.probe.ok && st;
      }, { timeoutMs: 15_000, what: "rsyslogd running and passing its probe" });
      const agentPid = r.agent.pid;
      const rsyslogdPid = running.rsyslogd.pid;
      const total = RATE * SECONDS;
      const viaRsyslogd = sendSeq({
        port: tcpPort,
        count: total,
        size: 150,
        framing: "octet-counted",
        ratePerSec: RATE,
        tag: "via-rsyslogd",
      });
      const direct = sendSeq({
        port: r.port,
        count: total,
        size: 150,
        framing: "octet-counted",
        ratePerSec: RATE,
        tag: "direct",
      });
      await sleep(1000);
      const configPath = `${r.dir}/agent/agent.json`;
      const base = JSON.parse(await Deno.readTextFile(configPath));
      const rotates: Promise<unknown>[] = [];
      let signals = 0;
      for (let i = 0; i < HUPS; i++) {
        const next = structuredClone(base);
        next.log.level = i % 2 === 0 ? "debug" : "info";
        // Every other reload changes the collector's settings: the forwarder is replaced.
        next.collectors[0].writeTimeoutMs = i % 4 < 2 ? 1500 : 1000;
        await Deno.writeTextFile(`${configPath}.tmp`, JSON.stringify(next, null, 2));
        await Deno.rename(`${configPath}.tmp`, configPath);
        // Every 10th time a burst of 5 at once: reloads arriving while one runs share it.
        const burst = i % 10 === 9 ? 5 : 1;
        for (let k = 0; k < burst; k++) r.agent.signal("SIGHUP");
        signals += burst;
        if (i % 2 === 0) {
          // Every 5th rotate three callers at once: they coalesce.
          const callers = i % 10 === 8 ? 3 : 1;
          for (let k = 0; k < callers; k++) {
            rotates.push(controlRequest(socket, { command: "rotate" }, 30_000));
          }
        }
        await sleep(100);
      }
      const results = await Promise.all(rotates) as { restarted: boolean; message: string }[];
      const [a, b] = await Promise.all([viaRsyslogd, direct]);
      assert.equal(a.sent, total);
      assert.equal(b.sent, total);
      const report = await waitFor(async () => {
        const lines = await r.collector.lines();
        const x = checkSeqs(viaLines(lines), total);
        const y = checkSeqs(lines, total, "direct");
        return x.missingCount === 0 && y.missingCount === 0 && { x, y };
      }, { timeoutMs: 30_000, what: "every message of both senders at the collector" }).catch(
        async (e) => {
          const lines = await r.collector.lines();
          throw new Error(
            `${e.message}: via rsyslogd ${
              JSON.stringify(checkSeqs(viaLines(lines), total))
            }, direct ${JSON.stringify(checkSeqs(lines, total, "direct"))}`,
          );
        },
      );
      const healthy = await waitFor(async () => {
        const st = await status(r.agent);
        return st.state === "ok" && st;
      }, { timeoutMs: 15_000, what: "the agent's state to be ok" }).catch(async (e) => {
        throw new Error(`${e.message}: ${JSON.stringify((await status(r.agent)).reasons)}`);
      });
      const log = await r.agent.log();
      const reloads = log.split("\n").filter((l) => /reloaded: /.test(l)).length;
      const forwarders = log.split("\n").filter((l) => /reloaded: .*collectors /.test(l)).length;
      const hups = log.split("\n").filter((l) => /rotate: sent SIGHUP/.test(l)).length;
      summary(
        "hup-storm",
        `${signals} SIGHUPs to the agent in ${
          (HUPS / 10).toFixed(0)
        } s, some in bursts (${reloads} reloads applied, bursts coalesced; ${forwarders} replaced the forwarder) and ${rotates.length} rotate requests (${hups} HUPs to rsyslogd, concurrent ones coalesced; rsyslogd survived each) during traffic: sent ${
          fmt(total)
        } via rsyslogd + ${fmt(total)} direct, arrived all (duplicates ${
          fmt(report.x.duplicates + report.y.duplicates)
        }), missing 0, dropped ${healthy.counters.dropped}; agent pid and rsyslogd pid unchanged, rsyslogd restarts ${healthy.rsyslogd.restarts}, state ${healthy.state}`,
      );
      assert.ok(await alive(agentPid), "the same agent process");
      assert.equal(healthy.agent.pid, agentPid);
      assert.equal(healthy.rsyslogd.pid, rsyslogdPid, "the same rsyslogd");
      assert.equal(healthy.rsyslogd.restarts, 0);
      assert.equal(healthy.counters.dropped, 0);
      for (const res of results) assert.equal(res.restarted, false, res.message);
      assert.ok(reloads >= 5, `${reloads} reloads were applied`);
      assert.ok(forwarders >= 2, `${forwarders} reloads replaced the forwarder`);
      assert.ok(hups >= 5, `${hups} HUPs reached rsyslogd`);
      assert.ok(hups < rotates.length, `concurrent rotates coalesce: ${hups} HUPs`);
      assert.ok(reloads < signals, `bursts of SIGHUPs coalesce: ${reloads} reloads`);
    } finally {
      await teardown(r);
    }
  },
);
