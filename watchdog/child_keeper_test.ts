import assert from "node:assert/strict";
import { FakeClock, Logger } from "../ground/mod.ts";
import { FakeSpawner } from "./_fake_spawner.ts";
import { ChildKeeper } from "./_child_keeper.ts";
import { RestartPolicy } from "./restart_policy.ts";

function keeper(devLog: string) {
  const clock = new FakeClock(1_000_000);
  const spawner = new FakeSpawner(() => clock.now());
  const lines: string[] = [];
  const log = new Logger({ level: "debug", format: "text", write: (l) => lines.push(l) });
  const k = new ChildKeeper({
    command: ["/bin/true"],
    killDeadlineMs: 5000,
    clock,
    spawner,
    policy: new RestartPolicy(clock),
    log,
    events: { started() {}, exited() {}, waiting() {}, unsure() {} },
    devLog,
  });
  return { clock, spawner, lines, k };
}

Deno.test("child keeper: the /dev/log symlink a child rsyslogd replaced and removed is put back on stop", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const target = `${dir}/journal-dev-log`;
    const devLog = `${dir}/log`;
    await Deno.symlink(target, devLog);
    const { clock, spawner, lines, k } = keeper(devLog);
    k.start();
    await clock.advance(0);
    assert.equal(spawner.procs.length, 1);
    // What imuxsock does: its own socket in place of the symlink...
    await Deno.remove(devLog);
    // (Deno removes the path it bound on close: the socket stays under the new name.)
    const sock = Deno.listen({ transport: "unix", path: `${dir}/sock` });
    await Deno.rename(`${dir}/sock`, devLog);
    sock.close();
    assert.equal((await Deno.lstat(devLog)).isSocket, true);
    await k.stop();
    assert.equal(await Deno.readLink(devLog), target);
    assert.ok(lines.some((l) => l.includes("put back")), lines.join("\n"));
    // ...and the same when it removed its socket at exit.
    const again = keeper(devLog);
    again.k.start();
    await again.clock.advance(0);
    await Deno.remove(devLog);
    await again.k.stop();
    assert.equal(await Deno.readLink(devLog), target);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("child keeper: a /dev/log that was not a symlink, or that became a file, is left alone", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const devLog = `${dir}/log`;
    const { clock, k } = keeper(devLog);
    k.start();
    await clock.advance(0);
    await k.stop();
    assert.equal(await Deno.lstat(devLog).catch(() => undefined), undefined);
    await Deno.symlink(`${dir}/target`, devLog);
    const second = keeper(devLog);
    second.k.start();
    await second.clock.advance(0);
    await Deno.remove(devLog);
    await Deno.writeTextFile(devLog, "not a socket");
    await second.k.stop();
    assert.equal((await Deno.lstat(devLog)).isFile, true);
    assert.ok(second.lines.some((l) => l.includes("left alone")), second.lines.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
