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
