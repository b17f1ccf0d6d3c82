// The whole agent in one process: a unix input, a temp spool, collectors on the
// memory network and a fake clock for backoff, failover and failback. Real time
// is spent only on the unix socket and the spool's writes: milliseconds.

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Agent } from "./agent.ts";
import { type Config, parseConfig } from "../config/mod.ts";
import { FakeClock, Logger } from "../ground/mod.ts";
import { renderMetrics, SdNotify } from "../control/mod.ts";
import { MemoryNetwork, octets, SlowSyncFs, waitFor } from "../testkit/mod.ts";

const quiet = new Logger({ level: "error", format: "text", journal: false, write: () => {} });

interface Rig {
  dir: string;
  socket: string;
  clock: FakeClock;
  net: MemoryNetwork;
  agent: Agent;
  sent: number;
  /** Sends `n` numbered messages on one connection of the unix input. */
  send(n: number): Promise<void>;
  /** Waits (real time, with a deadline) until the agent has received everything sent. */
  received(): Promise<void>;
  /** Advances the fake clock in steps until `cond` holds. */
  advanceUntil(cond: () => boolean, what: string, stepMs?: number): Promise<void>;
}

/** Collectors by address; `"a,b,c"` is a pool of those three. */
function configText(
  dir: string,
  collectors: string[],
  mode = "fallback",
  sync = "never",
): string {
  return JSON.stringify({
    inputs: [{ type: "unix", path: `${dir}/in.sock` }],
    collectors: collectors.map((address) =>
      address.includes(",")
        ? { addresses: address.split(","), protocol: "tcp" }
        : { address, protocol: "tcp" }
    ),
    spool: { dir: `${dir}/spool`, mode, sync },
    control: { socket: `${dir}/agent.sock`, metrics: "" },
    log: { level: "error" },
  });
}

async function withAgent(
  collectors: string[],
  fn: (rig: Rig) => Promise<void>,
  opts: { mode?: string; sync?: string; spoolFs?: SlowSyncFs; load?: (dir: string) => Config } = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "agent_in_process_" });
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const net = new MemoryNetwork();
  const config = parseConfig(configText(dir, collectors, opts.mode, opts.sync), "inline");
  const agent = await Agent.start(config, quiet, {
    clock,
    dial: net.dial,
    notify: new SdNotify({}),
    ...(opts.spoolFs === undefined ? {} : { spoolFs: opts.spoolFs }),
    ...(opts.load === undefined ? {} : { load: () => Promise.resolve(opts.load!(dir)) }),
  });
  const rig: Rig = {
    dir,
    socket: `${dir}/in.sock`,
    clock,
    net,
    agent,
    sent: 0,
    async send(n) {
      const conn = await Deno.connect({ transport: "unix", path: rig.socket });
      await conn.write(octets(Array.from({ length: n }, () => `<13>host app: seq=${rig.sent++}`)));
      conn.close();
    },
    async received() {
      await waitFor(() => agent.status().counters.received >= rig.sent, {
        timeoutMs: 5_000,
        what: `${rig.sent} messages received`,
      });
    },
    async advanceUntil(cond, what, stepMs = 500) {
      await waitFor(async () => {
        if (cond()) return true;
        await clock.advance(stepMs);
        return cond();
      }, { timeoutMs: 10_000, what, intervalMs: 1 });
    },
  };
  try {
    await fn(rig);
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The sequence numbers in `frames`, which must all be ours. */
function seqsOf(frames: string[]): number[] {
  return frames.map((f) => {
    const m = /seq=(\d+)$/.exec(f);
    assert(m, `not one of ours: ${f}`);
    return Number(m[1]);
  });
}

/** Every number below `n`, at least once, first seen in increasing order. */
function assertComplete(seqs: number[], n: number): void {
  const firsts: number[] = [];
  const seen = new Set<number>();
  for (const s of seqs) {
    if (!seen.has(s)) firsts.push(s);
    seen.add(s);
  }
  assertEquals(firsts, Array.from({ length: n }, (_, i) => i), "each message, in order");
}

Deno.test("agent in process: collector down, the spool takes everything; it comes back after backoff, the spool drains in order", async () => {
  await withAgent(["10.0.0.1:514"], async (rig) => {
    await rig.send(500);
    await rig.received();
    const down = rig.agent.status();
    assertEquals(down.collectors[0]!.state, "down");
    assertEquals(down.inputs, [{
      name: `unix:${rig.socket}`,
      listening: true,
      problem: "",
      lastReceivedAt: new Date(rig.clock.now()).toISOString(),
    }]);
    await waitFor(() => rig.agent.status().spool.messages === 500, {
      timeoutMs: 5_000,
      what: "all 500 in the spool",
    });
    assertEquals(rig.agent.status().state === "ok", false, "not ok while spooling");
    // The collector starts; the forwarder finds it at its next attempt (fake time).
    const collector = rig.net.listen("10.0.0.1:514");
    await rig.send(100);
    await rig.received();
    await rig.advanceUntil(() => collector.frames().length >= 600, "the spool to drain");
    assertComplete(seqsOf(collector.frames()), 600);
    const after = rig.agent.status();
    assertEquals(after.collectors[0]!.state, "up");
    await rig.advanceUntil(() => rig.agent.status().spool.messages === 0, "the spool empty");
    assertEquals(rig.agent.status().counters.dropped, 0);
  });
});

Deno.test("agent in process: the first collector refuses, the second takes the traffic; the first gets it back once it has been up for a while", async () => {
  await withAgent(["10.0.0.1:514", "10.0.0.2:514"], async (rig) => {
    const second = rig.net.listen("10.0.0.2:514");
    await rig.send(200);
    await rig.received();
    await rig.advanceUntil(() => second.frames().length >= 200, "failover to the second");
    const st = rig.agent.status().collectors;
    assertEquals([st[0]!.state, st[1]!.state], ["down", "up"]);
    assert(st[0]!.lastError !== "", "the first says why it is down");
    // The first comes back: after failbackAfterMs of it being connectable, traffic returns.
    const first = rig.net.listen("10.0.0.1:514");
    await rig.advanceUntil(
      () => rig.agent.status().collectors[0]!.state === "up",
      "failback to the first",
      1_000,
    );
    await rig.send(100);
    await rig.received();
    await rig.advanceUntil(() => first.frames().length >= 100, "new traffic on the first", 100);
    assertComplete(seqsOf([...second.frames(), ...first.frames()]), 300);
  });
});

Deno.test("agent in process: a reload to another collector under traffic loses nothing and keeps order", async () => {
  let next = "";
  await withAgent(["10.0.0.1:514"], async (rig) => {
    const a = rig.net.listen("10.0.0.1:514");
    const b = rig.net.listen("10.0.0.2:514");
    await rig.send(300);
    await rig.received();
    await rig.advanceUntil(() => a.frames().length >= 100, "traffic on the first collector", 10);
    // The first collector stops reading: what the forwarder wrote since is unconfirmed, in hand.
    for (const peer of a.peers) peer.stall();
    await rig.send(300);
    await rig.received();
    next = configText(rig.dir, ["10.0.0.2:514"]);
    let answer: string | undefined;
    rig.agent.reload().then((text) => answer = text);
    await rig.advanceUntil(() => answer !== undefined, "the reload", 100);
    assert(/collectors 10\.0\.0\.2:514/.test(answer!), answer);
    await rig.send(300);
    await rig.received();
    await rig.advanceUntil(() => {
      const seqs = new Set(seqsOf([...a.frames(), ...b.frames()]));
      return seqs.size >= 900;
    }, "every message at one collector or the other");
    assertComplete(seqsOf([...a.frames(), ...b.frames()]), 900);
    assertEquals(rig.agent.status().collectors.map((c) => c.address), ["10.0.0.2:514"]);
  }, { load: () => parseConfig(next, "inline") });
});

Deno.test("agent in process: a disk that falls behind shows as the durability lag and makes the state degraded, without blocking the sender", async () => {
  const fs = new SlowSyncFs();
  await withAgent(["10.0.0.1:514"], async (rig) => {
    const collector = rig.net.listen("10.0.0.1:514");
    await rig.send(10);
    await rig.received();
    await rig.advanceUntil(() => collector.frames().length >= 10, "the first 10 delivered", 10);
    assertEquals(rig.agent.status().state, "ok");
    // The disk stops completing fdatasyncs: 200 more arrive, and are not durable.
    fs.hold();
    await rig.send(200);
    await rig.received();
    await waitFor(() => rig.agent.status().spool.lag.messages === 200, {
      timeoutMs: 5_000,
      what: "200 messages in the lag",
    });
    await rig.clock.advance(2_500);
    const behind = rig.agent.status();
    assertEquals(behind.state, "degraded");
    assertEquals(behind.spool.lag.messages, 200);
    assertEquals(behind.spool.lag.ageSeconds, 2.5);
    assert(
      behind.reasons.some((r) =>
        r.startsWith("the disk is behind: 2.5 s of messages not yet durable (200 message(s)")
      ),
      behind.reasons.join("; "),
    );
    const metrics = renderMetrics(behind, { notTaken: 0, deadLettered: 0 });
    assert(metrics.includes("\nsyslog_agent_durability_lag_messages 200\n"), metrics);
    assert(metrics.includes("\nsyslog_agent_durability_lag_seconds 2.5\n"), metrics);
    // The disk catches up: the lag is gone, everything is delivered.
    fs.release();
    await rig.advanceUntil(() => collector.frames().length >= 210, "the 200 delivered", 10);
    assertEquals(rig.agent.status().spool.lag, { messages: 0, bytes: 0, ageSeconds: 0 });
    assertComplete(seqsOf(collector.frames()), 210);
  }, { mode: "always", sync: "always", spoolFs: fs });
});

Deno.test("agent in process: a pool of three shares the traffic; one member crashes, the others take what it had, nothing is lost; status shows each member", async () => {
  await withAgent(["10.0.0.1:514,10.0.0.2:514,10.0.0.3:514"], async (rig) => {
    const ls = ["10.0.0.1:514", "10.0.0.2:514", "10.0.0.3:514"].map((a) => rig.net.listen(a));
    await rig.advanceUntil(
      () => rig.agent.status().collectors[0]!.members?.every((m) => m.state === "up") === true,
      "every member up",
      10,
    );
    await rig.clock.advance(10_000); // past the ramp
    for (let i = 0; i < 30; i++) await rig.send(10);
    await rig.received();
    await rig.advanceUntil(
      () => ls.reduce((n, l) => n + l.frames().length, 0) >= 300,
      "300 delivered",
      10,
    );
    const shares = ls.map((l) => l.frames().length);
    assert(shares.every((n) => n > 0), `every member took some: ${shares}`);
    ls[1]!.crash();
    for (let i = 0; i < 30; i++) await rig.send(10);
    await rig.received();
    await rig.advanceUntil(
      () => new Set(seqsOf([ls[0]!, ls[2]!].flatMap((l) => l.frames()))).size === 600,
      "all 600 on the two left",
      10,
    );
    const st = rig.agent.status();
    assertEquals(st.collectors[0]!.state, "up");
    const members = st.collectors[0]!.members!;
    assertEquals(members.map((m) => m.state), ["up", "down", "up"]);
    assert(members[1]!.lastError !== "", "the crashed member says why");
    assertEquals(members.reduce((n, m) => n + m.forwarded, 0), 600);
    assertEquals(st.state, "degraded", "a member down is degraded");
    assert(
      st.reasons.some((r) =>
        r.startsWith("pool 10.0.0.1:514,10.0.0.2:514,10.0.0.3:514: member 10.0.0.2:514 down")
      ),
      st.reasons.join("; "),
    );
  });
});
