import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { Taps } from "./taps.ts";
import { octets } from "../testkit/mod.ts";

const dec = new TextDecoder();

Deno.test("taps: a text match searches the run and gives each message it is in, not one across a frame's edge", async () => {
  const taps = new Taps();
  const tap = taps.open({ match: "b 1" });
  // "b 1" is in the 2nd and 4th messages, and across the edge of the 1st and 2nd: "aaa b "
  // then the 2nd's octet count "11": only whole messages that contain it count.
  const data = octets(["aaa b ", "xx b 1 yyyy", "zzz", "b 1", "c"]);
  assertEquals(dec.decode(data).includes("aaa b 11 "), true);
  taps.offerFrames({ input: "in" }, data, 0, data.length);
  assertEquals((await tap.take()).map((e) => dec.decode(e.message)), ["xx b 1 yyyy", "b 1"]);
  taps.close(tap);
});

Deno.test("taps: input and collector sides, regular expressions, and a full tap skips and counts", async () => {
  const taps = new Taps();
  const byInput = taps.open({ input: "a" });
  const byRegex = taps.open({ match: /^m[13]$/ });
  const byCollector = taps.open({ collector: "c:514" });
  const data = octets(["m1", "m2", "m3"]);
  taps.offerFrames({ input: "a" }, data, 0, data.length);
  taps.offerFrames({ input: "b" }, data, 0, data.length);
  taps.offerFrames({ collector: "c:514" }, data, 0, data.length);
  const texts = async (t: typeof byInput) => (await t.take()).map((e) => dec.decode(e.message));
  assertEquals(await texts(byInput), ["m1", "m2", "m3"]);
  assertEquals(await texts(byRegex), ["m1", "m3", "m1", "m3"]);
  assertEquals(await texts(byCollector), ["m1", "m2", "m3"]);
  assertEquals([taps.inputs, taps.collectors], [true, true]);
  for (let i = 0; i < 1_200; i++) taps.offerFrames({ input: "a" }, data, 0, data.length);
  assertEquals((await byInput.take()).length, 1_000);
  assertEquals(byInput.skipped, 3_600 - 1_000);
  for (const t of [byInput, byRegex, byCollector]) taps.close(t);
  assertEquals([taps.inputs, taps.collectors], [false, false]);
});
