/**
 * Chaos: the agent restarted twice (SIGTERM, start) while a real rsyslogd
 * forwards to it at 3,000 msg/s over plain TCP (the omfwd action of
 * packaging/rsyslog/90-syslog-agent.conf) and another 3,000 msg/s over RELP
 * (omrelp). A stop reads what senders have in flight before it closes the
 * inputs. Over RELP nothing may be missing (omrelp resends what was not
 * answered); over plain TCP what is missing is the remaining window, measured
 * and reported.
 */

import assert from "node:assert/strict";
import {
  freePort,
  readLines,
  type RsyslogdProcess,
  startRsyslogd,
  waitFor,
} from "../../testkit/mod.ts";
import { sendSeqOnThread } from "./_sender_worker.ts";
import { fmt, opts, restartAgent, rig, summary, teardown } from "./_chaos.ts";

const RATE = 3000;
const TOTAL = 60_000;

/**
 * A relay rsyslogd: imtcp `fwdIn` forwarded with the omfwd action of today's
 * packaging snippet, imtcp `relpIn` with its omrelp variant (the same queue).
 */
function relayConf(dir: string, p: { fwdIn: number; relpIn: number; tcp: number; relp: number }) {
  return `global(workDirectory="${dir}" maxMessageSize="256k" net.enableDNS="off")
module(load="imtcp")
module(load="omrelp")
ruleset(name="fwd") {
  action(type="omfwd" name="syslog-agent"
         target="127.0.0.1" port="${p.tcp}" protocol="tcp"
         TCP_Framing="octet-counted"
         queue.type="LinkedList" queue.size="10000"
         queue.timeoutEnqueue="0"
         action.resumeRetryCount="-1" action.resumeInterval="1")
}
ruleset(name="relp") {
  action(type="omrelp" name="syslog-agent-relp" target="127.0.0.1" port="${p.relp}"
         windowSize="1024"
         queue.type="LinkedList" queue.size="10000"
         queue.timeoutEnqueue="0"
         action.resumeRetryCount="-1" action.resumeInterval="1")
}
input(type="imtcp" address="127.0.0.1" port="${p.fwdIn}" ruleset="fwd")
input(type="imtcp" address="127.0.0.1" port="${p.relpIn}" ruleset="relp")
`;
}

/** Unique sequence numbers per tag in the collector's lines. */
function tally(lines: string[]): Record<"fwd" | "relp", Set<number>> {
  const out = { fwd: new Set<number>(), relp: new Set<number>() };
  for (const l of lines) {
    const m = /\b(fwd|relp)\b.*?seq=(\d+)/.exec(l);
    if (m) out[m[1] as "fwd" | "relp"].add(Number(m[2]));
  }
  return out;
}

function missing(seen: Set<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < TOTAL; i++) if (!seen.has(i)) out.push(i);
  return out;
}

Deno.test(
  "chaos: two agent restarts under 3,000 msg/s from a real rsyslogd: RELP loses nothing, the TCP window is measured",
  opts,
  async () => {
    const relpPort = await freePort();
    const r = await rig("restart-load", {
      prepare: (_dir, port) =>
        Promise.resolve({
          inputs: [
            { type: "tcp", address: `127.0.0.1:${port}` },
            { type: "relp", address: `127.0.0.1:${relpPort}` },
          ],
        }),
    });
    let relay: RsyslogdProcess | undefined;
    try {
      const fwdIn = await freePort();
      const relpIn = await freePort();
      relay = await startRsyslogd({
        conf: relayConf(`${r.dir}/relay`, { fwdIn, relpIn, tcp: r.port, relp: relpPort }),
        dir: `${r.dir}/relay`,
        readyPort: relpIn,
      });
      const sending = Promise.all([
        sendSeqOnThread({
          port: fwdIn,
          count: TOTAL,
          size: 200,
          framing: "octet-counted",
          ratePerSec: RATE,
          tag: "fwd",
        }),
        sendSeqOnThread({
          port: relpIn,
          count: TOTAL,
          size: 200,
          framing: "octet-counted",
          ratePerSec: RATE,
          tag: "relp",
        }),
      ]);
      const downMs: number[] = [];
      for (const at of [6_000, 13_000]) {
        await waitFor(async () => (await readLines(r.collector.file)).length >= at, {
          timeoutMs: 30_000,
          what: `${at} messages at the collector`,
        });
        const t0 = performance.now();
        const st = await r.agent.stop("SIGTERM");
        assert.equal(st.code, 0, `clean exit: ${await r.agent.log()}`);
        await restartAgent(r);
        downMs.push(performance.now() - t0);
      }
      const sent = await sending;
      for (const s of sent) assert.equal(s.sent, TOTAL);
      // RELP must be complete; TCP settles when nothing more arrives.
      let last = -1;
      let steadySince = performance.now();
      const seen = await waitFor(async () => {
        const t = tally(await readLines(r.collector.file));
        const n = t.fwd.size + t.relp.size;
        if (n !== last) {
          last = n;
          steadySince = performance.now();
        }
        const settled = t.relp.size === TOTAL && (t.fwd.size === TOTAL ||
          performance.now() - steadySince > 5_000);
        return settled && t;
      }, { timeoutMs: 90_000, what: "every RELP message at the collector" }).catch(async (e) => {
        const t = tally(await readLines(r.collector.file));
        throw new Error(
          `${e.message}: relp ${t.relp.size}, fwd ${t.fwd.size} of ${TOTAL}; relp missing ${
            missing(t.relp).slice(0, 20)
          }`,
        );
      });
      const tcpMissing = missing(seen.fwd);
      summary(
        "restart-under-load",
        `rsyslogd forwarding ${fmt(TOTAL)} over omfwd (TCP) and ${fmt(TOTAL)} over omrelp, ${
          fmt(RATE)
        } msg/s each; agent restarted twice (down ${
          downMs.map((d) => (d / 1000).toFixed(1)).join(" s, ")
        } s): TCP missing ${tcpMissing.length} of ${fmt(TOTAL)}${
          tcpMissing.length > 0 ? ` (seq ${tcpMissing.slice(0, 10).join(", ")})` : ""
        }, RELP missing 0 of ${fmt(TOTAL)}`,
      );
    } finally {
      await relay?.stop();
      await teardown(r);
    }
  },
);
