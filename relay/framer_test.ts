import { deepStrictEqual, deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { type FrameSink, StreamFramer } from "./framer.ts";
import { Counters } from "./counters.ts";
import { octetBodies, seededRandom as prng } from "../testkit/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A sink that records what a framer hands on; checks that each run is `count` well-formed frames. */
class RecordingSink implements FrameSink {
  /** Every message, copied: the bodies of runs' frames and single messages alike. */
  messages: Uint8Array[] = [];
  /** Each run exactly as passed to `frames`, copied, with its count. */
  runs: { bytes: Uint8Array; count: number }[] = [];
  /** `frames` or `message`, per call. */
  calls: ("frames" | "message")[] = [];

  frames(src: Uint8Array, start: number, end: number, count: number): void {
    const bytes = src.slice(start, end);
    this.runs.push({ bytes, count });
    this.calls.push("frames");
    const bodies = octetBodies(bytes);
    assertEquals(bodies.length, count, "run count matches its frames");
    this.messages.push(...bodies);
  }

  message(src: Uint8Array, start: number, end: number): void {
    assert(end > start, "no empty messages");
    this.messages.push(src.slice(start, end));
    this.calls.push("message");
  }
}

/** Feeds `data` through `framer` in chunks whose sizes `next` chooses. */
function feed(framer: StreamFramer, data: Uint8Array, next: () => number): void {
  let off = 0;
  while (off < data.length) {
    const space = framer.space;
    assert(space.length > 0, "space is never empty");
    const n = Math.min(next(), space.length, data.length - off);
    space.set(data.subarray(off, off + n));
    framer.commit(n);
    off += n;
  }
}

function run(
  data: Uint8Array,
  max = 1024,
  next: () => number = () => 1 << 30,
  end = true,
): { sink: RecordingSink; counters: Counters; framer: StreamFramer } {
  const sink = new RecordingSink();
  const counters = new Counters();
  const framer = new StreamFramer(sink, counters, max);
  feed(framer, data, next);
  if (end) framer.end();
  return { sink, counters, framer };
}

function texts(messages: Uint8Array[]): string[] {
  return messages.map((m) => dec.decode(m));
}

function octet(msg: string): string {
  return `${enc.encode(msg).length} ${msg}`;
}

/** A stream mixing octet-counted and LF frames, and the messages it holds. */
function mixedStream(n: number, rnd: () => number): { data: Uint8Array; messages: string[] } {
  const messages: string[] = [];
  let text = "";
  for (let i = 0; i < n; i++) {
    const msg = `<13>Jan  1 00:00:00 host app[${i}]: message ${i} ${
      "x".repeat(Math.floor(rnd() * 40))
    }`;
    messages.push(msg);
    text += rnd() < 0.5 ? octet(msg) : `${msg}\n`;
  }
  return { data: enc.encode(text), messages };
}

Deno.test("framer: octet-counted and LF frames, mixed per frame on one stream", () => {
  const stream = octet("<13>one") + "<13>two\n" + octet("<13>three") + octet("<13>four") +
    "<13>five\n" + "<13>six\n" + octet("<13>seven with\nan LF inside");
  const { sink, counters } = run(enc.encode(stream));
  assertEquals(texts(sink.messages), [
    "<13>one",
    "<13>two",
    "<13>three",
    "<13>four",
    "<13>five",
    "<13>six",
    "<13>seven with\nan LF inside",
  ]);
  assertEquals(counters.malformed, 0);
  assertEquals(counters.truncated, 0);
});

Deno.test("framer: a stream split at every byte boundary gives the same messages", () => {
  const { data, messages } = mixedStream(30, prng(1));
  const whole = run(data);
  assertEquals(texts(whole.sink.messages), messages);
  const byteAtATime = run(data, 1024, () => 1);
  assertEquals(texts(byteAtATime.sink.messages), messages);
  // Every single split point, as two reads.
  for (let cut = 1; cut < data.length; cut++) {
    const sizes = [cut, data.length];
    const r = run(data, 1024, () => sizes.shift() ?? data.length);
    deepStrictEqual(texts(r.sink.messages), messages, `split at ${cut}`);
  }
});

Deno.test("framer: random chunk sizes give the same messages and counters", () => {
  const rnd = prng(7);
  const { data, messages } = mixedStream(300, rnd);
  for (let round = 0; round < 50; round++) {
    const maxChunk = 1 + Math.floor(rnd() * 200);
    const r = run(data, 1024, () => 1 + Math.floor(rnd() * maxChunk));
    deepStrictEqual(texts(r.sink.messages), messages, `round ${round}`);
    assertEquals(r.counters.malformed, 0);
    assertEquals(r.counters.truncated, 0);
  }
});

Deno.test("framer: limits and malformed counts give the same result whatever the chunking", () => {
  const max = 40;
  const stream = enc.encode(
    octet("<13>a") + `${"9".repeat(12)} too many digits\n` + octet("<13>" + "O".repeat(90)) +
      "<13>" + "L".repeat(150) + "\n" + "\n\n" + "7x<13>bad count\n" + octet("<13>b") +
      octet("<13>c") + "<13>tail",
  );
  const expected = {
    messages: [
      "<13>a",
      `${"9".repeat(12)} too many digits`,
      ("<13>" + "O".repeat(90)).slice(0, max),
      ("<13>" + "L".repeat(150)).slice(0, max),
      "7x<13>bad count",
      "<13>b",
      "<13>c",
      "<13>tail",
    ],
    malformed: 2,
    truncated: 2,
  };
  const rnd = prng(3);
  const chunkings: (() => number)[] = [() => 1 << 30, () => 1, () => 2, () => 41];
  for (let i = 0; i < 30; i++) chunkings.push(() => 1 + Math.floor(rnd() * 50));
  for (const [i, next] of chunkings.entries()) {
    const { sink, counters } = run(stream, max, next);
    deepStrictEqual(
      {
        messages: texts(sink.messages),
        malformed: counters.malformed,
        truncated: counters.truncated,
      },
      expected,
      `chunking ${i}`,
    );
  }
});

Deno.test("framer: a run of octet-counted frames is passed on verbatim as one run", () => {
  const frames = octet("<13>a") + octet("<13>bb") + octet("<13>ccc\nwith LF") + octet("<13>d");
  const { sink } = run(enc.encode(frames + "<13>lf\n" + octet("<13>e")));
  assertEquals(sink.calls, ["frames", "message", "frames"]);
  assertEquals(sink.runs[0]!.count, 4);
  assertEquals(dec.decode(sink.runs[0]!.bytes), frames);
  assertEquals(sink.runs[1]!.count, 1);
  assertEquals(dec.decode(sink.runs[1]!.bytes), octet("<13>e"));
});

Deno.test("framer: an oversized octet-counted frame is cut to max, the rest skipped", () => {
  const max = 32;
  const long = "<13>" + "L".repeat(100);
  const stream = octet("<13>before") + octet(long) + octet("<13>after") + "<13>lf\n";
  for (const chunk of [1 << 30, 1, 5, 33]) {
    const { sink, counters } = run(enc.encode(stream), max, () => chunk);
    assertEquals(
      texts(sink.messages),
      ["<13>before", long.slice(0, max), "<13>after", "<13>lf"],
      `chunk ${chunk}`,
    );
    assertEquals(counters.truncated, 1);
    assertEquals(counters.malformed, 0);
  }
});

Deno.test("framer: an over-long LF line is cut to max and skipped up to its LF", () => {
  const max = 32;
  const long = "<13>" + "L".repeat(200);
  const stream = "<13>before\n" + long + "\n" + "<13>after\n" + octet("<13>octet");
  for (const chunk of [1 << 30, 1, 7, 40]) {
    const { sink, counters } = run(enc.encode(stream), max, () => chunk);
    assertEquals(
      texts(sink.messages),
      ["<13>before", long.slice(0, max), "<13>after", "<13>octet"],
      `chunk ${chunk}`,
    );
    assertEquals(counters.truncated, 1);
  }
  // A line just over max whose LF is already in the buffer.
  const { sink, counters } = run(enc.encode("A".repeat(max + 3) + "\n<13>next\n"), max);
  assertEquals(texts(sink.messages), ["A".repeat(max), "<13>next"]);
  assertEquals(counters.truncated, 1);
});

Deno.test("framer: a malformed octet count is counted and the frame taken as LF-terminated", () => {
  const cases: [string, string][] = [
    ["99999999999 x", "99999999999 x"], // more than 9 digits
    ["0000000005 <13>x", "0000000005 <13>x"], // 10 digits, then SP
    ["12x<13>abc", "12x<13>abc"], // digits not followed by SP
    ["0 <13>zero", "0 <13>zero"], // a count of 0
  ];
  for (const [frame, expected] of cases) {
    for (const chunk of [1 << 30, 1, 3]) {
      const stream = octet("<13>before") + frame + "\n" + octet("<13>after");
      const { sink, counters } = run(enc.encode(stream), 1024, () => chunk);
      assertEquals(
        texts(sink.messages),
        ["<13>before", expected, "<13>after"],
        `${frame} chunk ${chunk}`,
      );
      assertEquals(counters.malformed, 1, `${frame} chunk ${chunk}: counted once`);
    }
  }
});

Deno.test("framer: NUL bytes and invalid UTF-8 pass through byte for byte", () => {
  const body = new Uint8Array([0x3c, 0x31, 0x33, 0x3e, 0x00, 0xff, 0xfe, 0xc3, 0x28, 0x00, 0x41]);
  const header = enc.encode(`${body.length} `);
  const data = new Uint8Array([...header, ...body, ...body, 0x0a]);
  for (const chunk of [1 << 30, 1, 2]) {
    const { sink } = run(data, 1024, () => chunk);
    assertEquals(sink.messages.length, 2);
    deepStrictEqual(sink.messages[0], body);
    deepStrictEqual(sink.messages[1], body);
  }
});

Deno.test("framer: empty LF frames are skipped", () => {
  const { sink, counters } = run(enc.encode("\n\n<13>a\n\n\n<13>b\n\n"));
  assertEquals(texts(sink.messages), ["<13>a", "<13>b"]);
  assertEquals(counters.malformed, 0);
});

Deno.test("framer: end() passes on an unterminated LF frame and counts an incomplete octet frame", () => {
  {
    const { sink, framer } = run(enc.encode("<13>a\n<13>no LF at the end"), 1024, undefined, false);
    assertEquals(texts(sink.messages), ["<13>a"]);
    assert(framer.buffered > 0);
    framer.end();
    assertEquals(texts(sink.messages), ["<13>a", "<13>no LF at the end"]);
    assertEquals(framer.buffered, 0);
  }
  {
    // A malformed count whose LF never came: it is an LF frame, passed on at the end.
    const { sink, counters } = run(enc.encode("12x no LF"), 1024, () => 2);
    assertEquals(texts(sink.messages), ["12x no LF"]);
    assertEquals(counters.malformed, 1);
  }
  for (const partial of ["20 <13>short", "12", "5"]) {
    const { sink, counters } = run(enc.encode(octet("<13>ok") + partial));
    assertEquals(texts(sink.messages), ["<13>ok"], partial);
    assertEquals(counters.malformed, 1, partial);
  }
  {
    // Nothing buffered: end() does nothing.
    const { sink, counters, framer } = run(enc.encode(octet("<13>ok") + "<13>lf\n"));
    framer.end();
    assertEquals(texts(sink.messages), ["<13>ok", "<13>lf"]);
    assertEquals(counters.malformed, 0);
  }
});

Deno.test("framer: random garbage never throws and never yields a message over max", () => {
  const rnd = prng(42);
  const max = 64;
  // Bytes that matter to the framer are made likely.
  const alphabet = [0x20, 0x0a, 0x30, 0x31, 0x35, 0x39, 0x00, 0xff, 0x3c, 0x41];
  for (let i = 0; i < 2000; i++) {
    const len = Math.floor(rnd() * 600);
    const data = new Uint8Array(len);
    for (let j = 0; j < len; j++) {
      data[j] = rnd() < 0.7
        ? alphabet[Math.floor(rnd() * alphabet.length)]!
        : Math.floor(rnd() * 256);
    }
    const { sink } = run(data, max, () => 1 + Math.floor(rnd() * 80));
    for (const m of sink.messages) {
      assert(m.length > 0 && m.length <= max, `buffer ${i}: message of ${m.length} bytes`);
    }
    // Whatever was passed on came from the input: never more message bytes than input bytes.
    const total = sink.messages.reduce((s, m) => s + m.length, 0);
    assert(total <= len, `buffer ${i}: ${total} message bytes from ${len} input bytes`);
  }
});

Deno.test("framer: an octet count with leading zeros is passed on as a message, to be framed anew", () => {
  const { sink, counters } = run(
    enc.encode(octet("<13>a") + "0005 hello007 <13>bye" + octet("<13>c")),
  );
  assertEquals(texts(sink.messages), ["<13>a", "hello", "<13>bye", "<13>c"]);
  assertEquals(sink.calls, ["frames", "message", "message", "frames"]);
  assertEquals(counters.malformed, 0);
});

Deno.test("framer: its buffer starts small, grows while reads fill it or a frame is longer, and shrinks back once the connection is quiet", () => {
  let messages = 0;
  const framer = new StreamFramer(
    {
      frames: (_s, _b, _e, count) => messages += count,
      message: () => messages++,
    },
    new Counters(),
    65536,
  );
  assertEquals(framer.capacity, 16 * 1024);
  // A burst: every read fills the space it was given.
  const frame = new TextEncoder().encode(`100 ${"x".repeat(100)}`);
  const fill = (space: Uint8Array) => {
    let n = 0;
    while (n + frame.length <= space.length) {
      space.set(frame, n);
      n += frame.length;
    }
    return n;
  };
  for (let i = 0; i < 3; i++) {
    const space = framer.space;
    const n = fill(space);
    // Fill the rest with the start of a frame, so that the read took all the space.
    space.fill(0x31, n);
    space[n] = 0x31;
    framer.commit(space.length);
  }
  assertEquals(framer.capacity > 16 * 1024, true, `grew: ${framer.capacity}`);
  assertEquals(framer.capacity <= 65536 + 16, true);
  // Quiet: a small read with little left over gives the memory back.
  const before = messages;
  const rest = framer.buffered;
  // Drop what was held (a garbage tail): end the frame with a newline, then a small read.
  const space = framer.space;
  space[0] = 0x0a;
  framer.commit(1);
  const small = framer.space;
  small.set(frame);
  framer.commit(frame.length);
  assertEquals(framer.capacity, 16 * 1024, `shrunk after ${rest} buffered`);
  assertEquals(messages > before, true);
});
