import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { Notifier, type NotifySink, stuckLimitMs } from "./notifier.ts";
import { STUCK_GRACE_MS } from "../config/mod.ts";
import { FakeClock } from "../ground/mod.ts";

class FakeNotify implements NotifySink {
  readonly enabled = true;
  readonly watchdogIntervalMs: number | undefined;
  sent: string[] = [];
  constructor(watchdogMs: number | undefined) {
    this.watchdogIntervalMs = watchdogMs === undefined ? undefined : watchdogMs / 2;
  }
  send(state: string): Promise<undefined> {
    this.sent.push(state);
    return Promise.resolve(undefined);
  }
  pings(): number {
    return this.sent.filter((s) => s.includes("WATCHDOG=1")).length;
  }
}

Deno.test("stuckLimitMs: the longest writeTimeoutMs plus the grace", () => {
  assertEquals(
    stuckLimitMs([{ writeTimeoutMs: 5000 }, { writeTimeoutMs: 30_000 }]),
    30_000 + STUCK_GRACE_MS,
  );
});

Deno.test("notifier: a collector stall within writeTimeoutMs (above the watchdog period) keeps the pings going", async () => {
  const clock = new FakeClock(0);
  const notify = new FakeNotify(10_000);
  // writeTimeoutMs 30 s, WatchdogSec 10 s: a stalled write is ordinary for up to 30 s.
  let stuckSince: number | undefined;
  const limit = stuckLimitMs([{ writeTimeoutMs: 30_000 }]);
  const n = new Notifier(notify, {
    stuckForMs: () => stuckSince === undefined ? 0 : clock.now() - stuckSince,
    stuckLimitMs: () => limit,
    summary: () => "ok",
  }, clock);
  n.start("ok");
  // Pings every 2 s (half of WatchdogSec, at most 2 s).
  await clock.advance(10_000);
  assertEquals(notify.pings(), 5);
  stuckSince = clock.now();
  // The whole stall, up to the write timeout: none missed.
  await clock.advance(30_000);
  assertEquals(notify.pings(), 20);
  // A write that outlives its own timeout plus the grace: the pings stop, systemd restarts.
  await clock.advance(STUCK_GRACE_MS + 10_000);
  assertEquals(notify.pings(), 22, "pings while stuck up to 35 s, none after");
  stuckSince = undefined;
  await clock.advance(6_000);
  assertEquals(notify.pings(), 25);
  n.stop();
});

Deno.test("notifier: STATUS= only when the summary changes; no WATCHDOG without a watchdog", async () => {
  const clock = new FakeClock(0);
  const notify = new FakeNotify(undefined);
  let summary = "ok: 0/s in";
  const n = new Notifier(notify, {
    stuckForMs: () => 0,
    stuckLimitMs: () => 10_000,
    summary: () => summary,
  }, clock);
  n.start(summary);
  await clock.advance(4_000);
  assertEquals(notify.sent, []);
  summary = "degraded: 5/s in";
  await clock.advance(2_000);
  assertEquals(notify.sent, ["STATUS=degraded: 5/s in"]);
  n.stop();
  assertEquals(clock.pending, 0);
});
