import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { DeadLetters } from "./dead_letter.ts";

const enc = new TextEncoder();

Deno.test("dead letters: one line per message with time, collector, reason; bounded by rotation", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dead_letter_test_" });
  const errors: string[] = [];
  const dead = new DeadLetters(`${dir}/dead-letter.log`, (e) => errors.push(e), 300);
  try {
    const at = new Date("2026-12-01T10:00:00Z");
    await dead.add(
      enc.encode("<13>line one\nwith a break"),
      "10.0.0.5:2514",
      "refused 3 times",
      at,
    );
    const text = await Deno.readTextFile(`${dir}/dead-letter.log`);
    assertEquals(
      text,
      '2026-12-01T10:00:00.000Z 10.0.0.5:2514 "refused 3 times" "<13>line one\\nwith a break"\n',
    );
    for (let i = 0; i < 10; i++) await dead.add(enc.encode(`message ${i}`), "c", "r", at);
    const now = (await Deno.stat(`${dir}/dead-letter.log`)).size;
    const old = (await Deno.stat(`${dir}/dead-letter.log.1`)).size;
    assert(now <= 300 && old <= 300, `${now} and ${old} bytes`);
    assert((await Deno.readTextFile(`${dir}/dead-letter.log`)).endsWith('"message 9"\n'));
    assertEquals(errors, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dead letters: a write that fails is reported, not thrown", async () => {
  const errors: string[] = [];
  const dead = new DeadLetters("/nonexistent-dir/dead-letter.log", (e) => errors.push(e));
  await dead.add(enc.encode("m"), "c", "r");
  assertEquals(errors.length, 1);
  assert(/cannot write \/nonexistent-dir\/dead-letter.log/.test(errors[0]!), errors[0]);
});
