/**
 * End-to-end: operating the agent — `agent status`, the control socket's
 * permissions, metrics, systemd notify and watchdog, reload.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type AgentProcess,
  checkSeqs,
  FakeCollector,
  freePort,
  RsyslogCollector,
  sendSeq,
  startAgent,
  waitFor,
} from "../testkit/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const dec = new TextDecoder();

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-net", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function agentWith(
  dir: string,
  collectorPort: number,
  extra: Record<string, unknown> = {},
  env?: Record<string, string>,
): Promise<{ agent: AgentProcess; port: number }> {
  const port = await freePort();
  const { spool, collector, control, ...rest } = extra as {
    spool?: Record<string, unknown>;
    collector?: Record<string, unknown>;
    control?: Record<string, unknown>;
  };
  const agent = await startAgent({
    dir,
    readyPort: port,
    env,
    config: {
      inputs: [{ type: "tcp", address: `127.0.0.1:${port}` }],
      collectors: [{
        address: `127.0.0.1:${collectorPort}`,
        connectTimeoutMs: 1000,
        writeTimeoutMs: 1000,
        ...collector,
      }],
      spool: { dir: `${dir}/spool`, ...spool },
      control: { socket: `${dir}/agent.sock`, metrics: "", ...control },
      ...rest,
    },
  });
  return { agent, port };
}

Deno.test(
  "agent status: exit code and state when healthy, collector down, spool dropping, agent gone",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "agent-status-" });
    const collector = await RsyslogCollector.start(`${dir}/collector`);
    const { agent, port } = await agentWith(`${dir}/agent`, collector.port, {
      spool: { maxBytes: "1MiB" },
    });
    const socket = `${dir}/agent/agent.sock`;
    try {
      await waitFor(async () => (await cli("status", "--socket", socket)).code === 0, {
        timeoutMs: 10_000,
        what: "state ok",
      });
      const ok = await cli("status", "--socket", socket);
      assert.match(ok.stdout, /^agent: OK/);
      assert.match(ok.stdout, /collectors .*up/);
      assert.match(
        ok.stdout,
        /inputs +tcp:127\.0\.0\.1:\d+ listening, (nothing received since start|last message \d+s ago)/,
      );
      const json = JSON.parse((await cli("status", "--json", "--socket", socket)).stdout);
      assert.deepEqual(Object.keys(json).sort(), [
        "agent",
        "collectors",
        "counters",
        "inputs",
        "reasons",
        "rsyslogd",
        "spool",
        "state",
      ]);
      assert.equal(json.state, "ok");

      await collector.kill();
      const degraded = await waitFor(async () => {
        const r = await cli("status", "--socket", socket);
        return r.code === 1 && r;
      }, { timeoutMs: 10_000, what: "state degraded" });
      assert.match(
        degraded.stdout,
        /^agent: DEGRADED\n {2}! collector 127\.0\.0\.1:\d+ (down|connecting)/,
      );

      // 1 MiB of spool and 2 MiB of messages: it drops, which is critical.
      await sendSeq({ port, count: 10_000, size: 200, framing: "octet-counted" });
      const critical = await waitFor(async () => {
        const r = await cli("status", "--json", "--socket", socket);
        return r.code === 2 && JSON.parse(r.stdout);
      }, { timeoutMs: 10_000, what: "state critical" });
      assert.equal(critical.state, "critical");
      assert.match(critical.reasons[0], /dropped/);

      // --watch redraws until Ctrl-C (plain text when not on a terminal).
      const watch = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", MAIN, "status", "--watch", "--socket", socket],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const chunks: string[] = [];
      const reading = (async () => {
        for await (const c of watch.stdout) chunks.push(dec.decode(c));
      })();
      await waitFor(() => chunks.join("").split("agent: CRITICAL").length > 2, {
        timeoutMs: 10_000,
        what: "two redraws of --watch",
      });
      watch.kill("SIGINT");
      const watched = await watch.status;
      await reading;
      await watch.stderr.cancel();
      assert.equal(watched.code, 2, "--watch exits with the state's code on Ctrl-C");
      assert.ok(!chunks.join("").includes("\x1b["), "no colour when not on a terminal");

      await agent.stop();
      const gone = await cli("status", "--socket", socket);
      assert.equal(gone.code, 3);
      assert.match(gone.stderr, /cannot reach the agent at .*agent\.sock: is the agent running/);
    } finally {
      await agent.stop().catch(() => {});
      await collector.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("control socket: mode 0660 group adm; root is served, others refused", opts, async () => {
  const dir = await Deno.makeTempDir({ prefix: "agent-perm-" });
  await Deno.chmod(dir, 0o755);
  const { agent } = await agentWith(`${dir}/agent`, await freePort(), {
    control: { group: "adm" },
  });
  await Deno.chmod(`${dir}/agent`, 0o755);
  const socket = `${dir}/agent/agent.sock`;
  try {
    const info = await Deno.stat(socket);
    assert.equal(info.mode! & 0o777, 0o660);
    const adm = Number(/^adm:x:(\d+):/m.exec(await Deno.readTextFile("/etc/group"))![1]);
    assert.equal(info.gid, adm);
    // A client running as nobody: outside the group, then in it. (Debian's python3,
    // not `deno run`, so that the test does not depend on nobody reading the checkout.)
    const connectAs = async (groups: string) => {
      const py = `import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    s.sendall(b'{"command":"status"}\\n')
    print(s.recv(100).decode()[:20])
except PermissionError as e:
    print("refused", e)`;
      const out = await new Deno.Command("setpriv", {
        args: ["--reuid=65534", "--regid=65534", groups, "/usr/bin/python3", "-c", py, socket],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return dec.decode(out.stdout) + dec.decode(out.stderr);
    };
    assert.match(await connectAs("--clear-groups"), /^refused/);
    assert.match(await connectAs(`--groups=${adm}`), /^\{"ok":true/);
    assert.equal((await agent.statusJson()).state !== undefined, true, "root is served");
  } finally {
    await agent.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A strict parser of the Prometheus text format: every sample has a TYPE declared before it. */
function parsePrometheus(text: string): Map<string, number> {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  assert.ok(text.endsWith("\n"), "ends with a newline");
  for (const line of text.slice(0, -1).split("\n")) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") {
        assert.ok(!types.has(meta[2]!), `TYPE declared twice: ${line}`);
        assert.match(meta[3]!, /^(counter|gauge|histogram|summary|untyped)$/, line);
        types.set(meta[2]!, meta[3]!);
      }
      continue;
    }
    const m =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/
        .exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const type = types.get(m[1]!);
    assert.ok(type, `sample without a TYPE before it: ${line}`);
    if (type === "counter") assert.match(m[1]!, /_total$/, `counter not ending in _total: ${line}`);
    assert.match(m[1]!, /^syslog_agent_/);
    samples.set(m[1]! + (m[2] ?? ""), Number(m[3]));
  }
  return samples;
}

Deno.test("metrics: valid Prometheus text, counters match what was sent", opts, async () => {
  const dir = await Deno.makeTempDir({ prefix: "agent-metrics-" });
  const collector = await RsyslogCollector.start(`${dir}/collector`);
  const metricsPort = await freePort();
  const { agent, port } = await agentWith(`${dir}/agent`, collector.port, {
    control: { metrics: `127.0.0.1:${metricsPort}` },
  });
  try {
    await sendSeq({ port, count: 1234, size: 150, framing: "lf" });
    await waitFor(async () => (await collector.lines()).length >= 1234, {
      timeoutMs: 10_000,
      what: "all at the collector",
    });
    const samples = await waitFor(async () => {
      const out = await new Deno.Command("curl", {
        args: ["-sf", `http://127.0.0.1:${metricsPort}/metrics`],
        stdout: "piped",
      }).output();
      const s = parsePrometheus(dec.decode(out.stdout));
      return s.get("syslog_agent_forwarded_messages_total") === 1234 && s;
    }, { timeoutMs: 10_000, what: "metrics to show 1234 forwarded" });
    assert.equal(samples.get("syslog_agent_received_messages_total"), 1234);
    assert.equal(samples.get("syslog_agent_dropped_messages_total"), 0);
    assert.equal(
      samples.get(
        `syslog_agent_collector_up{address="127.0.0.1:${collector.port}",protocol="tcp"}`,
      ),
      1,
    );
    assert.equal(samples.get('syslog_agent_state{state="ok"}'), 1);
  } finally {
    await agent.stop();
    await collector.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "systemd notify: READY once accepting, WATCHDOG at half WATCHDOG_USEC, pings go on through a collector stall longer than the watchdog period, STOPPING on SIGTERM",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "agent-notify-" });
    const notifyPath = `${dir}/notify`;
    const socket = Deno.listenDatagram({ transport: "unixpacket", path: notifyPath });
    const got: { at: number; text: string }[] = [];
    const receiving = (async () => {
      try {
        for await (const [data] of socket) {
          got.push({
            at: performance.now(),
            text: dec.decode(data),
          });
        }
      } catch { /* closed */ }
    })();
    // A collector that accepts and never reads; a write timeout 10 times the watchdog period.
    const fake = await FakeCollector.start("stall");
    const port = await freePort();
    const agent = await startAgent({
      dir: `${dir}/agent`,
      env: { NOTIFY_SOCKET: notifyPath, WATCHDOG_USEC: "400000" },
      config: {
        inputs: [{ type: "tcp", address: `127.0.0.1:${port}` }],
        collectors: [{ address: `127.0.0.1:${fake.port}`, writeTimeoutMs: 4_000 }],
      },
    });
    try {
      const ready = await waitFor(() => got.find((g) => g.text.includes("READY=1")), {
        timeoutMs: 15_000,
        what: "READY=1",
      });
      // READY came after the input accepted connections: it accepts now, at once.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      assert.match(ready.text, /STATUS=/);
      await waitFor(() => got.filter((g) => g.text.includes("WATCHDOG=1")).length >= 5, {
        timeoutMs: 5_000,
        what: "five WATCHDOG=1",
      });
      const pings = got.filter((g) => g.text.includes("WATCHDOG=1")).map((g) => g.at);
      const gaps = pings.slice(1).map((t, i) => t - pings[i]!);
      const median = gaps.sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!;
      assert.ok(median > 150 && median < 300, `pings every ${median} ms, expected about 200`);

      // Enough traffic to fill the stalled collector's buffers: a write waits for 4 s, an
      // ordinary stall that must not get the agent killed (WatchdogSec is 400 ms).
      const trafficAt = performance.now();
      await sendSeq({ port, count: 200_000, size: 200, framing: "octet-counted" });
      await waitFor(async () => {
        const st = await agent.statusJson();
        return /stalled/.test((st.collectors as { lastError: string }[])[0]!.lastError);
      }, { timeoutMs: 20_000, what: "the stall to be noticed" });
      const during = got.filter((g) => g.text.includes("WATCHDOG=1") && g.at > trafficAt)
        .map((g) => g.at);
      const worst = Math.max(...during.slice(1).map((t, i) => t - during[i]!));
      assert.ok(worst < 1000, `a ${worst.toFixed(0)} ms gap between pings during the stall`);

      await agent.stop("SIGTERM");
      await waitFor(() => got.some((g) => g.text.includes("STOPPING=1")), {
        timeoutMs: 5_000,
        what: "STOPPING=1",
      });
      console.log(
        `summary: notify: READY after start, ${pings.length} pings, median gap ${
          median.toFixed(0)
        } ms; through a 4 s collector stall the worst gap ${
          worst.toFixed(0)
        } ms (watchdog 400 ms); STOPPING=1 on SIGTERM`,
      );
    } finally {
      await agent.stop().catch(() => {});
      fake.close();
      socket.close();
      await receiving;
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "reload: a new collector address under traffic loses nothing; an invalid file keeps the old config",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "agent-reload-" });
    const first = await RsyslogCollector.start(`${dir}/first`);
    const second = await RsyslogCollector.start(`${dir}/second`);
    const { agent, port } = await agentWith(`${dir}/agent`, first.port);
    const socket = `${dir}/agent/agent.sock`;
    const configPath = `${dir}/agent/agent.json`;
    try {
      const total = 30_000;
      const sending = sendSeq({
        port,
        count: total,
        size: 200,
        framing: "octet-counted",
        ratePerSec: 15_000,
      });
      await waitFor(async () => (await first.lines()).length > 5_000, {
        timeoutMs: 10_000,
        what: "traffic at the first collector",
      });
      const config = JSON.parse(await Deno.readTextFile(configPath));
      config.collectors[0].address = `127.0.0.1:${second.port}`;
      await Deno.writeTextFile(configPath, JSON.stringify(config));
      const reload = await cli("reload", "--socket", socket);
      assert.equal(reload.code, 0, reload.stderr);
      assert.match(reload.stdout, new RegExp(`collectors 127\\.0\\.0\\.1:${second.port}`));
      await sending;
      const report = await waitFor(async () => {
        const r = checkSeqs([...await first.lines(), ...await second.lines()], total);
        return r.missingCount === 0 && r;
      }, { timeoutMs: 20_000, what: "every message at one collector or the other" });
      assert.ok((await second.lines()).length > 0, "traffic moved to the second collector");

      await Deno.writeTextFile(configPath, '{"collectors": [{"address": "nowhere"}]}');
      const bad = await cli("reload", "--socket", socket);
      assert.equal(bad.code, 1);
      assert.match(
        bad.stderr,
        /reload rejected, the running config stays: config: collectors\[0\]\.address/,
      );
      assert.match(await agent.log(), /reload: rejected, the running config stays/);
      await sendSeq({ port, count: 100, size: 100, framing: "lf", tag: "after" });
      await waitFor(async () => checkSeqs(await second.lines(), 100, "after").unique === 100, {
        timeoutMs: 10_000,
        what: "the old config still relaying",
      });
      console.log(
        `summary: reload: ${total} sent across a collector change, ${report.unique} delivered, ${report.duplicates} duplicates`,
      );
    } finally {
      await agent.stop();
      await first.stop();
      await second.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
