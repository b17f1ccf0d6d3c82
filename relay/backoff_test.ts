import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS } from "../config/mod.ts";
import { backoffDelay } from "./backoff.ts";

Deno.test("backoff: doubles from the base with each failure", () => {
  const top = Array.from({ length: 6 }, (_, i) => backoffDelay(i + 1, () => 1));
  assertEquals(top, [250, 500, 1000, 2000, 4000, 8000]);
  assertEquals(BACKOFF_BASE_MS, 250);
  // Failure counts below 1 are treated as the first.
  assertEquals(backoffDelay(0, () => 1), BACKOFF_BASE_MS);
});

Deno.test("backoff: capped, however many failures", () => {
  for (const failures of [7, 8, 20, 100, 1000, 1e6]) {
    const d = backoffDelay(failures, () => 1);
    assertEquals(d, BACKOFF_CAP_MS, `failures ${failures}`);
    assert(Number.isFinite(backoffDelay(failures, () => 0)));
  }
  assertEquals(backoffDelay(20, () => 0), BACKOFF_CAP_MS / 2);
});

Deno.test("backoff: equal jitter stays between half and all of the delay", () => {
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let failures = 1; failures <= 12; failures++) {
    const full = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (failures - 1));
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const d = backoffDelay(failures, random);
      assert(
        d >= full / 2 && d <= full,
        `failures ${failures}: ${d} outside [${full / 2}, ${full}]`,
      );
      seen.add(Math.round(d));
    }
    assert(seen.size > 50, "the delay varies: agents do not reconnect in step");
    assertEquals(backoffDelay(failures, () => 0), full / 2);
  }
});
