/**
 * End-to-end: `agent demo` as a real process: the incident replayed, nothing
 * missing, and nothing left running afterwards, also when interrupted.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { demo } from "../demo/mod.ts";
import { processesUsing, waitFor } from "../testkit/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));

/** `agent demo` with its temp dir under `tmp` (TMPDIR), its output collected as it comes. */
function startDemo(tmp: string): {
  child: Deno.ChildProcess;
  output: () => string;
  done: Promise<{ code: number; signal: Deno.Signal | null; output: string }>;
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--unstable-net", MAIN, "demo"],
    env: { TMPDIR: tmp },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  // A demo that hangs is killed, so that the test fails instead of hanging.
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const done = child.status.then(async (s) => {
    clearTimeout(timer);
    await pumps;
    return { code: s.code, signal: s.signal, output: text };
  });
  return { child, output: () => text, done };
}

/** Fails naming every process left running whose command line mentions `dir`. */
async function assertNothingLeft(dir: string, output: string): Promise<void> {
  const left = await processesUsing(dir);
  for (const p of left) Deno.kill(p.pid, "SIGKILL");
  assert.deepEqual(
    left.map((p) => p.cmdline),
    [],
    `processes left running:\n${output}`,
  );
  const rsyslogds = left.filter((p) => /rsyslogd/.test(p.cmdline));
  assert.equal(rsyslogds.length, 0);
}

Deno.test(
  "agent demo: the incident replayed, exit 0, missing: 0, no process left behind",
  opts,
  async () => {
    const tmp = await Deno.makeTempDir({ prefix: "agent-demo-test-" });
    try {
      const t0 = performance.now();
      const r = await startDemo(tmp).done;
      const secs = (performance.now() - t0) / 1000;
      assert.equal(r.code, 0, r.output);
      assert.match(r.output, /^ {2}missing: +0$/m, r.output);
      // The incident happened, and the agent dealt with it.
      assert.match(r.output, /exited with code 1: it died of the HUP/, r.output);
      assert.match(r.output, /agent: restarted rsyslogd as pid \d+/);
      assert.match(r.output, /logrotate: done \(exit 0\)/);
      assert.match(r.output, /the spool takes over/);
      assert.match(r.output, /the spool is drained/);
      assert.match(r.output, /^ {2}rsyslogd: +1 restart\(s\) by the agent/m);
      assert.match(r.output, /cleanup: stopped agent \(exit 0\), collector; nothing left running/);
      assert.ok(secs < 60, `the demo took ${secs.toFixed(1)} s`);
      await assertNothingLeft(tmp, r.output);
      // The temp dir is removed after a successful run.
      const entries = [...Deno.readDirSync(tmp)];
      assert.deepEqual(entries, [], "the demo's temp dir is removed");
      const report = r.output.slice(r.output.indexOf("\nreport\n") + 1).trim().split("\n");
      console.log(`summary: demo in ${secs.toFixed(1)} s:\n${report.join("\n")}`);
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
);

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(
    `agent demo: ${sig} mid-run stops everything it started (exit ${sig === "SIGINT" ? 130 : 143})`,
    opts,
    async () => {
      const tmp = await Deno.makeTempDir({ prefix: "agent-demo-test-" });
      const d = startDemo(tmp);
      try {
        await waitFor(() => /application: logging/.test(d.output()), {
          timeoutMs: 30_000,
          what: "the demo's application to start",
        });
        // Everything is running: the collector, the agent, and rsyslogd under it.
        assert.ok(
          (await processesUsing(tmp)).filter((p) => /rsyslogd/.test(p.cmdline)).length >= 2,
          "a collector and a managed rsyslogd run",
        );
        d.child.kill(sig);
        const r = await d.done;
        assert.equal(r.code, sig === "SIGINT" ? 130 : 143, r.output);
        assert.match(r.output, new RegExp(`interrupted by ${sig}`));
        assert.match(r.output, /nothing left running/);
        await assertNothingLeft(tmp, r.output);
      } finally {
        try {
          d.child.kill("SIGKILL");
        } catch {
          // Exited.
        }
        await d.done;
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
      }
    },
  );
}

Deno.test("agent demo: without rsyslogd it names the command that installs it, exit 1", async () => {
  let out = "";
  const code = await demo({ rsyslogd: "/nonexistent/sbin/rsyslogd", write: (t) => out += t });
  assert.equal(code, 1);
  assert.match(out, /rsyslogd is not installed/);
  assert.match(out, /apt-get install rsyslog/);
  assert.match(out, /bash \.ci\/install/);
});
