/**
 * Chaos: 2,000 connections at once against an input with maxConnections
 * 1,000. The agent serves 1,000, closes the rest at once, stays up with
 * bounded memory, and keeps relaying.
 *
 * The test process and the agent (its child) need more than 2,000 open
 * files. Deno has no API for rlimits (it raises its own soft limit to the
 * hard one at start); when the limit is below 4,096 the test raises it with
 * util-linux `prlimit --pid` on itself before it starts the agent, which
 * inherits it (a hard limit needs root with CAP_SYS_RESOURCE; `.ci/run` sets
 * 8,192).
 */

import assert from "node:assert/strict";
import { checkSeqs, sendSeq, seqMessage, waitFor } from "../../testkit/mod.ts";
import { alive, fmt, opts, rig, rssMiB, status, summary, teardown } from "./_chaos.ts";

const CONNECTIONS = 2000;
const MAX_CONNECTIONS = 1000;
const NEED_FILES = 4096;
/** The agent's resident memory while it holds the connections stays under this. */
const MAX_RSS_MIB = 400;

/** The soft and hard open-files limits of this process. */
async function openFilesLimit(): Promise<{ soft: number; hard: number }> {
  const text = await Deno.readTextFile("/proc/self/limits");
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  const n = (v: string | undefined) => v === "unlimited" ? Infinity : Number(v);
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/** Raises this process's open-files limit to at least NEED_FILES, or fails saying how. */
async function ensureOpenFiles(): Promise<string> {
  const before = await openFilesLimit();
  if (before.soft >= NEED_FILES) return `open files ${before.soft}`;
  const want = 8192;
  const range = before.hard >= want ? `${want}:` : `${want}:${want}`; // the hard one needs root
  const out = await new Deno.Command("prlimit", {
    args: ["--pid", String(Deno.pid), `--nofile=${range}`],
    stdout: "piped",
    stderr: "piped",
  }).output().catch((e) => ({ success: false, stderr: new TextEncoder().encode(String(e)) }));
  const after = await openFilesLimit();
  if (after.soft < NEED_FILES) {
    throw new Error(
      `the open files limit is ${after.soft} (hard ${after.hard}), ${NEED_FILES} needed, and prlimit could not raise it (${
        new TextDecoder().decode(out.stderr).trim()
      }); raise it first ("ulimit -n 8192" as root), or run the suite through "bash .ci/run"`,
    );
  }
  return `open files raised from ${before.soft} to ${after.soft} with prlimit`;
}

Deno.test(
  "chaos: 2,000 connections at once, maxConnections 1,000: 1,000 served, the rest closed at once, agent up, memory bounded",
  opts,
  async () => {
    const limit = await ensureOpenFiles();
    const r = await rig("flood", { input: { maxConnections: MAX_CONNECTIONS } });
    const conns: (Deno.Conn | undefined)[] = [];
    try {
      const rssBefore = await rssMiB(r.agent.pid);
      const encoder = new TextEncoder();
      const t0 = performance.now();
      const opened = await Promise.allSettled(
        Array.from(
          { length: CONNECTIONS },
          () => Deno.connect({ hostname: "127.0.0.1", port: r.port }),
        ),
      );
      const connectMs = performance.now() - t0;
      const connectFailed = opened.filter((o) => o.status === "rejected").length;
      for (const o of opened) conns.push(o.status === "fulfilled" ? o.value : undefined);
      // One message on each: seq = the connection's number.
      const closed = new Set<number>();
      await Promise.all(conns.map(async (c, i) => {
        if (c === undefined) return;
        try {
          await c.write(encoder.encode(seqMessage(i, 120, "flood") + "\n"));
        } catch {
          closed.add(i); // already closed by the agent
        }
      }));
      // A connection the agent turned away ends (EOF or reset); a served one stays open.
      for (const [i, c] of conns.entries()) {
        c?.read(new Uint8Array(16)).then(() => closed.add(i), () => closed.add(i));
      }
      const arrived = await waitFor(async () => {
        const rep = checkSeqs(await r.collector.lines(), CONNECTIONS, "flood");
        return closed.size >= CONNECTIONS - MAX_CONNECTIONS &&
          rep.unique + closed.size >= CONNECTIONS - connectFailed && rep;
      }, { timeoutMs: 30_000, what: "every connection served or closed" }).catch(async (e) => {
        const rep = checkSeqs(await r.collector.lines(), CONNECTIONS, "flood");
        throw new Error(`${e.message}: closed ${closed.size}, arrived ${rep.unique}`);
      });
      const rss = await rssMiB(r.agent.pid);
      const lines = await r.collector.lines();
      const got = new Set<number>();
      for (const l of lines) {
        const m = / flood - - - seq=(\d+)/.exec(l);
        if (m) got.add(Number(m[1]));
      }
      const servedButClosed = [...got].filter((i) => closed.has(i));
      const rejected = closed.size;
      // Served connections are the ones that stayed open: exactly their messages arrived.
      assert.equal(connectFailed, 0, "every connect succeeded (the kernel queues them)");
      assert.equal(closed.size, CONNECTIONS - MAX_CONNECTIONS, "the rest were closed at once");
      assert.equal(arrived.unique, MAX_CONNECTIONS, "maxConnections were served");
      assert.deepEqual(servedButClosed, [], "no closed connection's message arrived");
      // Still relaying: the served connections send again.
      await Promise.all(conns.map(async (c, i) => {
        if (c !== undefined && !closed.has(i)) {
          await c.write(encoder.encode(seqMessage(i, 120, "again") + "\n"));
        }
      }));
      await waitFor(
        async () =>
          checkSeqs(await r.collector.lines(), CONNECTIONS, "again").unique === MAX_CONNECTIONS,
        { timeoutMs: 10_000, what: "a second message on each served connection" },
      );
      // Once the clients are gone, new connections are served again.
      for (const c of conns) {
        try {
          c?.close();
        } catch {
          // Closed.
        }
      }
      let probes = 0;
      await waitFor(async () => {
        // Until the agent has seen the 1,000 closes, a new connection may still be turned away.
        await sendSeq({
          port: r.port,
          count: 1,
          size: 100,
          framing: "lf",
          tag: "probe",
          start: probes++,
        })
          .catch(() => {});
        return checkSeqs(await r.collector.lines(), probes, "probe").unique > 0;
      }, {
        timeoutMs: 10_000,
        intervalMs: 100,
        what: "a new connection served after the clients left",
      });
      const later = await sendSeq({
        port: r.port,
        count: 100,
        size: 100,
        framing: "lf",
        tag: "later",
      });
      assert.equal(later.sent, 100);
      await waitFor(async () => checkSeqs(await r.collector.lines(), 100, "later").unique === 100, {
        timeoutMs: 10_000,
        what: "messages sent after the clients left",
      });
      const st = await status(r.agent);
      summary(
        "connection-flood",
        `${
          fmt(CONNECTIONS)
        } connections at once (${limit}), each sending one message, maxConnections ${
          fmt(MAX_CONNECTIONS)
        }: all connected in ${(connectMs / 1000).toFixed(1)} s, ${
          fmt(arrived.unique)
        } served (their ${fmt(arrived.unique)} messages arrived), ${
          fmt(rejected)
        } closed at once by the agent (their messages dropped with the connection, as the sender sees: EOF/reset); agent up, RSS ${
          rssBefore.toFixed(0)
        } → ${rss.toFixed(0)} MiB holding ${
          fmt(MAX_CONNECTIONS)
        } connections (limit ${MAX_RSS_MIB}); the served connections sent ${
          fmt(MAX_CONNECTIONS)
        } more, all arrived; after they closed new connections were served again; received ${
          fmt(st.counters.received)
        }, dropped ${st.counters.dropped}`,
      );
      assert.ok(await alive(r.agent.pid), "the agent stays up");
      assert.ok(rss < MAX_RSS_MIB, `RSS ${rss.toFixed(0)} MiB`);
    } finally {
      for (const c of conns) {
        try {
          c?.close();
        } catch {
          // Closed.
        }
      }
      await teardown(r);
    }
  },
);
