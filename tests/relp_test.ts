/**
 * End-to-end: RELP on both sides of the agent, with real rsyslogd (omrelp in
 * front, imrelp behind), kills, a misbehaving RELP collector and a raw RELP
 * client.
 */

import assert from "node:assert/strict";
import {
  type AgentProcess,
  checkSeqs,
  FakeCollector,
  freePort,
  imrelpCollectorConf,
  omrelpRelayConf,
  RsyslogCollector,
  type RsyslogdProcess,
  sendSeq,
  type SeqReport,
  startAgent,
  startRsyslogd,
  waitFor,
} from "../testkit/mod.ts";
import { type RelpFrame, RelpFrameParser } from "../relay/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TOTAL = 100_000;
/**
 * omrelp's own window in front of the agent. librelp's client, with its
 * default of 128, stalls about 200 ms each time its window fills on loopback
 * (whoever the server is: rsyslog's imrelp shows the same), which would make
 * 100,000 messages take minutes; the agent's side is what is tested here.
 */
const OMRELP_WINDOW = 1024;

interface Collectorish {
  lines(): Promise<string[]>;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
  readonly port: number;
}

interface Chain {
  dir: string;
  collector: Collectorish;
  agent: AgentProcess;
  relay: RsyslogdProcess;
  tcpPort: number;
  relpPort: number;
}

/** rsyslogd (imtcp → omrelp) → agent (RELP in, `protocol` out) → `collector`. */
async function chain(o: {
  protocol: "relp" | "tcp";
  spool?: Record<string, unknown>;
  replayWindow?: number | string;
}): Promise<Chain> {
  const dir = await Deno.makeTempDir({ prefix: "agent-relp-" });
  const collector: Collectorish = o.protocol === "relp"
    ? await RsyslogCollector.start(`${dir}/collector`, { conf: imrelpCollectorConf })
    : await RsyslogCollector.start(`${dir}/collector`);
  const relpPort = await freePort();
  const agent = await startAgent({
    dir: `${dir}/agent`,
    readyPort: relpPort,
    config: {
      inputs: [{ type: "relp", address: `127.0.0.1:${relpPort}` }],
      collectors: [{
        address: `127.0.0.1:${collector.port}`,
        protocol: o.protocol,
        connectTimeoutMs: 1000,
        writeTimeoutMs: 2000,
        ...(o.replayWindow === undefined ? {} : { replayWindow: o.replayWindow }),
      }],
      spool: { ...o.spool },
      log: { level: "debug" },
    },
  });
  const tcpPort = await freePort();
  const relayDir = `${dir}/relay`;
  await Deno.mkdir(relayDir);
  const relay = await startRsyslogd({
    conf: omrelpRelayConf({ tcpPort, relpPort, dir: relayDir, window: OMRELP_WINDOW }),
    dir: relayDir,
    readyPort: tcpPort,
  });
  return { dir, collector, agent, relay, tcpPort, relpPort };
}

async function teardown(c: Chain): Promise<void> {
  await c.relay.stop().catch(() => {});
  await c.agent.stop("SIGKILL").catch(() => {});
  await c.collector.stop().catch(() => {});
  await Deno.remove(c.dir, { recursive: true }).catch(() => {});
}

async function restartAgent(c: Chain): Promise<void> {
  c.agent = await startAgent({
    dir: `${c.dir}/agent`,
    readyPort: c.relpPort,
    config: JSON.parse(await Deno.readTextFile(`${c.dir}/agent/agent.json`)),
  });
}

async function collectorState(agent: AgentProcess): Promise<string> {
  const st = await agent.statusJson();
  return (st.collectors as { state: string }[])[0]!.state;
}

/** Waits until the collector holds at least `n` lines; returns how many distinct messages it has. */
async function linesAtLeast(c: Chain, n: number): Promise<number> {
  const lines = await waitFor(async () => {
    const l = await c.collector.lines();
    return l.length >= n && l;
  }, { timeoutMs: 30_000, what: `${n} lines at the collector` });
  return checkSeqs(lines, TOTAL).unique;
}

/** Every sequence number at the collector, or a timeout naming what is missing. */
async function allArrive(c: Chain, timeoutMs = 60_000): Promise<SeqReport> {
  return await waitFor(async () => {
    const r = checkSeqs(await c.collector.lines(), TOTAL);
    return r.missingCount === 0 && r;
  }, { timeoutMs, what: `all ${TOTAL} sequence numbers at the collector` }).catch(async (e) => {
    const r = checkSeqs(await c.collector.lines(), TOTAL);
    throw new Error(
      `${e.message}: ${JSON.stringify(r)}\n--- agent log tail:\n${
        (await c.agent.log()).split("\n").slice(-30).join("\n")
      }`,
    );
  });
}

/**
 * The kill schedule while the stream flows: the collector SIGKILLed at 15% and
 * 75% of the lines (each time brought back once the agent has seen it go), the
 * agent SIGKILLed at 45% and started again on the same spool.
 */
async function killDuringStream(c: Chain): Promise<string> {
  const points: string[] = [];
  for (const [at, victim] of [[0.15, "collector"], [0.45, "agent"], [0.75, "collector"]] as const) {
    const seen = await linesAtLeast(c, Math.floor(TOTAL * at));
    assert.ok(
      seen < TOTAL,
      `the ${victim} kill with ${seen} messages delivered comes before the end`,
    );
    points.push(`${victim} at ${seen}`);
    if (victim === "collector") {
      await c.collector.kill();
      await waitFor(async () => (await collectorState(c.agent)) !== "up", {
        timeoutMs: 10_000,
        what: "the agent to see the collector go",
      });
      await c.collector.restart();
    } else {
      await c.agent.stop("SIGKILL");
      await restartAgent(c);
    }
  }
  return points.join(", ");
}

Deno.test(
  "omrelp → agent (RELP in, RELP out) → imrelp: 100,000 messages, every one arrives",
  opts,
  async () => {
    const c = await chain({ protocol: "relp" });
    try {
      const t0 = performance.now();
      const sent = await sendSeq({
        port: c.tcpPort,
        count: TOTAL,
        size: 256,
        framing: "octet-counted",
      });
      assert.equal(sent.sent, TOTAL);
      const report = await allArrive(c);
      const secs = (performance.now() - t0) / 1000;
      const st = await c.agent.statusJson();
      console.log(
        `summary: relp→relp: sent ${TOTAL}, unique ${report.unique}, duplicates ${report.duplicates}, ` +
          `out of order ${report.outOfOrder}, ${Math.round(TOTAL / secs)} msg/s end to end`,
      );
      assert.equal(report.outOfOrder, 0);
      assert.equal((st.counters as { received: number }).received, TOTAL, "no resends needed");
    } finally {
      await teardown(c);
    }
  },
);

Deno.test(
  "RELP both sides, spool always: collector SIGKILLed twice and agent once mid-stream, no gap",
  opts,
  async () => {
    const c = await chain({ protocol: "relp", spool: { mode: "always" } });
    try {
      const sending = sendSeq({
        port: c.tcpPort,
        count: TOTAL,
        size: 256,
        framing: "octet-counted",
        ratePerSec: 20_000,
      });
      const kills = await killDuringStream(c);
      assert.equal((await sending).sent, TOTAL);
      const report = await allArrive(c);
      console.log(
        `summary: relp→relp with SIGKILLs (${kills}): sent ${TOTAL}, ` +
          `missing ${report.missingCount}, duplicates ${report.duplicates}`,
      );
      assert.equal(report.missingCount, 0);
    } finally {
      await teardown(c);
    }
  },
);

for (const window of ["2MiB", 0] as const) {
  Deno.test(
    `for comparison: the same stream and kills over plain TCP, replayWindow ${window} (reported, not asserted)`,
    opts,
    async () => {
      const c = await chain({ protocol: "tcp", spool: { mode: "always" }, replayWindow: window });
      try {
        const sending = sendSeq({
          port: c.tcpPort,
          count: TOTAL,
          size: 256,
          framing: "octet-counted",
          ratePerSec: 20_000,
        });
        const kills = await killDuringStream(c);
        assert.equal((await sending).sent, TOTAL);
        // Plain TCP may lose messages: wait for all, or until nothing more comes for 3 s.
        let last = -1;
        let stableSince = performance.now();
        const report = await waitFor(async () => {
          const r = checkSeqs(await c.collector.lines(), TOTAL);
          if (r.received !== last) {
            last = r.received;
            stableSince = performance.now();
          }
          return (r.missingCount === 0 || performance.now() - stableSince > 3000) && r;
        }, { timeoutMs: 60_000, what: "the TCP collector to settle" });
        console.log(
          `summary: relp→tcp (replayWindow ${window}) with SIGKILLs (${kills}): ` +
            `sent ${TOTAL}, missing ${report.missingCount}, duplicates ${report.duplicates}`,
        );
        assert.ok(report.unique > TOTAL / 2, `most messages arrive: ${JSON.stringify(report)}`);
      } finally {
        await teardown(c);
      }
    },
  );
}

// ---------------------------------------------------------------------------
// A RELP collector that misbehaves on purpose.

type Misbehavior =
  | "bad frame"
  | "wrong txnr"
  | "oversized DATALEN"
  | "no rsp"
  | "rsp 500"
  | "good"
  | "poison";

/** What a connection of {@linkcode FakeRelpCollector} does; `poison`: refuses messages containing `match`. */
interface Step {
  kind: Misbehavior;
  after: number;
  match?: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A RELP server on 127.0.0.1: connection k follows `script[k]` (the last entry
 * repeats): it answers `open` and the first `after` messages properly, then
 * misbehaves once and answers nothing more (`poison`: answers every message
 * `200` but one containing `match`, which gets `500`). `acked` holds every
 * message it answered `200 OK`: what the agent may consider delivered.
 */
class FakeRelpCollector {
  readonly port: number;
  readonly acked: string[] = [];
  connections = 0;
  #listener: Deno.Listener;
  #conns: Deno.Conn[] = [];
  #script: Step[];

  private constructor(port: number, script: Step[]) {
    this.port = port;
    this.#script = script;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port });
    this.#accept();
  }

  static async start(script: Step[]): Promise<FakeRelpCollector> {
    return new FakeRelpCollector(await freePort(), script);
  }

  close(): void {
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const step = this.#script[Math.min(this.connections, this.#script.length - 1)]!;
        this.connections++;
        this.#conns.push(conn);
        this.#serve(conn, step);
      }
    } catch {
      // Closed.
    }
  }

  async #serve(conn: Deno.Conn, step: Step): Promise<void> {
    const parser = new RelpFrameParser({ maxData: 1024 * 1024 });
    const buf = new Uint8Array(65536);
    let messages = 0;
    let broken = false;
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        let out = "";
        parser.push(buf.subarray(0, n), (f: RelpFrame) => {
          if (broken) return;
          if (f.command === "open") {
            const offers = "200 OK\nrelp_version=0\nrelp_software=fake\ncommands=syslog";
            out += `${f.txnr} rsp ${offers.length} ${offers}\n`;
            return;
          }
          if (f.command === "close") {
            out += `${f.txnr} rsp 0\n`;
            return;
          }
          const poison = step.kind === "poison" && dec.decode(f.data).includes(step.match ?? "");
          if (
            step.kind === "good" || (step.kind === "poison" && !poison) || messages < step.after
          ) {
            messages++;
            this.acked.push(dec.decode(f.data));
            out += `${f.txnr} rsp 6 200 OK\n`;
            return;
          }
          broken = true;
          switch (step.kind) {
            case "bad frame":
              out += "this is not a RELP frame\n";
              break;
            case "wrong txnr":
              out += `${f.txnr + 7} rsp 6 200 OK\n`;
              break;
            case "oversized DATALEN":
              out += `${f.txnr} rsp 999999999 200 OK`;
              break;
            case "rsp 500":
              out += `${f.txnr} rsp 13 500 disk full\n`;
              break;
            case "poison":
              out += `${f.txnr} rsp 15 500 bad message\n`;
              break;
            case "no rsp":
              break;
          }
        });
        if (out !== "") await conn.write(enc.encode(out));
      }
    } catch {
      // Reset or closed.
    }
  }
}

Deno.test(
  "a misbehaving RELP collector (bad frame, wrong txnr, oversized DATALEN, no rsp, 500): reconnect, resend, nothing lost",
  opts,
  async () => {
    const script: { kind: Misbehavior; after: number }[] = [
      { kind: "bad frame", after: 700 },
      { kind: "wrong txnr", after: 500 },
      { kind: "oversized DATALEN", after: 300 },
      { kind: "no rsp", after: 200 },
      { kind: "rsp 500", after: 100 },
      { kind: "good", after: 0 },
    ];
    const fake = await FakeRelpCollector.start(script);
    const dir = await Deno.makeTempDir({ prefix: "agent-relp-fake-" });
    const port = await freePort();
    const agent = await startAgent({
      dir,
      readyPort: port,
      config: {
        inputs: [{ type: "tcp", address: `127.0.0.1:${port}` }],
        collectors: [{
          address: `127.0.0.1:${fake.port}`,
          protocol: "relp",
          connectTimeoutMs: 1000,
          writeTimeoutMs: 1000,
        }],
        log: { level: "debug" },
      },
    });
    try {
      const total = 5000;
      const sent = await sendSeq({ port, count: total, size: 200, framing: "octet-counted" });
      assert.equal(sent.sent, total);
      const report = await waitFor(() => {
        const r = checkSeqs(fake.acked, total);
        return r.missingCount === 0 && r;
      }, { timeoutMs: 30_000, what: "every message acknowledged by the fake collector" }).catch(
        async (e) => {
          throw new Error(
            `${e.message}: ${JSON.stringify(checkSeqs(fake.acked, total))}\n${await agent.log()}`,
          );
        },
      );
      const log = await agent.log();
      for (
        const expected of [
          /RELP protocol error from collector: RELP frame must start with a TXNR/,
          /RELP protocol error from collector: rsp for txnr \d+, expected \d+/,
          /RELP protocol error from collector: RELP DATALEN 999999999 exceeds the maximum/,
          /no RELP response within 1000 ms/,
          /collector answered "500 disk full" to message txnr \d+/,
        ]
      ) {
        assert.match(log, expected);
      }
      assert.ok(fake.connections >= script.length, `reconnected: ${fake.connections} connections`);
      const st = await agent.statusJson();
      assert.equal((st.collectors as { state: string }[])[0]!.state, "up");
      const status = await Promise.race([agent.status, Promise.resolve(undefined)]);
      assert.equal(status, undefined, "the agent is still running");
      console.log(
        `summary: misbehaving RELP collector: ${fake.connections} connections, ${total} sent, ` +
          `${report.unique} acknowledged, duplicates ${report.duplicates}`,
      );
    } finally {
      fake.close();
      await agent.stop("SIGKILL").catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

// ---------------------------------------------------------------------------
// The RELP input against a raw client.

/** `TXNR SP COMMAND SP DATALEN SP DATA LF` as text. */
function frame(txnr: number, command: string, data: string): string {
  return `${txnr} ${command} ${enc.encode(data).length} ${data}\n`;
}

/** A raw RELP client: write frames, read answers. */
class RawRelp {
  #conn: Deno.Conn;
  #parser = new RelpFrameParser({ maxData: 65536 });
  #frames: { txnr: number; command: string; data: string }[] = [];
  closed = false;

  private constructor(conn: Deno.Conn) {
    this.#conn = conn;
    this.#read();
  }

  static async connect(port: number): Promise<RawRelp> {
    return new RawRelp(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async send(text: string): Promise<void> {
    await this.#conn.write(enc.encode(text));
  }

  /** Waits for `n` frames in all; returns them. */
  async frames(n: number): Promise<{ txnr: number; command: string; data: string }[]> {
    return await waitFor(() => this.#frames.length >= n && this.#frames, {
      timeoutMs: 5000,
      what: `${n} RELP frames from the agent (have ${JSON.stringify(this.#frames)})`,
    });
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }

  async #read(): Promise<void> {
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        this.#parser.push(buf.subarray(0, n), (f) => {
          this.#frames.push({ txnr: f.txnr, command: f.command, data: dec.decode(f.data) });
        });
      }
    } catch {
      // Reset.
    }
    this.closed = true;
  }
}

Deno.test(
  "RELP input: answers in order, truncates oversized messages, closes on protocol errors",
  opts,
  async () => {
    const fake = await FakeCollector.start("serve");
    const dir = await Deno.makeTempDir({ prefix: "agent-relp-in-" });
    const port = await freePort();
    const agent = await startAgent({
      dir,
      readyPort: port,
      config: {
        inputs: [{ type: "relp", address: `127.0.0.1:${port}`, maxMessageSize: 1024 }],
        collectors: [{ address: `127.0.0.1:${fake.port}` }],
        spool: { mode: "always" },
      },
    });
    try {
      const offers = "relp_version=0\nrelp_software=test\ncommands=syslog";
      const big = `<13>1 - host big - - - ${"b".repeat(3000)}`;
      const a = await RawRelp.connect(port);
      await a.send(
        frame(1, "open", offers) + frame(2, "syslog", "<13>1 - h a - -") +
          frame(3, "syslog", big) + "4 syslog 0\n" + "5 starttls 0\n" +
          frame(6, "syslog", "<13>1 - h b - -"),
      );
      const answers = await a.frames(6);
      assert.deepEqual(answers.map((f) => [f.txnr, f.command]), [
        [1, "rsp"],
        [2, "rsp"],
        [3, "rsp"],
        [4, "rsp"],
        [5, "rsp"],
        [6, "rsp"],
      ]);
      assert.match(answers[0]!.data, /^200 OK\nrelp_version=0\n.*commands=syslog/s);
      assert.deepEqual(answers.slice(1).map((f) => f.data), [
        "200 OK",
        "200 OK",
        "200 OK",
        '500 command "starttls" not supported',
        "200 OK",
      ]);
      // Out of sequence: a serverclose hint, then the connection ends.
      await a.send(frame(9, "syslog", "<13>1 - h c - -"));
      const all = await a.frames(7);
      assert.deepEqual([all[6]!.txnr, all[6]!.command], [0, "serverclose"]);
      await waitFor(() => a.closed, { timeoutMs: 5000, what: "the agent to close the connection" });
      a.close();
      // Commands before open, and garbage: closed as well.
      for (const bad of [frame(1, "syslog", "abc"), "hello world\n"]) {
        const b = await RawRelp.connect(port);
        await b.send(bad);
        await waitFor(() => b.closed, {
          timeoutMs: 5000,
          what: `a close after ${JSON.stringify(bad)}`,
        });
        b.close();
      }
      const lines = await waitFor(() => fake.lines.length >= 3 && fake.lines, {
        timeoutMs: 10_000,
        what: "three messages at the collector",
      });
      assert.deepEqual(lines.map((l) => l.slice(0, 20)), [
        "<13>1 - h a - -",
        big.slice(0, 20),
        "<13>1 - h b - -",
      ]);
      assert.equal(lines[1]!.length, 1024, "cut to maxMessageSize");
      const counters = (await agent.statusJson()).counters as Record<string, number>;
      assert.equal(counters.truncated, 1);
      // One per connection closed for a protocol error: out of sequence, before open, garbage.
      assert.equal(counters.malformed, 3);
    } finally {
      fake.close();
      await agent.stop("SIGKILL").catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "a RELP collector that refuses one message for good: set aside in dead-letter.log after 3 refusals, the stream goes on",
  opts,
  async () => {
    const fake = await FakeRelpCollector.start([{
      kind: "poison",
      after: 0,
      match: "seq=00001234 ",
    }]);
    const dir = await Deno.makeTempDir({ prefix: "agent-relp-poison-" });
    const port = await freePort();
    const agent = await startAgent({
      dir,
      readyPort: port,
      config: {
        inputs: [{ type: "tcp", address: `127.0.0.1:${port}` }],
        collectors: [{
          address: `127.0.0.1:${fake.port}`,
          protocol: "relp",
          connectTimeoutMs: 1000,
          writeTimeoutMs: 1000,
        }],
        control: { metrics: `127.0.0.1:${await freePort()}` },
      },
    });
    try {
      const total = 5000;
      const sent = await sendSeq({ port, count: total, size: 200, framing: "octet-counted" });
      assert.equal(sent.sent, total);
      const report = await waitFor(() => {
        const r = checkSeqs(fake.acked, total);
        return r.missingCount === 1 && r;
      }, { timeoutMs: 30_000, what: "every message but the poison one acknowledged" }).catch(
        (e) => {
          throw new Error(`${e.message}: ${JSON.stringify(checkSeqs(fake.acked, total))}`);
        },
      );
      assert.deepEqual(report.missing, [1234]);
      const lines = (await Deno.readTextFile(`${dir}/spool/dead-letter.log`)).trim().split("\n");
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(
        lines[0]!,
        /^\d{4}-\d\d-\d\dT\S+Z 127\.0\.0\.1:\d+ "refused 3 times: collector answered \\"500 bad message\\".*seq=00001234 /,
      );
      const st = await agent.statusJson();
      const reasons = st.reasons as string[];
      assert.ok(
        reasons.some((r) => /1 message\(s\) refused by a collector/.test(r)),
        reasons.join("; "),
      );
      const config = JSON.parse(await Deno.readTextFile(`${dir}/agent.json`));
      const metrics = await (await fetch(`http://${config.control.metrics}/metrics`)).text();
      assert.match(metrics, /^syslog_agent_dead_lettered_messages_total 1$/m);
      console.log(
        `summary: poison message over RELP: ${total} sent, ${report.unique} acknowledged, 1 set aside after 3 refusals (${fake.connections} connections)`,
      );
    } finally {
      fake.close();
      await agent.stop("SIGKILL").catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
