/**
 * Collectors named by DNS, with real processes: the agent and rsyslogd
 * collectors on 127.0.0.2-4 in a private network namespace whose hosts file
 * (and, for SRV, a small DNS server of the test's) names them. Messages go in
 * through a unix socket input (not network-namespaced), so the test process
 * sends directly.
 *
 * - `address` with a name: a name whose first address refuses falls through
 *   to the next; a name moved to another address is followed on reconnect.
 * - `addresses` with a name: each of its addresses is a member; one added to
 *   the hosts file joins without a reload.
 * - `srv`: the targets of the SRV answer share the traffic.
 */

import assert from "node:assert/strict";
import {
  type AgentProcess,
  checkSeqs,
  freePort,
  NetNs,
  NetnsCollector,
  netnsUnavailable,
  octets,
  seqMessage,
  spawnLogged,
  startNetnsAgent,
  tempDir,
  waitFor,
} from "../testkit/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const unavailable = await netnsUnavailable();

/** A namespace, collectors at the given addresses (not started), a temp dir. */
interface World {
  ns: NetNs;
  dir: string;
  port: number;
  collectors: Map<string, NetnsCollector>;
  agent?: AgentProcess;
  sent: number;
}

async function world(hosts: string): Promise<World> {
  const dir = await tempDir("names-");
  const ns = await NetNs.create({
    prefix: "syslog-names-",
    hosts: `127.0.0.1 localhost\n${hosts}`,
  });
  return { ns, dir: dir.path, port: await freePort(), collectors: new Map(), sent: 0 };
}

async function collectorAt(w: World, address: string): Promise<NetnsCollector> {
  const c = await NetnsCollector.start({
    netns: w.ns.name,
    dir: `${w.dir}/collector-${address}`,
    address,
    port: w.port,
  });
  w.collectors.set(address, c);
  return c;
}

async function startAgentWith(w: World, collector: Record<string, unknown>): Promise<void> {
  w.agent = await startNetnsAgent({
    netns: w.ns.name,
    dir: `${w.dir}/agent`,
    config: {
      inputs: [{ type: "unix", path: `${w.dir}/agent/in.sock` }],
      collectors: [{ ...collector, connectTimeoutMs: 1000, writeTimeoutMs: 1000 }],
      spool: { dir: `${w.dir}/agent/spool` },
      log: { level: "info" },
    },
  });
  await waitFor(() => Deno.stat(`${w.dir}/agent/in.sock`).then(() => true, () => false), {
    timeoutMs: 15_000,
    what: "the agent's unix input",
  });
}

/** Sends `n` numbered messages over the unix input, `perWrite` to a write. */
async function send(w: World, n: number, perWrite = 10): Promise<void> {
  const conn = await Deno.connect({ transport: "unix", path: `${w.dir}/agent/in.sock` });
  try {
    for (let i = 0; i < n; i += perWrite) {
      const seqs = Array.from({ length: Math.min(n, i + perWrite) - i }, (_, j) => w.sent + i + j);
      await conn.write(octets(seqs.map((seq) => seqMessage(seq, 120))));
    }
  } finally {
    conn.close();
  }
  w.sent += n;
}

async function linesOf(c: NetnsCollector): Promise<string[]> {
  return (await Deno.readTextFile(c.file).catch(() => "")).split("\n").filter((l) => l !== "");
}

async function allLines(w: World): Promise<string[]> {
  const out: string[] = [];
  for (const c of w.collectors.values()) out.push(...await linesOf(c));
  return out;
}

async function allArrive(w: World): Promise<void> {
  await waitFor(async () => checkSeqs(await allLines(w), w.sent).missingCount === 0, {
    timeoutMs: 30_000,
    what: `all ${w.sent} at the collectors`,
  }).catch(async (e) => {
    throw new Error(`${e.message}: ${JSON.stringify(checkSeqs(await allLines(w), w.sent))}`);
  });
}

async function teardown(w: World, also: () => Promise<void> = () => Promise.resolve()) {
  await w.agent?.stop("SIGKILL").catch(() => {});
  for (const c of w.collectors.values()) await c.stop().catch(() => {});
  await also().catch(() => {});
  await w.ns.remove();
  await Deno.remove(w.dir, { recursive: true }).catch(() => {});
}

const ignored = unavailable === undefined ? "" : ` (ignored: ${unavailable})`;

Deno.test({
  name:
    `names: one collector by name: its first address refuses, the next takes the traffic; the name moved to another address is followed on reconnect${ignored}`,
  ignore: unavailable !== undefined,
  ...opts,
  fn: async () => {
    const w = await world("127.0.0.2 logs.test\n127.0.0.3 logs.test\n");
    try {
      const third = await collectorAt(w, "127.0.0.3"); // .2 refuses: nothing listens there
      await startAgentWith(w, { address: `logs.test:${w.port}` });
      await send(w, 500);
      await waitFor(async () => (await linesOf(third)).length >= 500, {
        timeoutMs: 15_000,
        what: "500 at 127.0.0.3",
      });
      // The name moves to .4; the collector at .3 goes away: the reconnect follows the name.
      await w.ns.writeHosts("127.0.0.1 localhost\n127.0.0.4 logs.test\n");
      const fourth = await collectorAt(w, "127.0.0.4");
      await third.kill();
      await send(w, 500);
      await waitFor(async () => (await linesOf(fourth)).length > 0, {
        timeoutMs: 15_000,
        what: "traffic at 127.0.0.4",
      });
      await allArrive(w);
      const st = await w.agent!.statusJson() as { collectors: { address: string }[] };
      assert.equal(st.collectors[0]!.address, `logs.test:${w.port}`);
    } finally {
      await teardown(w);
    }
  },
});

Deno.test({
  name:
    `names: a pool by name: each of its addresses is a member sharing the traffic; an address added to the hosts file joins without a reload${ignored}`,
  ignore: unavailable !== undefined,
  ...opts,
  fn: async () => {
    const w = await world("127.0.0.2 pool.test\n127.0.0.3 pool.test\n");
    try {
      for (const a of ["127.0.0.2", "127.0.0.3", "127.0.0.4"]) await collectorAt(w, a);
      await startAgentWith(w, { addresses: [`pool.test:${w.port}`], resolveIntervalMs: 1000 });
      for (let i = 0; i < 20; i++) await send(w, 100);
      await allArrive(w);
      const first = await Promise.all(
        ["127.0.0.2", "127.0.0.3", "127.0.0.4"].map(async (a) =>
          (await linesOf(w.collectors.get(a)!)).length
        ),
      );
      assert.ok(first[0]! > 0 && first[1]! > 0, `both members took some: ${first}`);
      assert.equal(first[2], 0, "127.0.0.4 is not named yet");
      await w.ns.appendHosts("127.0.0.4 pool.test\n");
      const fourth = w.collectors.get("127.0.0.4")!;
      await waitFor(async () => {
        const st = await w.agent!.statusJson() as {
          collectors: { members?: { address: string; state: string }[] }[];
        };
        return st.collectors[0]!.members?.some((m) =>
          m.address === `127.0.0.4:${w.port}` && m.state === "up"
        );
      }, { timeoutMs: 15_000, what: "127.0.0.4 a member, up" });
      // Past its ramp (10 s from a tenth of its weight), it takes a share of what comes next.
      for (let i = 0; i < 20; i++) await send(w, 100);
      await waitFor(async () => (await linesOf(fourth)).length > 0, {
        timeoutMs: 15_000,
        what: "traffic at the new member",
      });
      await allArrive(w);
    } finally {
      await teardown(w);
    }
  },
});

Deno.test({
  name:
    `names: a pool from an SRV answer: its targets share the traffic, the higher priority idles${ignored}`,
  ignore: unavailable !== undefined,
  ...opts,
  fn: async () => {
    const w = await world("127.0.0.2 c2.test\n127.0.0.3 c3.test\n127.0.0.4 c4.test\n");
    let dns: ReturnType<typeof spawnLogged> | undefined;
    try {
      for (const a of ["127.0.0.2", "127.0.0.3", "127.0.0.4"]) await collectorAt(w, a);
      await Deno.writeTextFile(`/etc/netns/${w.ns.name}/resolv.conf`, "nameserver 127.0.0.53\n");
      const table = {
        "_syslog._tcp.fleet.test": [
          { target: "c2.test", port: w.port, priority: 10, weight: 1 },
          { target: "c3.test", port: w.port, priority: 10, weight: 1 },
          { target: "c4.test", port: w.port, priority: 20, weight: 1 },
        ],
      };
      const script = new URL("../testkit/dns_server.ts", import.meta.url).pathname;
      const [cmd, ...args] = w.ns.argv([
        Deno.execPath(),
        "run",
        "--allow-net",
        "--allow-read",
        script,
        "127.0.0.53",
        "53",
        JSON.stringify(table),
      ]);
      dns = spawnLogged({ cmd: cmd!, args, logPath: `${w.dir}/dns.log` });
      await waitFor(
        async () => (await Deno.readTextFile(`${w.dir}/dns.log`).catch(() => "")).includes("dns:"),
        { timeoutMs: 15_000, what: "the DNS server" },
      );
      await startAgentWith(w, { srv: "_syslog._tcp.fleet.test" });
      for (let i = 0; i < 20; i++) await send(w, 100);
      await allArrive(w);
      const counts = await Promise.all(
        ["127.0.0.2", "127.0.0.3", "127.0.0.4"].map(async (a) =>
          (await linesOf(w.collectors.get(a)!)).length
        ),
      );
      assert.ok(counts[0]! > 0 && counts[1]! > 0, `priority 10 shares: ${counts}`);
      assert.equal(counts[2], 0, "priority 20 idles while priority 10 is up");
    } finally {
      await teardown(w, async () => {
        await dns?.stop(2_000, "SIGKILL");
      });
    }
  },
});
