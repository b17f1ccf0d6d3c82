import assert from "node:assert/strict";
import { childEnv, processSpawner } from "./spawner.ts";

Deno.test("spawner: children do not get the agent's NOTIFY_SOCKET and watchdog variables", async () => {
  const env = childEnv({
    NOTIFY_SOCKET: "/run/systemd/notify",
    WATCHDOG_USEC: "30000000",
    WATCHDOG_PID: "1",
    PATH: "/usr/bin:/bin",
    LANG: "C.UTF-8",
  });
  assert.deepEqual(env, { PATH: "/usr/bin:/bin", LANG: "C.UTF-8" });
  // The real spawner passes the rest of the environment on.
  const r = await processSpawner.run(["/bin/sh", "-c", 'echo "${PATH:+path set}"'], 5000);
  assert.equal(r.output, "path set");
});

Deno.test("process identity: a pid now held by another process is not the one started (pid reuse)", async () => {
  const { isAlive, processId } = await import("./_proc.ts");
  const first = new Deno.Command("sleep", { args: ["30"] }).spawn();
  const second = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const id = processId(first.pid);
    assert.ok(id !== undefined && isAlive(id), "a live child is itself");
    const other = processId(second.pid);
    assert.ok(other !== undefined);
    // The pid of `first` taken over by a process that started at another time: what the
    // watchdog checks before every signal, so that a reused pid is never signalled.
    assert.equal(isAlive({ pid: second.pid, startTime: id.startTime + 1 }), false);
    first.kill("SIGKILL");
    await first.status;
    assert.equal(isAlive(id), false, "gone once it exited");
  } finally {
    try {
      second.kill("SIGKILL");
    } catch { /* gone */ }
    await second.status;
    try {
      first.kill("SIGKILL");
    } catch { /* gone */ }
  }
});

Deno.test("spawner: a child that has exited is never signalled again", async () => {
  const seen: string[] = [];
  const child = processSpawner.spawn(["sleep", "30"], (l) => seen.push(l));
  Deno.kill(child.pid, "SIGKILL");
  await child.status;
  // Its pid may belong to anyone by now: kill must not reach it (and must not throw).
  child.kill("SIGTERM");
  child.kill("SIGHUP");
  assert.deepEqual(seen, []);
});
