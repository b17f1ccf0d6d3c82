/**
 * RELP throughput, the agent next to rsyslog, in one run:
 *
 * ```
 * deno run -A --unstable-net bench/relp.ts [--count 100000] [--baseline-count 10000] [--size 256]
 * ```
 *
 * Every case sends sequence-numbered messages over TCP into a relay and times
 * them until the last one is written by the same `imrelp` collector (rsyslogd,
 * Direct queue: it answers `rsp 200` once the message is in its file):
 *
 * 1. rsyslogd `omrelp`, window 128 → imrelp (the baseline);
 * 2. the agent, RELP output (window 128) → imrelp;
 * 3. rsyslogd `omrelp`, window 1024 → imrelp;
 * 4. rsyslogd `omrelp`, window 1024 → the agent's RELP input → RELP output → imrelp.
 *
 * Ratios: 2 over 1 (same window, same job), and 4 over 3. librelp's client
 * stalls about 200 ms each time its window of 128 fills on loopback, which is
 * why case 1 runs fewer messages (`--baseline-count`) and case 3 is shown.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  checkSeqs,
  freePort,
  imrelpCollectorConf,
  omrelpRelayConf,
  RsyslogCollector,
  sendSeq,
  startAgent,
  startRsyslogd,
  waitFor,
} from "../testkit/mod.ts";

interface Result {
  name: string;
  count: number;
  seconds: number;
  perSecond: number;
  duplicates: number;
}

type Relay = { port: number; stop(): Promise<void> };

const { values } = parseArgs({
  args: Deno.args,
  options: {
    count: { type: "string", default: "100000" },
    "baseline-count": { type: "string", default: "10000" },
    size: { type: "string", default: "256" },
  },
});
const COUNT = positive(values.count, "--count");
const BASELINE_COUNT = positive(values["baseline-count"], "--baseline-count");
const SIZE = positive(values.size, "--size");

function positive(text: string | undefined, flag: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`bench/relp.ts: ${flag} expects a positive integer, got ${JSON.stringify(text)}`);
    Deno.exit(2);
  }
  return n;
}

/** rsyslogd: imtcp → omrelp with `window` → `relpPort`. */
async function rsyslogRelay(dir: string, relpPort: number, window: number): Promise<Relay> {
  const port = await freePort();
  await Deno.mkdir(dir, { recursive: true });
  const proc = await startRsyslogd({
    conf: omrelpRelayConf({ tcpPort: port, relpPort, dir, window }),
    dir,
    readyPort: port,
  });
  return { port, stop: () => proc.stop() };
}

/** The agent: TCP or RELP input → RELP output to `relpPort`. */
async function agentRelay(dir: string, relpPort: number, input: "tcp" | "relp"): Promise<Relay> {
  const port = await freePort();
  const agent = await startAgent({
    dir,
    readyPort: port,
    config: {
      inputs: [{ type: input, address: `127.0.0.1:${port}` }],
      collectors: [{ address: `127.0.0.1:${relpPort}`, protocol: "relp" }],
      log: { level: "warn" },
    },
  });
  return { port, stop: async () => void await agent.stop() };
}

/**
 * Runs one case: a fresh collector, the relay made by `relay`, `count`
 * messages in (through a second relay in front when `front` is given).
 */
async function run(
  name: string,
  count: number,
  relay: (dir: string, collectorPort: number) => Promise<Relay>,
  front?: (dir: string, relayPort: number) => Promise<Relay>,
): Promise<Result> {
  const dir = await Deno.makeTempDir({ prefix: "bench-relp-" });
  const collector = await RsyslogCollector.start(`${dir}/collector`, {
    conf: imrelpCollectorConf,
  });
  const relays: Relay[] = [];
  try {
    const r = await relay(`${dir}/relay`, collector.port);
    relays.push(r);
    let entry = r.port;
    if (front !== undefined) {
      const f = await front(`${dir}/front`, r.port);
      relays.push(f);
      entry = f.port;
    }
    const lineBytes = SIZE + 1;
    const t0 = performance.now();
    await sendSeq({ port: entry, count, size: SIZE, framing: "octet-counted" });
    await waitFor(async () => {
      const size = await Deno.stat(collector.file).then((s) => s.size, () => 0);
      return size >= count * lineBytes;
    }, { timeoutMs: 600_000, what: `${count} messages at the collector (${name})`, intervalMs: 5 });
    const seconds = (performance.now() - t0) / 1000;
    const report = checkSeqs(await collector.lines(), count);
    if (report.missingCount > 0) {
      throw new Error(
        `${name}: ${report.missingCount} message(s) missing: ${JSON.stringify(report)}`,
      );
    }
    return { name, count, seconds, perSecond: count / seconds, duplicates: report.duplicates };
  } finally {
    for (const r of relays.reverse()) await r.stop().catch(() => {});
    await collector.stop().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const results: Result[] = [];
const cases: [string, number, Parameters<typeof run>[2], Parameters<typeof run>[3]?][] = [
  ["1 rsyslog omrelp (window 128) → imrelp", BASELINE_COUNT, (d, p) => rsyslogRelay(d, p, 128)],
  ["2 agent RELP out (window 128) → imrelp", COUNT, (d, p) => agentRelay(d, p, "tcp")],
  ["3 rsyslog omrelp (window 1024) → imrelp", COUNT, (d, p) => rsyslogRelay(d, p, 1024)],
  [
    "4 omrelp (1024) → agent RELP in → RELP out (128) → imrelp",
    COUNT,
    (d, p) => agentRelay(d, p, "relp"),
    (d, p) => rsyslogRelay(d, p, 1024),
  ],
];
console.log(
  `RELP throughput, ${SIZE}-byte messages, rsyslogd ${await rsyslogVersion()}, Deno ${Deno.version.deno}`,
);
for (const [name, count, relay, front] of cases) {
  const r = await run(name, count, relay, front);
  results.push(r);
  console.log(
    `${r.name.padEnd(60)} ${String(r.count).padStart(7)} msgs  ${
      r.seconds.toFixed(2).padStart(7)
    } s  ${Math.round(r.perSecond).toString().padStart(7)} msg/s  duplicates ${r.duplicates}`,
  );
}
const [one, two, three, four] = results as [Result, Result, Result, Result];
console.log(
  `ratio agent RELP out / rsyslog omrelp, both window 128 (2/1): ${
    (two.perSecond / one.perSecond).toFixed(2)
  }×`,
);
console.log(
  `ratio omrelp→agent→imrelp / omrelp→imrelp, omrelp window 1024 (4/3): ${
    (four.perSecond / three.perSecond).toFixed(2)
  }×`,
);

async function rsyslogVersion(): Promise<string> {
  const out = await new Deno.Command("/usr/sbin/rsyslogd", { args: ["-v"], stdout: "piped" })
    .output();
  return /rsyslogd\s+(\S+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? "?";
}
