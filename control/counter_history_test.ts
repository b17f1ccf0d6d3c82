import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { CounterHistory } from "./counter_history.ts";
import { FakeClock } from "../ground/mod.ts";
import { Counters } from "../relay/mod.ts";

Deno.test("counter history: rates over the last minute, drops of the last minute only", async () => {
  const clock = new FakeClock(0);
  const counters = new Counters();
  const history = new CounterHistory(counters, clock);
  history.start();
  assertEquals(history.rates(), { received: 0, forwarded: 0, dropped: 0 });
  counters.received += 1000;
  counters.forwarded += 500;
  counters.dropped += 7;
  await clock.advance(10_000);
  assertEquals(history.rates(), { received: 100, forwarded: 50, dropped: 0.7 });
  assertEquals(history.lastMinute(), { dropped: 7, deadLettered: 0 });
  // Two minutes later, with nothing new: the old drops have left the window.
  await clock.advance(120_000);
  assertEquals(history.lastMinute(), { dropped: 0, deadLettered: 0 });
  assertEquals(history.rates().received, 0);
  history.stop();
  assertEquals(clock.pending, 0, "stop leaves no timer");
});
