import assert from "node:assert/strict";
import { FakeClock } from "../ground/mod.ts";
import { RestartPolicy } from "./restart_policy.ts";

Deno.test("restart policy: delays double from 100 ms, the 5th death within a minute is a crash loop at 30 s", async () => {
  const clock = new FakeClock(0);
  const policy = new RestartPolicy(clock);
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    policy.started();
    await clock.advance(10); // dies 10 ms after each start
    delays.push(policy.died());
    assert.equal(policy.failing, false, `not failing after ${i + 1} deaths`);
    await clock.advance(delays.at(-1)!);
  }
  assert.deepEqual(delays, [100, 200, 400, 800]);
  policy.started();
  await clock.advance(10);
  assert.equal(policy.died(), 30_000);
  assert.equal(policy.failing, true);
  // In the failed state every further attempt waits the cap.
  policy.started();
  await clock.advance(10);
  assert.equal(policy.died(), 30_000);
});

Deno.test("restart policy: a minute of stable running resets the backoff and the crash loop", async () => {
  const clock = new FakeClock(0);
  const policy = new RestartPolicy(clock);
  for (let i = 0; i < 5; i++) {
    policy.started();
    policy.died();
  }
  assert.equal(policy.failing, true);
  policy.started();
  await clock.advance(59_999);
  assert.equal(policy.failing, true, "still failing before a full minute");
  await clock.advance(1);
  assert.equal(policy.failing, false, "a minute up clears the failed state");
  assert.equal(policy.died(), 100, "and the backoff starts over");
});

Deno.test("restart policy: deaths spread over more than the window are no crash loop, but still back off", async () => {
  const clock = new FakeClock(0);
  const policy = new RestartPolicy(clock);
  const delays: number[] = [];
  for (let i = 0; i < 8; i++) {
    policy.started();
    await clock.advance(20_000); // up 20 s each time: never stable, never 5 within 60 s
    delays.push(policy.died());
    assert.equal(policy.failing, false, `death ${i + 1}`);
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 12800]);
  policy.started();
  await clock.advance(20_000);
  policy.died();
  policy.started();
  await clock.advance(20_000);
  assert.equal(policy.died(), 30_000, "capped at 30 s");
});

Deno.test("restart policy: a start that cannot happen is the failed state at once", () => {
  const clock = new FakeClock(0);
  const policy = new RestartPolicy(clock, { capMs: 5000 });
  assert.equal(policy.cannotStart(), 5000);
  assert.equal(policy.failing, true);
});
