/**
 * Proves the end-to-end test harness against real processes (rsyslogd,
 * logger, a stand-in agent); the agent itself is not involved.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import {
  checkSeqs,
  collectorConf,
  freePort,
  parseProcStat,
  readLines,
  type RsyslogdProcess,
  rsyslogString,
  sendSeq,
  sendUdp,
  SeqFileTally,
  seqMessage,
  seqOf,
  startAgent,
  startRsyslogd,
  waitFor,
} from "../testkit/mod.ts";

const encoder = new TextEncoder();

/** Runs `fn` with a fresh temp dir that is removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "harness-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Starts a collector on a free port writing to `<dir>/out.log`, runs `fn`, stops it. */
async function withCollector(
  fn: (c: { port: number; file: string; proc: RsyslogdProcess; dir: string }) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const port = await freePort();
    const file = `${dir}/out.log`;
    const proc = await startRsyslogd({
      conf: collectorConf({ port, dir, file }),
      dir,
      readyPort: port,
    });
    try {
      await fn({ port, file, proc, dir });
    } finally {
      await proc.stop();
    }
  });
}

/** Waits until `file` holds at least `n` complete lines and returns them. */
function linesAtLeast(file: string, n: number, timeoutMs = 5_000): Promise<string[]> {
  return waitFor(async () => {
    const lines = await readLines(file);
    return lines.length >= n && lines;
  }, { timeoutMs, what: `${n} lines in ${file}` });
}

/** Writes all of `data` to `conn`. */
async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

Deno.test("waitFor returns the first truthy value and times out with the last error", async () => {
  let n = 0;
  assert.equal(
    await waitFor(() => ++n >= 3 && n, { timeoutMs: 1_000, what: "n", intervalMs: 1 }),
    3,
  );
  await assert.rejects(
    waitFor(() => {
      throw new Error("not yet");
    }, { timeoutMs: 50, what: "the impossible", intervalMs: 5 }),
    /^Error: timed out after 50ms waiting for the impossible \(last error: not yet\)$/,
  );
  await assert.rejects(
    waitFor(() => false, { timeoutMs: 30, what: "nothing" }),
    /^Error: timed out after 30ms waiting for nothing$/,
  );
  const port = await freePort();
  assert.ok(port > 0 && port < 65536);
});

Deno.test("seqMessage pads to the exact size and checkSeqs counts gaps, dups and order", () => {
  const m = seqMessage(42, 100);
  assert.equal(encoder.encode(m).length, 100);
  assert.match(m, /^<13>1 2026-11-25T00:00:00Z host app - - - seq=00000042 x+$/);
  assert.equal(seqMessage(7, 200, "blü").length, 199); // ü is 2 bytes
  assert.throws(() => seqMessage(1, 10), RangeError);

  const lines = [0, 1, 3, 2, 3, 5, 0].map((s) => seqMessage(s, 80, "a"));
  lines.push(seqMessage(4, 80, "other"), "no number here");
  assert.deepEqual(checkSeqs(lines, 7, "a"), {
    received: 7,
    unique: 5,
    missing: [4, 6],
    missingCount: 2,
    duplicates: 2,
    outOfOrder: 1, // 2 after 3; the resent 3 and 0 are duplicates, not order violations
  });
  assert.equal(checkSeqs(lines, 7).missingCount, 1); // untagged: "other" supplies 4
  const many = checkSeqs([], 100);
  assert.equal(many.missing.length, 20);
  assert.equal(many.missingCount, 100);
});

Deno.test("seqOf finds the number after seq=, after a marker when one is given", () => {
  assert.equal(seqOf("<13>1 2026-11-25T00:00:00Z host app - - - seq=00000042 x"), 42);
  assert.equal(seqOf("seq= no digits, then seq=7"), 7);
  assert.equal(seqOf("no number"), undefined);
  assert.equal(seqOf("<14>Nov 25 10:00:00 demo-app[9]: seq=00000003 x", "demo-app["), 3);
  assert.equal(seqOf("other[9]: seq=00000003 x", "demo-app["), undefined);
  assert.equal(seqOf(" a - - - seq=x seq=5", " a - - - seq="), undefined);
});

Deno.test("SeqFileTally reads only complete lines, and what was appended since", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/received.log`;
    const t = new SeqFileTally(path, "app[");
    await t.update(); // no file yet
    assert.equal(t.tally.received, 0);
    await Deno.writeTextFile(
      path,
      "app[1]: seq=00000000\nother[1]: seq=00000001\napp[1]: seq=0000",
    );
    await t.update();
    assert.deepEqual([t.tally.received, t.tally.unique], [1, 1]);
    await Deno.writeTextFile(path, "0002\napp[1]: seq=00000000\n", { append: true });
    await t.update();
    assert.deepEqual([t.tally.received, t.tally.unique, t.tally.duplicates], [3, 2, 1]);
    assert.deepEqual(t.tally.missing(3), { count: 1, first: [1] });
    assert.equal(t.tally.report(3).outOfOrder, 0);
  });
});

Deno.test("parseProcStat counts fields after the last parenthesis of the command name", () => {
  assert.deepEqual(parseProcStat("42 (a (b) c) S 7 42 42 0 -1 0 0 0 0 0 11 3 0 0"), {
    state: "S",
    ppid: 7,
    utimeTicks: 11,
    stimeTicks: 3,
  });
  assert.equal(parseProcStat(""), undefined);
});

Deno.test("rsyslogString escapes quotes and backslashes and refuses line breaks", () => {
  assert.equal(rsyslogString('/tmp/a "b"\\c'), '"/tmp/a \\"b\\"\\\\c"');
  assert.throws(() => rsyslogString("a\nb"), RangeError);
  assert.match(
    collectorConf({ port: 1, dir: '/tmp/"x"', file: "/f" }),
    /workDirectory="\/tmp\/\\"x\\""/,
  );
});

Deno.test("readLines ignores a missing file and an unfinished last line", async () => {
  await withTempDir(async (dir) => {
    assert.deepEqual(await readLines(`${dir}/nope`), []);
    await Deno.writeTextFile(`${dir}/f`, "a\nb\nseq=0000");
    assert.deepEqual(await readLines(`${dir}/f`), ["a", "b"]);
  });
});

Deno.test("collector: logger and sendSeq (both framings) arrive, flushed promptly", async () => {
  await withCollector(async ({ port, file }) => {
    const logger = await new Deno.Command("logger", {
      args: ["--tcp", "--octet-count", "-n", "127.0.0.1", "-P", String(port), "-t", "harness"],
      stdin: "piped",
    }).spawn();
    const w = logger.stdin.getWriter();
    await w.write(encoder.encode("hello from logger\n"));
    await w.close();
    assert.ok((await logger.status).success, "logger failed");
    const [fromLogger] = await linesAtLeast(file, 1);
    assert.match(fromLogger ?? "", /^<13>1 \S+ \S+ harness .*hello from logger$/);

    // A message on a connection that stays open must reach the file without
    // waiting for a close or a full buffer (flushOnTXEnd).
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const msg = seqMessage(999, 120, "flush");
      const t0 = performance.now();
      await writeAll(conn, encoder.encode(msg + "\n"));
      await waitFor(async () => (await readLines(file)).includes(msg), {
        timeoutMs: 2_000,
        what: "the message on an open connection",
        intervalMs: 1,
      });
      const latencyMs = performance.now() - t0;
      assert.ok(latencyMs < 1_000, `took ${latencyMs.toFixed(1)}ms`);
    } finally {
      conn.close();
    }

    const oc = await sendSeq({ port, count: 50, size: 200, framing: "octet-counted", tag: "oc" });
    const lf = await sendSeq({ port, count: 50, size: 300, framing: "lf", tag: "lf" });
    assert.equal(oc.sent, 50);
    assert.equal(lf.sent, 50);
    const lines = await linesAtLeast(file, 102);
    assert.equal(checkSeqs(lines, 50, "oc").missingCount, 0);
    assert.equal(checkSeqs(lines, 50, "lf").missingCount, 0);
    for (const l of lines.filter((l) => / oc - - - /.test(l))) assert.equal(l.length, 200);
    for (const l of lines.filter((l) => / lf - - - /.test(l))) assert.equal(l.length, 300);
  });
});

Deno.test("collector: odd bytes arrive byte for byte; NUL becomes #000", async () => {
  await withCollector(async ({ port, file }) => {
    const odd =
      "<13>1 2026-11-25T00:00:00Z host odd - - - tab\there  # hash\tünïcödé 日本語 🙂 \x01\x7f end  ";
    const nul = "<13>1 2026-11-25T00:00:00Z host nul - - - a\0b";
    const big = seqMessage(1, 200 * 1024, "big"); // above imtcp's default 200000-byte frame limit
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const oddBytes = encoder.encode(odd);
      const bigBytes = encoder.encode(big);
      await writeAll(conn, encoder.encode(`${oddBytes.length} `));
      await writeAll(conn, oddBytes);
      await writeAll(conn, encoder.encode(`${odd}\n${nul}\n`));
      await writeAll(conn, encoder.encode(`${bigBytes.length} `));
      await writeAll(conn, bigBytes);
      await writeAll(conn, encoder.encode(`${big}\n`));
    } finally {
      conn.close();
    }
    await linesAtLeast(file, 5);
    const expected = `${odd}\n${odd}\n${nul.replace("\0", "#000")}\n${big}\n${big}\n`;
    const got = await Deno.readFile(file);
    assert.ok(
      got.length === encoder.encode(expected).length &&
        new TextDecoder().decode(got) === expected,
      `collector output differs:\n${JSON.stringify(new TextDecoder().decode(got).slice(0, 400))}`,
    );
  });
});

Deno.test("collector: 10,000 messages arrive with none missing", async () => {
  await withCollector(async ({ port, file }) => {
    const first = sendSeq({ port, count: 5_000, size: 256, framing: "octet-counted", tag: "bulk" });
    const second = sendSeq({
      port,
      count: 5_000,
      size: 256,
      framing: "lf",
      tag: "bulk",
      start: 5_000,
    });
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a.sent + b.sent, 10_000);
    const lines = await linesAtLeast(file, 10_000, 10_000);
    const report = checkSeqs(lines, 10_000, "bulk");
    assert.deepEqual(report, {
      received: 10_000,
      unique: 10_000,
      missing: [],
      missingCount: 0,
      duplicates: 0,
      outOfOrder: report.outOfOrder, // two connections interleave
    });
  });
});

Deno.test("collector: SIGKILL and restart on the same port accepts again", async () => {
  await withTempDir(async (dir) => {
    const port = await freePort();
    const file = `${dir}/out.log`;
    const conf = collectorConf({ port, dir, file });
    let proc = await startRsyslogd({ conf, dir, readyPort: port });
    try {
      await sendSeq({ port, count: 10, size: 100, framing: "lf" });
      await linesAtLeast(file, 10);
      // an established connection at the moment of the kill
      const idle = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        proc.signal("SIGKILL");
        const st = await proc.status;
        assert.equal(st.signal, "SIGKILL");
        await proc.stop(); // fine after death
        await proc.stop(); // and twice
      } finally {
        idle.close();
      }
      proc = await startRsyslogd({ conf, dir, readyPort: port });
      await sendSeq({ port, count: 10, size: 100, framing: "octet-counted", start: 10 });
      const lines = await linesAtLeast(file, 20);
      assert.equal(checkSeqs(lines, 20).missingCount, 0);
      const log = await Deno.readTextFile(`${dir}/rsyslog.log`);
      assert.doesNotMatch(log, /Could not create tcp listener/);
    } finally {
      await proc.stop();
    }
  });
});

Deno.test("startRsyslogd rejects an invalid config with rsyslogd's message", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      startRsyslogd({ conf: 'input(type="imtcp" port="1" bogus="1")\n', dir, name: "bad" }),
      /rsyslogd rejected .*bad\.conf[\s\S]*bogus/,
    );
  });
});

Deno.test("startRsyslogd does not call a port held by someone else ready", async () => {
  await withTempDir(async (dir) => {
    const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = holder.addr.port;
    let start: Promise<RsyslogdProcess> | undefined;
    try {
      const conf = collectorConf({ port, dir, file: `${dir}/out.log` });
      // rsyslogd stays up without its listener, and a connection to the port
      // succeeds (the holder's backlog takes it): the helper must not resolve.
      // It would give up after 10 s; cut that short by killing rsyslogd once
      // it has logged the bind error.
      start = startRsyslogd({ conf, dir, readyPort: port });
      await waitFor(
        async () => {
          try {
            return /Could not create tcp listener/.test(
              await Deno.readTextFile(`${dir}/rsyslog.log`),
            );
          } catch {
            return false;
          }
        },
        { timeoutMs: 5_000, what: "rsyslogd's bind error" },
      );
      // kill the rsyslogd we started, found by its unique config path
      const found = await new Deno.Command("pgrep", {
        args: ["-f", "--", `rsyslogd -n -iNONE -f ${dir}/rsyslog.conf$`],
      }).output();
      const pids = new TextDecoder().decode(found.stdout).split("\n").filter((s) => s !== "");
      assert.equal(pids.length, 1, `pgrep found ${JSON.stringify(pids)}`);
      Deno.kill(Number(pids[0]), "SIGKILL");
      await assert.rejects(start, /did not become ready[\s\S]*Could not create tcp listener/);
    } finally {
      holder.close();
      // on any failure above: a failed start stops rsyslogd itself, a wrong success is stopped here
      await (await start?.catch(() => undefined))?.stop();
    }
  });
});

/** A stand-in for main.ts: listens on inputs[0] and answers `status` on the control socket. */
const FAKE_AGENT = `
const args = Deno.args;
if (args[0] !== "run" || args[1] !== "--config") { console.error("bad args", args); Deno.exit(2); }
const config = JSON.parse(Deno.readTextFileSync(args[2]));
if (config.fail) { console.error("config: fail: told to fail"); Deno.exit(2); }
console.log("fake agent env", Deno.env.get("FAKE_AGENT_ENV"));
const [host, port] = config.inputs[0].address.split(":");
const tcp = Deno.listen({ hostname: host, port: Number(port) });
const ctl = Deno.listen({ transport: "unix", path: config.control.socket });
Deno.addSignalListener("SIGTERM", () => { console.log("got SIGTERM"); Deno.exit(0); });
(async () => { for await (const c of tcp) c.close(); })();
for await (const c of ctl) {
  const buf = new Uint8Array(1024);
  const n = await c.read(buf);
  const req = JSON.parse(new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim());
  const reply = req.command === "status"
    ? { ok: true, result: { state: "ok", config } }
    : { ok: false, error: "unknown command" };
  await c.write(new TextEncoder().encode(JSON.stringify(reply) + "\\n"));
  c.close();
}
`;

Deno.test("startAgent: config defaults, readiness, statusJson, stop; early exit shows the log", async () => {
  await withTempDir(async (dir) => {
    const mainPath = `${dir}/fake_main.ts`;
    await Deno.writeTextFile(mainPath, FAKE_AGENT);
    const port = await freePort();
    const agent = await startAgent({
      dir: `${dir}/a`,
      config: {
        inputs: [{ type: "tcp", address: `127.0.0.1:${port}` }],
        control: { group: "adm" },
      },
      readyPort: port,
      env: { FAKE_AGENT_ENV: "yes" },
      mainPath,
    });
    try {
      const status = await agent.statusJson();
      assert.equal(status.state, "ok");
      assert.deepEqual(status.config, {
        inputs: [{ type: "tcp", address: `127.0.0.1:${port}` }],
        control: { group: "adm", socket: `${dir}/a/agent.sock`, metrics: "" },
        spool: { dir: `${dir}/a/spool` },
      });
      assert.match(await agent.log(), /fake agent env yes/);
    } finally {
      const st = await agent.stop();
      assert.equal(st.code, 0);
    }
    assert.match(await agent.log(), /got SIGTERM/);
    assert.equal((await agent.stop()).code, 0); // twice is fine

    await assert.rejects(
      startAgent({ dir: `${dir}/b`, config: { fail: true }, readyPort: port, mainPath }),
      /exited before it was ready \(code 2[\s\S]*told to fail/,
    );
  });
});

Deno.test("sendUdp delivers one datagram per message", async () => {
  const socket = createSocket("udp4");
  const got: string[] = [];
  socket.on("message", (msg: Uint8Array) => got.push(new TextDecoder().decode(msg)));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  try {
    const res = await sendUdp({
      port: socket.address().port,
      count: 200,
      size: 150,
      ratePerSec: 20_000,
    });
    assert.equal(res.sent, 200);
    await waitFor(() => got.length >= 200, { timeoutMs: 5_000, what: "200 datagrams" });
    assert.equal(checkSeqs(got, 200).missingCount, 0);
    assert.ok(got.every((m) => m.length === 150));
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
});
