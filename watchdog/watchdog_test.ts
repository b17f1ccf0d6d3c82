import assert from "node:assert/strict";
import type { RsyslogdConfig } from "../config/mod.ts";
import { FakeClock, Logger } from "../ground/mod.ts";
import { FakeSpawner } from "./_fake_spawner.ts";
import { Watchdog } from "./watchdog.ts";

function setup(command: string[]) {
  const clock = new FakeClock(1_000_000);
  const spawner = new FakeSpawner(() => clock.now());
  const lines: string[] = [];
  const log = new Logger({ level: "debug", format: "text", write: (l) => lines.push(l) });
  const cfg: RsyslogdConfig = {
    mode: "child",
    command,
    pidFile: "/nonexistent/rsyslogd.pid",
    restartCommand: ["true"],
    probe: { target: { kind: "none" }, intervalMs: 5000, timeoutMs: 2000, failures: 3 },
  };
  const watchdog = new Watchdog(cfg, log, { clock, spawner });
  return { clock, spawner, lines, watchdog };
}

Deno.test("watchdog: a command that exits at once is restarted with growing delays, then failed and retried every 30 s", async () => {
  const { clock, spawner, watchdog } = setup(["/bin/sh", "-c", "exit 3"]);
  spawner.onSpawn = (p) => queueMicrotask(() => p.exit(3));
  await watchdog.start();
  await clock.advance(0);
  assert.equal(watchdog.status().state, "restarting");
  await clock.advance(5_000);
  const t0 = spawner.procs[0]!.at;
  const gaps = spawner.procs.slice(1).map((p, i) => p.at - spawner.procs[i]!.at);
  assert.deepEqual(gaps, [100, 200, 400, 800], `starts at ${spawner.procs.map((p) => p.at - t0)}`);
  const s = watchdog.status();
  assert.equal(s.state, "failed");
  assert.equal(s.restarts, 4);
  assert.equal(s.lastExit, `pid ${spawner.procs[4]!.pid} exited with code 3`);
  assert.match(watchdog.problem(), /^crash loop: 5 exits within 60 s .*retrying every 30 s/);
  // Keeps retrying at the slowest pace.
  await clock.advance(60_000);
  const late = spawner.procs.slice(5).map((p) => p.at - t0);
  assert.equal(late.length, 2, `retries at ${late}`);
  assert.equal(late[1]! - late[0]!, 30_000);
  await watchdog.stop();
});

Deno.test("watchdog: after a minute up, the next death restarts in 100 ms again", async () => {
  const { clock, spawner, watchdog } = setup(["/bin/sh", "-c", "exit 3"]);
  spawner.onSpawn = (p) => queueMicrotask(() => p.exit(1));
  await watchdog.start();
  await clock.advance(2_000); // 5 quick deaths: failed
  assert.equal(watchdog.status().state, "failed");
  spawner.onSpawn = () => {}; // the next one stays up
  await clock.advance(30_000);
  const up = spawner.procs.at(-1)!;
  assert.equal(up.exited, false);
  assert.equal(watchdog.status().state, "running");
  await clock.advance(60_000);
  const n = spawner.procs.length;
  up.exit(0, "SIGSEGV");
  await clock.advance(99);
  assert.equal(spawner.procs.length, n, "not before 100 ms");
  await clock.advance(1);
  assert.equal(spawner.procs.length, n + 1, "restarted 100 ms later");
  assert.equal(watchdog.status().lastExit, `pid ${up.pid} killed by SIGSEGV`);
  await watchdog.stop();
});

Deno.test("watchdog: a config rsyslogd rejects is the failed state naming the file; nothing is started", async () => {
  const { clock, spawner, watchdog } = setup(["/usr/sbin/rsyslogd", "-n", "-f", "/etc/x/bad.conf"]);
  spawner.runResult = {
    code: 1,
    signal: null,
    timedOut: false,
    output:
      "rsyslogd: version 8.2302.0, config validation run (level 1), master config /etc/x/bad.conf\n" +
      "rsyslogd: error during parsing file /etc/x/bad.conf, on or before line 1: invalid character '(' [v8.2302.0 try https://www.rsyslog.com/e/2207 ]",
  };
  await watchdog.start();
  await clock.advance(0);
  assert.deepEqual(spawner.runs[0], ["/usr/sbin/rsyslogd", "-N1", "-f", "/etc/x/bad.conf"]);
  assert.equal(spawner.procs.length, 0);
  assert.equal(watchdog.status().state, "failed");
  assert.match(
    watchdog.problem(),
    /^rsyslogd rejects its config \/etc\/x\/bad\.conf .*exited with code 1\): error during parsing file \/etc\/x\/bad\.conf, on or before line 1: invalid character '\('; fix \/etc\/x\/bad\.conf/,
  );
  // Fixed meanwhile: the next attempt, 30 s later, validates again and starts it.
  spawner.runResult = { code: 0, signal: null, timedOut: false, output: "" };
  await clock.advance(30_000);
  assert.equal(spawner.runs.length, 2);
  assert.equal(spawner.procs.length, 1);
  assert.equal(watchdog.status().state, "running");
  await watchdog.stop();
});

Deno.test("watchdog: a program that does not exist is the failed state with the path and the fix", async () => {
  const { clock, spawner, watchdog } = setup(["/nonexistent/rsyslogd-x", "-n"]);
  spawner.spawnError = new Deno.errors.NotFound("Failed to spawn '/nonexistent/rsyslogd-x'");
  await watchdog.start();
  await clock.advance(0);
  assert.equal(watchdog.status().state, "failed");
  assert.equal(
    watchdog.problem(),
    "cannot run /nonexistent/rsyslogd-x (rsyslogd.command[0]): no such file; install rsyslog or fix rsyslogd.command",
  );
  await watchdog.stop();
});

Deno.test("watchdog: stop sends SIGTERM, and SIGKILL when it is still there 5 s later", async () => {
  const { clock, spawner, watchdog } = setup(["/usr/bin/hang"]);
  await watchdog.start();
  await clock.advance(0);
  const p = spawner.procs[0]!;
  p.fatal = ["SIGKILL"]; // ignores SIGTERM
  const stopping = watchdog.stop();
  await clock.advance(4_999);
  assert.deepEqual(p.signals, ["SIGTERM", "SIGCONT"]);
  await clock.advance(1);
  await stopping;
  assert.deepEqual(p.signals, ["SIGTERM", "SIGCONT", "SIGKILL"]);
  assert.equal(p.exited, true);
  assert.equal(spawner.procs.length, 1, "not restarted after stop");
});

Deno.test("watchdog: rotates arriving while one runs share one follow-up HUP and its result", async () => {
  const { clock, spawner, watchdog } = setup(["/usr/sbin/rsyslogd-like"]);
  await watchdog.start();
  await clock.advance(0);
  const p = spawner.procs[0]!;
  const first = watchdog.rotate();
  assert.deepEqual(p.signals, ["SIGHUP"], "the HUP goes out at once");
  await clock.advance(100); // the HUP is out, its proof not yet
  // A file renamed after that HUP needs one more HUP: these share it.
  const later = [watchdog.rotate(), watchdog.rotate(), watchdog.rotate(), watchdog.rotate()];
  await clock.advance(2_000);
  const r0 = await first;
  const rs = await Promise.all(later);
  assert.deepEqual(p.signals, ["SIGHUP", "SIGHUP"], "two HUPs for five rotates");
  for (const r of rs) assert.equal(r, rs[0], "every caller gets the same result");
  assert.notEqual(r0, rs[0]);
  assert.equal(r0.restarted, false);
  assert.match(r0.message, /^rsyslogd \(pid \d+\) survived the HUP: still running 500 ms later/);
  assert.notEqual(watchdog.status().lastRotateAt, "");
  // Nothing running: the next rotate HUPs again.
  const again = watchdog.rotate();
  await clock.advance(1_000);
  await again;
  assert.equal(p.signals.length, 3);
  await watchdog.stop();
});

Deno.test("watchdog: a process that dies of the HUP is restarted and the rotate says so", async () => {
  const { clock, spawner, watchdog } = setup(["/usr/sbin/rsyslogd-like"]);
  spawner.onSpawn = (p) => {
    if (spawner.procs.length === 1) p.fatal = ["SIGHUP", "SIGTERM", "SIGKILL"];
  };
  await watchdog.start();
  await clock.advance(0);
  const rotating = watchdog.rotate();
  await clock.advance(1_000);
  const r = await rotating;
  assert.equal(r.restarted, true);
  assert.equal(r.pid, spawner.procs[1]!.pid);
  assert.match(
    r.message,
    /^rsyslogd died after the HUP \(pid \d+ killed by SIGHUP\); restarted as pid \d+/,
  );
  assert.equal(watchdog.status().restarts, 1);
  await watchdog.stop();
});
