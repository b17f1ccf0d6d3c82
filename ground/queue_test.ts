import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { Queue } from "./queue.ts";

Deno.test("queue: first in, first out, with at, set and indexOf counted from the oldest", () => {
  const q = new Queue<string>();
  assertEquals(q.shift(), undefined);
  for (const s of ["a", "b", "c", "d"]) q.push(s);
  assertEquals(q.shift(), "a");
  assertEquals(q.length, 3);
  assertEquals([q.at(0), q.at(2), q.at(3), q.at(-1)], ["b", "d", undefined, undefined]);
  q.set(1, "C");
  assertEquals(q.indexOf("C"), 1);
  assertEquals(q.indexOf("a"), -1);
  assertThrows(() => q.set(3, "x"), RangeError);
  assertEquals(q.takeAll(), ["b", "C", "d"]);
  assertEquals(q.length, 0);
  q.push("e");
  assertEquals([q.shift(), q.shift(), q.length], ["e", undefined, 0]);
});

Deno.test("queue: a long run through it keeps its order and its length, whatever the cuts", () => {
  const q = new Queue<number>();
  let pushed = 0;
  let taken = 0;
  // Push 3, take 2, over and over: the head passes half the array many times.
  for (let round = 0; round < 5_000; round++) {
    for (let i = 0; i < 3; i++) q.push(pushed++);
    for (let i = 0; i < 2; i++) assertEquals(q.shift(), taken++);
    assertEquals(q.length, pushed - taken);
    assertEquals(q.at(0), taken);
    assertEquals(q.at(q.length - 1), pushed - 1);
  }
  const rest = q.takeAll();
  assertEquals(rest.length, pushed - taken);
  assertEquals(rest[0], taken);
  assertEquals(rest.at(-1), pushed - 1);
});
