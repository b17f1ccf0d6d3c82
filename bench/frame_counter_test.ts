import { deepStrictEqual as assertEquals, match as assertMatch } from "node:assert/strict";
import { FrameCounter } from "./frame_counter.ts";

const enc = new TextEncoder();

function feedBytewise(c: FrameCounter, text: string): void {
  const bytes = enc.encode(text);
  for (let i = 0; i < bytes.length; i++) c.push(bytes.subarray(i, i + 1));
}

Deno.test("FrameCounter counts octet-counted frames whatever the chunking", () => {
  const stream = "10 0123456789" + "3 a b" + "11 <14>1 x\ny z";
  const whole = new FrameCounter();
  assertEquals(whole.push(enc.encode(stream)), 3);
  const bytewise = new FrameCounter();
  feedBytewise(bytewise, stream);
  assertEquals(bytewise.count, 3);
  assertEquals(bytewise.framing, "octet-counted");
});

Deno.test("FrameCounter does not count a frame whose body is still incomplete", () => {
  const c = new FrameCounter();
  c.push(enc.encode("5 abc"));
  assertEquals(c.count, 0);
  c.push(enc.encode("de"));
  assertEquals(c.count, 1);
});

Deno.test("FrameCounter counts LF-terminated lines when the stream starts with '<'", () => {
  const c = new FrameCounter();
  c.push(enc.encode("<14>1 a\n<14>1 b"));
  assertEquals(c.count, 1);
  c.push(enc.encode("\n"));
  assertEquals(c.count, 2);
  assertEquals(c.framing, "lf");
});

Deno.test("FrameCounter reports a broken octet-counted stream and stops counting", () => {
  const c = new FrameCounter();
  c.push(enc.encode("3 abcx3 abc"));
  assertEquals(c.count, 1);
  assertMatch(c.error ?? "", /byte 120 after 1 messages/);
});
