import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Ingest } from "./ingest.ts";
import { Counters } from "./counters.ts";
import { StreamFramer } from "./framer.ts";
import type { Batch } from "../ground/mod.ts";
import { batchMessages, octets, waitFor } from "../testkit/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function send(ingest: Ingest, msg: string): void {
  const bytes = enc.encode(`xx${msg}yy`);
  ingest.message(bytes, 2, bytes.length - 2);
}

Deno.test("ingest: messages and runs come out as well-formed octet-counted batches, in order", async () => {
  const counters = new Counters();
  const batches: Batch[] = [];
  const ingest = new Ingest(counters, (b) => batches.push(b));
  send(ingest, "<13>one");
  const run = octets(["<13>two", "<13>three\nwith LF", "<13>" + "x".repeat(1000)]);
  const padded = new Uint8Array(run.length + 10);
  padded.set(run, 5);
  ingest.frames(padded, 5, 5 + run.length, 3);
  send(ingest, "<13>\u00fcml\u00e4ut");
  // Nothing is handed on within the turn; the batch follows at the end of it.
  assertEquals(batches.length, 0);
  await waitFor(() => batches.length > 0, { timeoutMs: 2000, what: "the batch" });
  assertEquals(batches.length, 1);
  assertEquals(batchMessages(batches[0]!), [
    "<13>one",
    "<13>two",
    "<13>three\nwith LF",
    "<13>" + "x".repeat(1000),
    "<13>\u00fcml\u00e4ut",
  ]);
  assertEquals(counters.received, 5);
  // A batch is a copy: later input does not change it.
  const before = batches[0]!.data.slice();
  send(ingest, "<13>later");
  ingest.flush();
  assertEquals(batches[0]!.data, before);
  assertEquals(batchMessages(batches[1]!), ["<13>later"]);
  assertEquals(counters.received, 6);
});

Deno.test("ingest: a batch is handed on at once when it reaches the flush size", () => {
  const counters = new Counters();
  const batches: Batch[] = [];
  const ingest = new Ingest(counters, (b) => batches.push(b), 4096);
  const msg = "<13>" + "m".repeat(1000);
  let sent = 0;
  while (batches.length < 3) {
    send(ingest, `${msg} ${sent++}`);
    assert(sent < 1000, "flushes by size without waiting for the timer");
  }
  ingest.flush();
  const all = batches.flatMap(batchMessages);
  assertEquals(all, Array.from({ length: sent }, (_, i) => `${msg} ${i}`));
  for (const b of batches.slice(0, 3)) {
    assert(b.data.length >= 128 * 1024, `flushed at ${b.data.length} bytes`);
    assert(b.data.length < 128 * 1024 + 1100, `no more than one message past the size`);
  }
  assertEquals(counters.received, sent);
});

Deno.test("ingest: large runs of frames keep order across size flushes", () => {
  const counters = new Counters();
  const batches: Batch[] = [];
  const ingest = new Ingest(counters, (b) => batches.push(b), 65536);
  const expected: string[] = [];
  for (let i = 0; i < 40; i++) {
    const msgs = Array.from({ length: 20 }, (_, j) => `<13>run ${i} msg ${j} ${"r".repeat(2000)}`);
    expected.push(...msgs);
    const run = octets(msgs);
    ingest.frames(run, 0, run.length, msgs.length);
    send(ingest, `<13>single ${i}`);
    expected.push(`<13>single ${i}`);
  }
  ingest.flush();
  assert(batches.length > 1);
  assertEquals(batches.flatMap(batchMessages), expected);
  assertEquals(counters.received, expected.length);
  for (const b of batches) assert(b.data.length <= 128 * 1024 + 65536 + 16);
});

Deno.test("ingest: the filter consumes the messages it claims, from runs as well", () => {
  const counters = new Counters();
  const batches: Batch[] = [];
  const ingest = new Ingest(counters, (b) => batches.push(b));
  const seen: string[] = [];
  ingest.filter = (src, start, end) => {
    const text = dec.decode(src.subarray(start, end));
    seen.push(text);
    return text.includes("CANARY");
  };
  send(ingest, "<13>a");
  send(ingest, "<13>CANARY 1");
  const run = octets(["<13>b", "<13>CANARY 2", "<13>c"]);
  ingest.frames(run, 0, run.length, 3);
  ingest.flush();
  assertEquals(seen, ["<13>a", "<13>CANARY 1", "<13>b", "<13>CANARY 2", "<13>c"]);
  assertEquals(batches.flatMap(batchMessages), ["<13>a", "<13>b", "<13>c"]);
  assertEquals(counters.received, 3);
  // Without a filter, runs are copied whole again.
  ingest.filter = undefined;
  ingest.frames(run, 0, run.length, 3);
  ingest.flush();
  assertEquals(batchMessages(batches[1]!), ["<13>b", "<13>CANARY 2", "<13>c"]);
  assertEquals(batches[1]!.data, run);
});

Deno.test("ingest: flush with nothing collected hands on nothing", () => {
  const batches: Batch[] = [];
  const ingest = new Ingest(new Counters(), (b) => batches.push(b));
  ingest.flush();
  assertEquals(batches.length, 0);
});

Deno.test("ingest: an octet count with leading zeros (0005 hello) leaves as a canonical count (5 hello)", () => {
  const counters = new Counters();
  const batches: Batch[] = [];
  const ingest = new Ingest(counters, (b) => batches.push(b));
  const framer = new StreamFramer(ingest, counters, 1024);
  const input = enc.encode("5 <13>a0005 hello007 <13>bye5 <13>c");
  framer.space.set(input);
  framer.commit(input.length);
  ingest.flush();
  assertEquals(dec.decode(batches[0]!.data), "5 <13>a5 hello7 <13>bye5 <13>c");
  assertEquals(batchMessages(batches[0]!), ["<13>a", "hello", "<13>bye", "<13>c"]);
  assertEquals([counters.received, counters.malformed], [4, 0]);
});

Deno.test("ingest: consumed canaries are counted", () => {
  const counters = new Counters();
  const batches: Batch[] = [];
  const ingest = new Ingest(counters, (b) => batches.push(b));
  ingest.filter = (src, start, end) => dec.decode(src.subarray(start, end)).includes("CANARY");
  send(ingest, "<13>CANARY 1");
  const run = octets(["<13>b", "<13>CANARY 2", "<13>c"]);
  ingest.frames(run, 0, run.length, 3);
  ingest.flush();
  assertEquals(batches.flatMap(batchMessages), ["<13>b", "<13>c"]);
  assertEquals([counters.received, counters.canaries], [2, 2]);
});
