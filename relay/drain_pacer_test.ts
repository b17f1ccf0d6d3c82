import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { DrainPacer } from "./drain_pacer.ts";
import { type Batch, FakeClock } from "../ground/mod.ts";

const never = new AbortController().signal;

function batch(count: number, resent = false): Batch {
  return { data: new Uint8Array(0), count, ...(resent ? { resent } : {}) };
}

/**
 * Sends `batch(size)` through `pacer` for `ms` of fake time with `pending`
 * waiting; returns the messages that went out.
 */
async function sendFor(
  clock: FakeClock,
  pacer: DrainPacer,
  ms: number,
  size: number,
  pending: number,
  resent = false,
): Promise<number> {
  const end = clock.now() + ms;
  let sent = 0;
  while (clock.now() < end) {
    let done = false;
    const p = pacer.pace(batch(size, resent), pending, never).then(() => done = true);
    while (!done) {
      await clock.advance(1);
      await Promise.resolve();
    }
    await p;
    if (clock.now() <= end) sent += size;
  }
  return sent;
}

Deno.test("drain pacer: auto drains a backlog at 1.6 times the agent's own inflow, a tenth of a second's worth at once", async () => {
  const clock = new FakeClock(0);
  let received = 0;
  const pacer = new DrainPacer("auto", () => received, clock);
  // 5,000 messages a second for 10 s: the inflow.
  for (let i = 0; i < 10; i++) {
    pacer.inflow();
    received += 5_000;
    await clock.advance(1_000);
  }
  assertEquals(Math.round(pacer.inflow()), 5_000);
  assertEquals(Math.round(pacer.rate()), 8_000);
  received = 50_000; // the inflow stops (the tier is down): the rate stays from the last minute
  const sent = await sendFor(clock, pacer, 3_000, 100, 1_000_000);
  // A tenth of a second's worth at once (800), then 8,000 a second (the rate falls a little as
  // the minute's window takes in the quiet seconds).
  assert(sent >= 21_000 && sent <= 800 + 24_000, `sent ${sent} in 3 s`);
  assert(pacer.waitedMs > 2_000, `waited ${pacer.waitedMs} ms`);
});

Deno.test("drain pacer: live traffic without a backlog is never paced; a resend always is", async () => {
  const clock = new FakeClock(0);
  const pacer = new DrainPacer(1_000, () => 0, clock);
  // 900 waiting is under DRAIN_BACKLOG_MIN: not a catch-up, however fast.
  for (let i = 0; i < 100; i++) await pacer.pace(batch(100), 900, never);
  assertEquals(clock.now(), 0);
  assertEquals(pacer.paced, 0);
  // Resends: 100 at once (the bucket is full: a tenth of a second), then 1,000 a second.
  const sent = await sendFor(clock, pacer, 2_000, 50, 0, true);
  assertEquals(sent, 100 + 2_000);
});

Deno.test("drain pacer: a fixed maxDrainRate, and 0 for none", async () => {
  const clock = new FakeClock(0);
  const fixed = new DrainPacer(2_000, () => 0, clock);
  assertEquals(await sendFor(clock, fixed, 5_000, 100, 100_000), 200 + 5 * 2_000);
  const none = new DrainPacer(0, () => 0, clock);
  const t0 = clock.now();
  for (let i = 0; i < 1_000; i++) await none.pace(batch(1_000, true), 1_000_000, never);
  assertEquals(clock.now(), t0);
  assertEquals(none.rate(), 0);
});

Deno.test("drain pacer: auto, just started (no inflow known) drains at 10,000/s; a quiet agent at least 100/s", async () => {
  const clock = new FakeClock(0);
  let received = 0;
  const pacer = new DrainPacer("auto", () => received, clock);
  assertEquals(pacer.rate(), 10_000, "the first seconds: what the last run left drains quickly");
  for (let i = 0; i < 20; i++) {
    received += 30;
    await clock.advance(1_000);
    pacer.inflow();
  }
  assertEquals(pacer.rate(), 100, "twice 30/s is under the minimum");
  for (let i = 0; i < 60; i++) {
    received += 3_000;
    await clock.advance(1_000);
    pacer.inflow();
  }
  assertEquals(Math.round(pacer.rate()), 4_800, "1.6 times its inflow over the last minute");
});

Deno.test("drain pacer: auto drains what reached the spool before the agent started at 10,000/s, whatever its inflow", async () => {
  const clock = new FakeClock(1_000_000);
  const pacer = new DrainPacer("auto", () => 0, clock);
  await clock.advance(60_000); // a minute without inflow: its own backlog would go at 100/s
  assertEquals(pacer.rate(), 100);
  assertEquals(pacer.rate(true), 10_000);
  const t0 = clock.now();
  let sent = 0;
  while (clock.now() - t0 < 1_000) {
    let done = false;
    const leftover: Batch = { data: new Uint8Array(0), count: 100, arrivedAt: 999_000 };
    const p = pacer.pace(leftover, 100_000, never).then(() => done = true);
    while (!done) await clock.advance(1);
    await p;
    sent += 100;
  }
  assert(sent >= 10_000 && sent <= 11_100, `${sent} in a second`);
});
