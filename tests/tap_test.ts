/**
 * `agent tap` with real processes: the agent relaying 20,000 messages a
 * second to an rsyslogd collector while three taps run: one for a single
 * message (`--grep`, `--limit 1`, `--json`), one for the first 100, and one
 * whose reader does not read (a terminal slower than the relay). The sender is
 * never blocked, the relay's CPU is measured against the same load without
 * taps, the slow tap says how many it skipped, and every message arrives.
 */

import assert from "node:assert/strict";
import {
  agentArgv,
  checkSeqs,
  cpuSeconds,
  freePort,
  RsyslogCollector,
  sendSeq,
  startAgent,
  tempDir,
  waitFor,
} from "../testkit/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const RATE = 20_000;
const COUNT = 100_000;
const SIZE = 200;

/** A running `agent tap`: its process, and its stdout and stderr as they come. */
interface TapProcess {
  child: Deno.ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Reads stdout only when asked: a tap whose reader is slower than the relay. */
  read: (yes: boolean) => void;
  done: Promise<void>;
}

/** Runs `agent tap ARGS` against `socket`, reading its output as it comes (unless paused). */
function tap(socket: string, args: string[], reading = true): TapProcess {
  const [cmd, ...rest] = agentArgv(["tap", "--socket", socket, ...args]);
  const child = new Deno.Command(cmd!, { args: rest, stdout: "piped", stderr: "piped" }).spawn();
  let out = "";
  let err = "";
  let wake: (() => void) | undefined;
  const collect = async (
    stream: ReadableStream<Uint8Array>,
    add: (t: string) => void,
    gate: boolean,
  ) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      while (gate && !reading) await new Promise<void>((r) => wake = r);
      add(dec.decode(chunk, { stream: true }));
    }
  };
  const done = Promise.all([
    collect(child.stdout, (t) => out += t, true),
    collect(child.stderr, (t) => err += t, false),
  ]).then(() => {});
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    read: (yes) => {
      reading = yes;
      if (yes) wake?.();
    },
    done,
  };
}

Deno.test(
  "agent tap: under 20,000 msg/s, taps: the one message asked for (a filtered tap), then the first 100 and a slow reader at once that skips and says so; the sender never waits, nothing is lost",
  opts,
  async () => {
    const dir = await tempDir("tap-");
    const collector = await RsyslogCollector.start(`${dir.path}/collector`);
    const port = await freePort();
    const agent = await startAgent({
      dir: `${dir.path}/agent`,
      readyPort: port,
      config: {
        inputs: [{ type: "tcp", address: `127.0.0.1:${port}` }],
        collectors: [{ address: `127.0.0.1:${collector.port}` }],
        spool: { dir: `${dir.path}/agent/spool` },
      },
    });
    const socket = `${dir.path}/agent/agent.sock`;
    const children: Deno.ChildProcess[] = [];
    try {
      // The same load three times: without taps (the relay's own CPU), with a filtered tap
      // that matches one message (the cost of looking), and with every message tapped to a
      // reader slower than the relay.
      const run = async (tag: string) => {
        const cpu0 = (await cpuSeconds(agent.pid))!;
        const sent = await sendSeq({
          port,
          count: COUNT,
          size: SIZE,
          framing: "octet-counted",
          ratePerSec: RATE,
          tag,
        });
        return { cpu: (await cpuSeconds(agent.pid))! - cpu0, wait: sent.maxWriteWaitMs };
      };
      const plain = await run("plain");

      const one = tap(socket, ["--grep", "filtered - - - seq=00012345", "--json"]);
      children.push(one.child);
      await waitFor(() => one.stderr().includes("tap: open"), {
        timeoutMs: 10_000,
        what: "the filtered tap open",
      });
      const filtered = await run("filtered");
      await waitFor(() => one.stdout().includes("\n"), { timeoutMs: 5_000, what: "the match" });
      one.child.kill("SIGINT");
      assert.equal((await one.child.status).code, 0);
      await one.done;
      const lines = one.stdout().trim().split("\n");
      assert.equal(lines.length, 1, `one line: ${lines}`);
      const event = JSON.parse(lines[0]!);
      assert.match(event.message, / filtered - - - seq=00012345 /);
      assert.equal(event.input, `tcp:127.0.0.1:${port}`);
      assert.equal(event.size, SIZE);

      const first = tap(socket, ["--input", `tcp:127.0.0.1:${port}`, "--limit", "100"]);
      const slow = tap(socket, [], false); // its output is not read until the end
      children.push(first.child, slow.child);
      await waitFor(() => [first, slow].every((t) => t.stderr().includes("tap: open")), {
        timeoutMs: 10_000,
        what: "two more taps open",
      });
      const tapped = await run("tapped");
      await first.child.status;
      await first.done;
      const firstOut = first.stdout().trim().split("\n");
      assert.equal(firstOut.length, 100);
      assert.deepEqual(
        checkSeqs(firstOut, 100, "tapped").missingCount,
        0,
        "the first 100 of the tapped run, in order",
      );
      slow.read(true);
      slow.child.kill("SIGINT");
      const slowStatus = await slow.child.status;
      await slow.done;
      const note = slow.stderr();
      const skipped = Number(
        /tap: (\d+) message\(s\) skipped, the terminal was slower/.exec(note)?.[1],
      );
      assert.ok(skipped > 0, `the slow tap skipped and said so: ${note}`);
      assert.equal(slowStatus.code, 0);

      await waitFor(async () => {
        const lines = await collector.lines();
        return ["plain", "filtered", "tapped"].every((tag) =>
          checkSeqs(lines, COUNT, tag).missingCount === 0
        );
      }, { timeoutMs: 30_000, what: "every message of both runs at the collector" });
      const rise = (r: { cpu: number }) => `${((r.cpu / plain.cpu - 1) * 100).toFixed(1)}%`;
      console.log(
        `summary: tap: ${RATE}/s × ${SIZE} B, ${COUNT} messages a run; relay CPU ${
          plain.cpu.toFixed(2)
        } s without taps, ${filtered.cpu.toFixed(2)} s with a filtered tap (${rise(filtered)}), ${
          tapped.cpu.toFixed(2)
        } s with every message tapped (${rise(tapped)}); ` +
          `sender's worst write wait ${plain.wait.toFixed(1)} / ${filtered.wait.toFixed(1)} / ${
            tapped.wait.toFixed(1)
          } ms; the slow tap skipped ${skipped}`,
      );
      // Guarantee 1: no sender waits (a tap included).
      for (const r of [filtered, tapped]) assert.ok(r.wait < 50, `sender waited ${r.wait} ms`);
      const st = await agent.statusJson() as { counters: { dropped: number } };
      assert.equal(st.counters.dropped, 0);
    } finally {
      for (const c of children) {
        try {
          c.kill("SIGKILL");
        } catch {
          // Ended.
        }
        await c.status;
      }
      await agent.stop();
      await collector.stop();
      await dir.remove();
    }
  },
);
