/**
 * End-to-end: the agent between senders and a real rsyslogd collector.
 */

import assert from "node:assert/strict";
import {
  type AgentProcess,
  batchRecords,
  checkSeqs,
  FakeCollector,
  freePort,
  RsyslogCollector,
  sendSeq,
  startAgent,
  waitFor,
} from "../testkit/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

interface Setup {
  dir: string;
  port: number;
  collector: RsyslogCollector;
  agent: AgentProcess;
}

/** A temp dir, a collector (up unless `down`), and an agent relaying to it. */
async function setup(
  o: { down?: boolean; spool?: Record<string, unknown>; collectorPort?: number } = {},
): Promise<Setup> {
  const dir = await Deno.makeTempDir({ prefix: "agent-relay-" });
  const collector = o.down || o.collectorPort !== undefined
    ? await RsyslogCollector.down(`${dir}/collector`)
    : await RsyslogCollector.start(`${dir}/collector`);
  const collectorPort = o.collectorPort ?? collector.port;
  const port = await freePort();
  const agent = await startAgent({
    dir: `${dir}/agent`,
    readyPort: port,
    config: {
      inputs: [
        { type: "tcp", address: `127.0.0.1:${port}` },
        { type: "udp", address: `127.0.0.1:${port}` },
        { type: "unix", path: `${dir}/agent/log.sock` },
      ],
      collectors: [{
        address: `127.0.0.1:${collectorPort}`,
        connectTimeoutMs: 1000,
        writeTimeoutMs: 1000,
      }],
      spool: { dir: `${dir}/agent/spool`, ...o.spool },
      log: { level: "debug" },
    },
  });
  return { dir, port, collector, agent };
}

/** Starts the agent again in the same dir, with the same config. */
async function restartAgent(s: Setup): Promise<AgentProcess> {
  return await startAgent({
    dir: `${s.dir}/agent`,
    readyPort: s.port,
    config: JSON.parse(await Deno.readTextFile(`${s.dir}/agent/agent.json`)),
  });
}

async function teardown(s: Setup): Promise<void> {
  await s.agent.stop("SIGKILL").catch(() => {});
  await s.collector.stop().catch(() => {});
  await Deno.remove(s.dir, { recursive: true }).catch(() => {});
}

interface Counts {
  received: number;
  forwarded: number;
  dropped: number;
  malformed: number;
  truncated: number;
}

interface SpoolCounts {
  messages: number;
  bytes: number;
  dropped: number;
  corrupt: number;
}

async function counters(agent: AgentProcess): Promise<Counts> {
  return (await agent.statusJson()).counters as Counts;
}

async function spoolStats(agent: AgentProcess): Promise<SpoolCounts> {
  return (await agent.statusJson()).spool as SpoolCounts;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

Deno.test(
  "logger over TCP (octet-counted) and UDP, raw frames over TCP and a unix socket: byte for byte at rsyslogd",
  opts,
  async () => {
    const s = await setup();
    try {
      const tcpMsg = "tcp message\twith tab, #hash and ünïcødé ✓";
      const udpMsg = "udp message with trailing spaces  ";
      const logger = ["-n", "127.0.0.1", "-P", String(s.port), "-t", "e2e"];
      await run("logger", ["--tcp", "--octet-count", ...logger, tcpMsg]);
      await run("logger", ["--udp", ...logger, udpMsg]);
      // Frames of our own, so that the exact bytes sent are known.
      const raw = ["<13>1 - host raw - - - octet\t#ü✓ end", "<13>1 - host raw - - - lf line  "];
      const enc = new TextEncoder();
      const octet = enc.encode(raw[0]!);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
      await conn.write(new Uint8Array([...enc.encode(`${octet.length} `), ...octet]));
      await conn.write(enc.encode(`${raw[1]}\n`));
      conn.close();
      // The unix stream input, with both framings on one connection.
      const unix = await Deno.connect({ transport: "unix", path: `${s.dir}/agent/log.sock` });
      await unix.write(new Uint8Array([...enc.encode(`${octet.length} `), ...octet]));
      await unix.write(enc.encode(`${raw[1]}\n`));
      unix.close();
      const lines = await waitFor(async () => {
        const l = await s.collector.lines();
        return l.length >= 6 && l;
      }, { timeoutMs: 10_000, what: "six lines at the collector" });
      const logged = lines.filter((l) => l.includes(" e2e "));
      assert.ok(logged.some((l) => l.endsWith(` ${tcpMsg}`)), `tcp line missing: ${lines}`);
      assert.ok(logged.some((l) => l.endsWith(` ${udpMsg}`)), `udp line missing: ${lines}`);
      for (const l of logged) assert.match(l, /^<13>1 \S+ \S+ e2e /);
      assert.deepEqual(lines.filter((l) => l.includes(" raw ")), [...raw, ...raw]);
    } finally {
      await teardown(s);
    }
  },
);

Deno.test(
  "50,000 messages across two collector SIGKILLs: no gap, sender never waits",
  opts,
  async () => {
    const s = await setup();
    try {
      const total = 50_000;
      const sending = sendSeq({
        port: s.port,
        count: total,
        size: 200,
        framing: "octet-counted",
        ratePerSec: 10_000,
      });
      for (const at of [10_000, 30_000]) {
        await waitFor(async () => (await s.collector.lines()).length >= at, {
          timeoutMs: 20_000,
          what: `${at} lines at the collector`,
        });
        await s.collector.kill();
        await waitFor(async () => (await spoolStats(s.agent)).messages > 0, {
          timeoutMs: 10_000,
          what: "the spool to take over",
        });
        await s.collector.restart();
      }
      const sent = await sending;
      assert.equal(sent.sent, total);
      const report = await waitFor(async () => {
        const r = checkSeqs(await s.collector.lines(), total);
        return r.missingCount === 0 && r;
      }, { timeoutMs: 30_000, what: "every sequence number at the collector" }).catch(async (e) => {
        const r = checkSeqs(await s.collector.lines(), total);
        throw new Error(`${e.message}: ${JSON.stringify(r)}`);
      });
      console.log(
        `summary: sent ${total}, unique ${report.unique}, duplicates ${report.duplicates}, ` +
          `max sender write wait ${sent.maxWriteWaitMs.toFixed(1)} ms`,
      );
      assert.ok(sent.maxWriteWaitMs < 50, `sender waited ${sent.maxWriteWaitMs} ms`);
      assert.equal(report.outOfOrder, 0);
    } finally {
      await teardown(s);
    }
  },
);

for (const [mode, name] of [["stall", "stalled"], ["blackhole", "blackholed"]] as const) {
  Deno.test(
    `collector ${name}: the sender never waits, messages spool and all arrive after recovery`,
    opts,
    async () => {
      // stall: accepts and never reads; blackhole: listens and never accepts.
      const fake = await FakeCollector.start(mode);
      const s = await setup({ collectorPort: fake.port });
      try {
        // Paced below what the agent can take on a busy 2-core machine, so that a wait
        // could only come from the collector, which is what the guarantee is about.
        const total = 50_000;
        const sent = await sendSeq({
          port: s.port,
          count: total,
          size: 200,
          framing: "octet-counted",
          ratePerSec: 25_000,
        });
        assert.equal(sent.sent, total);
        assert.ok(sent.maxWriteWaitMs < 50, `sender waited ${sent.maxWriteWaitMs} ms`);
        const st = await waitFor(async () => {
          const st = await s.agent.statusJson();
          const c = (st.collectors as { state: string; lastError: string }[])[0]!;
          return c.state !== "up" && /stalled/.test(c.lastError) && st;
        }, { timeoutMs: 10_000, what: `the ${name} collector to be marked down` });
        const spooled = (st.spool as SpoolCounts).messages;
        assert.ok(spooled > 0, "messages spooled");
        fake.mode = "serve";
        const report = await waitFor(() => {
          const r = checkSeqs(fake.lines, total);
          return r.missingCount === 0 && r;
        }, { timeoutMs: 30_000, what: "every message after recovery" }).catch((e) => {
          throw new Error(`${e.message}: ${JSON.stringify(checkSeqs(fake.lines, total))}`);
        });
        console.log(
          `summary: ${mode}: sent ${total}, spooled ${spooled}, delivered ${report.unique}, ` +
            `duplicates ${report.duplicates}, max sender write wait ${
              sent.maxWriteWaitMs.toFixed(1)
            } ms`,
        );
      } finally {
        fake.close();
        await teardown(s);
      }
    },
  );
}

Deno.test(
  "SIGTERM with 100,000 spooled messages: all delivered in order after restart",
  opts,
  async () => {
    const s = await setup({ down: true });
    try {
      const total = 100_000;
      const sent = await sendSeq({
        port: s.port,
        count: total,
        size: 200,
        framing: "octet-counted",
      });
      assert.equal(sent.sent, total);
      await waitFor(async () => (await counters(s.agent)).received === total, {
        timeoutMs: 20_000,
        what: "all messages received",
      });
      const status = await s.agent.stop("SIGTERM");
      assert.equal(status.code, 0, "clean exit");
      await s.collector.restart();
      s.agent = await restartAgent(s);
      const report = await waitFor(async () => {
        const r = checkSeqs(await s.collector.lines(), total);
        return r.missingCount === 0 && r;
      }, { timeoutMs: 60_000, what: "all 100,000 at the collector" }).catch(async (e) => {
        throw new Error(
          `${e.message}: ${JSON.stringify(checkSeqs(await s.collector.lines(), total))}`,
        );
      });
      console.log(
        `summary: restart: spooled ${total}, delivered ${report.unique}, duplicates ${report.duplicates}, out of order ${report.outOfOrder}`,
      );
      assert.equal(report.outOfOrder, 0);
      assert.equal(report.duplicates, 0);
    } finally {
      await teardown(s);
    }
  },
);

Deno.test(
  "SIGTERM while the collector accepts and never reads: after a restart all 2,000 arrive",
  opts,
  async () => {
    const stalled = await FakeCollector.start("stall");
    const s = await setup({ collectorPort: stalled.port });
    const serving = await FakeCollector.start("serve");
    try {
      const total = 2000;
      await sendSeq({ port: s.port, count: total, size: 200, framing: "octet-counted" });
      // Written to the socket, where the collector never reads them.
      await waitFor(async () => (await counters(s.agent)).forwarded === total, {
        timeoutMs: 10_000,
        what: "all 2,000 written to the collector's socket",
      });
      assert.equal((await s.agent.stop("SIGTERM")).code, 0, "clean exit");
      stalled.close();
      const config = JSON.parse(await Deno.readTextFile(`${s.dir}/agent/agent.json`));
      config.collectors[0].address = `127.0.0.1:${serving.port}`;
      s.agent = await startAgent({ dir: `${s.dir}/agent`, readyPort: s.port, config });
      const report = await waitFor(() => {
        const r = checkSeqs(serving.lines, total);
        return r.missingCount === 0 && r;
      }, { timeoutMs: 20_000, what: "all 2,000 at the working collector" }).catch((e) => {
        throw new Error(`${e.message}: ${JSON.stringify(checkSeqs(serving.lines, total))}`);
      });
      console.log(
        `summary: clean stop, unread collector: sent ${total}, delivered after restart ${report.unique}, duplicates ${report.duplicates}`,
      );
    } finally {
      stalled.close();
      serving.close();
      await teardown(s);
    }
  },
);

Deno.test(
  "SIGTERM with messages unread in the input's socket buffers: read and spooled, all delivered after restart",
  opts,
  async () => {
    const s = await setup({ down: true });
    try {
      const total = 1000;
      // Stopped, the agent reads nothing: the messages wait in the kernel's socket buffers.
      s.agent.signal("SIGSTOP");
      const sent = await sendSeq({
        port: s.port,
        count: total,
        size: 200,
        framing: "octet-counted",
      });
      assert.equal(sent.sent, total);
      s.agent.signal("SIGTERM");
      s.agent.signal("SIGCONT");
      assert.equal((await s.agent.status).code, 0, "clean exit");
      await s.collector.restart();
      s.agent = await restartAgent(s);
      const report = await waitFor(async () => {
        const r = checkSeqs(await s.collector.lines(), total);
        return r.missingCount === 0 && r;
      }, { timeoutMs: 20_000, what: "all 1,000 at the collector" }).catch(async (e) => {
        throw new Error(
          `${e.message}: ${JSON.stringify(checkSeqs(await s.collector.lines(), total))}`,
        );
      });
      console.log(
        `summary: stop with input unread: sent ${total} while stopped, delivered ${report.unique} after restart`,
      );
    } finally {
      await teardown(s);
    }
  },
);

Deno.test(
  "spool full: stays under maxBytes, drops by policy, drop counter equals what is missing",
  opts,
  async () => {
    const maxBytes = 4 * 1024 * 1024;
    const s = await setup({ down: true, spool: { maxBytes: "4MiB", whenFull: "drop-oldest" } });
    try {
      const total = 40_000; // 200-byte messages: about 8 MiB, twice the cap
      const sent = await sendSeq({
        port: s.port,
        count: total,
        size: 200,
        framing: "octet-counted",
      });
      assert.equal(sent.sent, total);
      const c = await waitFor(async () => {
        const c = await counters(s.agent);
        return c.received === total && c;
      }, { timeoutMs: 20_000, what: "all received" });
      const st = await waitFor(async () => {
        const st = await spoolStats(s.agent);
        return st.messages + c.dropped === total && st;
      }, { timeoutMs: 10_000, what: "spool + dropped to account for everything" });
      let onDisk = 0;
      for await (const e of Deno.readDir(`${s.dir}/agent/spool`)) {
        if (e.name.endsWith(".seg")) {
          onDisk += (await Deno.stat(`${s.dir}/agent/spool/${e.name}`)).size;
        }
      }
      assert.ok(onDisk <= maxBytes, `spool files ${onDisk} > ${maxBytes}`);
      const dropped = (await counters(s.agent)).dropped;
      assert.ok(dropped > 0, "something was dropped");
      await s.collector.restart();
      const report = await waitFor(async () => {
        const r = checkSeqs(await s.collector.lines(), total);
        return r.unique === total - dropped && r;
      }, { timeoutMs: 30_000, what: "the spool to drain" }).catch(async (e) => {
        throw new Error(
          `${e.message}: ${JSON.stringify(checkSeqs(await s.collector.lines(), total))}`,
        );
      });
      assert.equal(report.missingCount, dropped, "drop counter equals missing messages");
      // drop-oldest: what is missing is the oldest.
      assert.equal(report.missing[0], 0);
      console.log(
        `summary: spool full: sent ${total}, dropped ${dropped}, delivered ${report.unique}, spool peak ${onDisk} <= ${maxBytes} bytes (${st.messages} spooled)`,
      );
      const status = await s.agent.statusJson();
      assert.equal(status.state, "critical", "dropping is critical");
    } finally {
      await teardown(s);
    }
  },
);

Deno.test(
  "a torn last record and a flipped byte: both skipped and counted, the rest delivered",
  opts,
  async () => {
    const s = await setup({ down: true });
    try {
      const total = 1000;
      await sendSeq({ port: s.port, count: total, size: 200, framing: "octet-counted" });
      await waitFor(async () => (await spoolStats(s.agent)).messages === total, {
        timeoutMs: 10_000,
        what: "all spooled",
      });
      await s.agent.stop("SIGTERM");
      const segs: string[] = [];
      for await (const e of Deno.readDir(`${s.dir}/agent/spool`)) {
        if (e.name.endsWith(".seg")) segs.push(`${s.dir}/agent/spool/${e.name}`);
      }
      segs.sort();
      const last = segs[segs.length - 1]!;
      const data = await Deno.readFile(last);
      // Flip a byte inside the payload of a record (a batch: what one read brought) in the
      // middle of the segment, then tear the last record: each takes its batch with it.
      const records = batchRecords(data);
      // Not next to the torn one: two damaged records in a row are one damaged region.
      assert.ok(records.length >= 4, `${records.length} records in the last segment`);
      const mid = records[Math.floor((records.length - 1) / 2)]!;
      const torn = records[records.length - 1]!;
      data[mid.at + 24 + Math.floor(mid.len / 2)]! ^= 0xff;
      await Deno.writeFile(last, data.subarray(0, data.length - 50));
      const lost = mid.count + torn.count;
      await s.collector.restart();
      s.agent = await restartAgent(s);
      const report = await waitFor(async () => {
        const r = checkSeqs(await s.collector.lines(), total);
        return r.unique === total - lost && r;
      }, {
        timeoutMs: 20_000,
        what: `everything but the ${lost} messages of the two damaged records`,
      })
        .catch(async (e) => {
          throw new Error(
            `${e.message}: ${JSON.stringify(checkSeqs(await s.collector.lines(), total))}`,
          );
        });
      assert.equal(report.missingCount, lost);
      const lines = await s.collector.lines();
      assert.equal(
        checkSeqs(lines, total).missingCount,
        checkSeqs(lines, total - 1).missingCount + 1,
        "the torn record held the last message",
      );
      const spool = await spoolStats(s.agent);
      assert.equal(spool.corrupt, 2);
      console.log(
        `summary: recovery: ${total} spooled, 2 damaged records (${lost} messages), ${report.unique} delivered, corrupt counter ${spool.corrupt}`,
      );
    } finally {
      await teardown(s);
    }
  },
);

Deno.test(
  "malformed input and 1,000 idle connections: the agent stays up, memory bounded, counters move",
  opts,
  async () => {
    const s = await setup();
    try {
      const enc = new TextEncoder();
      const send = async (bytes: Uint8Array) => {
        const c = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
        let off = 0;
        while (off < bytes.length) off += await c.write(bytes.subarray(off));
        c.close();
      };
      const random = new Uint8Array(1024 * 1024);
      for (let i = 0; i < random.length; i += 65536) {
        crypto.getRandomValues(
          random.subarray(i, i + 65536),
        );
      }
      await send(random);
      await send(enc.encode("99999999999 not a count\n"));
      await send(enc.encode("12x also not a count\n"));
      await send(new Uint8Array([60, 49, 51, 62, 0, 0, 0, 10])); // NUL bytes
      await send(new Uint8Array([60, 49, 51, 62, 0xff, 0xfe, 0xc3, 0x28, 10])); // invalid UTF-8
      const line = new Uint8Array(1024 * 1024 + 1).fill(0x61);
      line[line.length - 1] = 10;
      await send(line); // a 1 MiB line
      const idle: Deno.Conn[] = [];
      try {
        for (let i = 0; i < 1000; i++) {
          idle.push(
            await Deno.connect({ hostname: "127.0.0.1", port: s.port }),
          );
        }
        const c = await waitFor(async () => {
          const c = await counters(s.agent);
          return c.malformed >= 2 && c.truncated >= 1 && c;
        }, { timeoutMs: 10_000, what: "malformed and truncated counters" });
        // Still relaying, with the idle connections open.
        await sendSeq({ port: s.port, count: 100, size: 100, framing: "lf", tag: "after" });
        await waitFor(
          async () => checkSeqs(await s.collector.lines(), 100, "after").unique === 100,
          {
            timeoutMs: 10_000,
            what: "messages sent after the garbage",
          },
        );
        const rss = Number(
          /VmRSS:\s+(\d+)/.exec(await Deno.readTextFile(`/proc/${s.agent.pid}/status`))![1],
        ) / 1024;
        console.log(
          `summary: malformed ${c.malformed}, truncated ${c.truncated}, received ${c.received}, RSS ${
            rss.toFixed(0)
          } MiB with 1,000 idle connections`,
        );
        assert.ok(rss < 400, `RSS ${rss} MiB`);
        const lines = await s.collector.lines();
        assert.ok(lines.every((l) => l.length <= 65536 + 16), "no message over 64 KiB");
      } finally {
        for (const c of idle) c.close();
      }
    } finally {
      await teardown(s);
    }
  },
);
