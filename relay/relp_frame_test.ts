import assert from "node:assert/strict";
import {
  encodeFrame,
  nextTxnr,
  type RelpFrame,
  RelpFrameParser,
  RelpFramingError,
  rspCode,
  writeSyslogFrame,
} from "./relp_frame.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Seen {
  txnr: number;
  command: string;
  data: string;
  cut: number;
}

function parseIn(parts: Uint8Array[], maxData = 1024, oversize?: "error" | "truncate"): Seen[] {
  const parser = new RelpFrameParser(
    oversize === undefined ? { maxData } : { maxData, oversize },
  );
  const out: Seen[] = [];
  const visit = (f: RelpFrame) =>
    out.push({ txnr: f.txnr, command: f.command, data: dec.decode(f.data), cut: f.cut });
  for (const p of parts) parser.push(p, visit);
  assert.ok(parser.idle, "nothing left half-parsed");
  return out;
}

const OFFERS = "relp_version=0\nrelp_software=x\ncommands=syslog";
const STREAM = `1 open ${OFFERS.length} ${OFFERS}\n` +
  "2 syslog 11 <13>hello \n\n" +
  "3 syslog 0\n" +
  "4 syslog 0 \n" +
  "5 rsp 6 200 OK\n" +
  "0 serverclose 0\n" +
  "999999999 close 0\n";

const EXPECTED: Seen[] = [
  {
    txnr: 1,
    command: "open",
    data: OFFERS,
    cut: 0,
  },
  { txnr: 2, command: "syslog", data: "<13>hello \n", cut: 0 },
  { txnr: 3, command: "syslog", data: "", cut: 0 },
  { txnr: 4, command: "syslog", data: "", cut: 0 },
  { txnr: 5, command: "rsp", data: "200 OK", cut: 0 },
  { txnr: 0, command: "serverclose", data: "", cut: 0 },
  { txnr: 999999999, command: "close", data: "", cut: 0 },
];

Deno.test("RELP parser: one chunk", () => {
  assert.deepEqual(parseIn([enc.encode(STREAM)]), EXPECTED);
});

Deno.test("RELP parser: the stream split at every byte boundary, and byte by byte", () => {
  const bytes = enc.encode(STREAM);
  for (let i = 0; i <= bytes.length; i++) {
    assert.deepEqual(
      parseIn([bytes.subarray(0, i), bytes.subarray(i)]),
      EXPECTED,
      `split at ${i}`,
    );
    for (let j = i; j <= bytes.length; j += 7) {
      assert.deepEqual(
        parseIn([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]),
        EXPECTED,
        `split at ${i} and ${j}`,
      );
    }
  }
  const single = [...bytes].map((b) => new Uint8Array([b]));
  assert.deepEqual(parseIn(single), EXPECTED);
});

Deno.test("RELP parser: data views are only valid during the visit, copies are right", () => {
  const bytes = enc.encode("7 syslog 3 abc\n8 syslog 3 def\n");
  const parser = new RelpFrameParser({ maxData: 16 });
  const kept: string[] = [];
  for (let i = 0; i < bytes.length; i += 5) {
    parser.push(bytes.slice(i, i + 5), (f) => kept.push(dec.decode(f.data.slice())));
  }
  assert.deepEqual(kept, ["abc", "def"]);
});

Deno.test("RELP parser: oversized DATALEN is an error, or truncated at every split", () => {
  const frame = enc.encode("9 syslog 20 0123456789abcdefghij\n10 syslog 2 ok\n");
  assert.throws(() => parseIn([frame], 10), RelpFramingError);
  assert.throws(() => parseIn([frame], 10), /DATALEN 20 exceeds the maximum of 10/);
  const want: Seen[] = [
    { txnr: 9, command: "syslog", data: "0123456789", cut: 10 },
    { txnr: 10, command: "syslog", data: "ok", cut: 0 },
  ];
  for (let i = 0; i <= frame.length; i++) {
    assert.deepEqual(
      parseIn([frame.subarray(0, i), frame.subarray(i)], 10, "truncate"),
      want,
      `split at ${i}`,
    );
  }
});

Deno.test("RELP parser: framing errors name what is wrong", () => {
  const bad: [string, RegExp][] = [
    ["x syslog 1 a\n", /must start with a TXNR/],
    [" 1 syslog 1 a\n", /must start with a TXNR/],
    ["1234567890 syslog 1 a\n", /TXNR has more than 9 digits/],
    ["1 sys1og 1 a\n", /COMMAND must be letters/],
    [`1 ${"a".repeat(33)} 0\n`, /COMMAND is longer than 32/],
    ["1 syslog x\n", /DATALEN must be digits/],
    ["1 syslog 1234567890 a\n", /DATALEN has more than 9 digits/],
    ["1 syslog 1\n", /followed by a space or \(for 0\) LF/],
    ["1 syslog 3 abcd\n", /must end with LF/],
    ["1 syslog 3 abc \n", /must end with LF/],
  ];
  for (const [text, re] of bad) {
    const bytes = enc.encode(text);
    assert.throws(() => parseIn([bytes]), re, text);
    // Split after every byte too: the same error, wherever the chunk ends.
    for (let i = 1; i < bytes.length; i++) {
      assert.throws(() => parseIn([bytes.subarray(0, i), bytes.subarray(i)]), re, `${text} @${i}`);
    }
  }
});

Deno.test("RELP frames: encoding round-trips through the parser", () => {
  const msg = enc.encode("<13>1 - h app - - - ünïcødé\ttab");
  const buf = new Uint8Array(msg.length + 32);
  const n = writeSyslogFrame(buf, 0, 123456789, msg, 0, msg.length);
  const open = encodeFrame(1, "open", "relp_version=0\ncommands=syslog");
  const close = encodeFrame(2, "close");
  assert.equal(dec.decode(close), "2 close 0\n");
  const got = parseIn([open, buf.subarray(0, n), close]);
  assert.deepEqual(got.map((f) => [f.txnr, f.command, f.data]), [
    [1, "open", "relp_version=0\ncommands=syslog"],
    [123456789, "syslog", dec.decode(msg)],
    [2, "close", ""],
  ]);
});

Deno.test("RELP: txnr wraps from 999,999,999 to 1; rsp codes", () => {
  assert.equal(nextTxnr(1), 2);
  assert.equal(nextTxnr(999_999_999), 1);
  assert.equal(rspCode(enc.encode("200 OK")), 200);
  assert.equal(rspCode(enc.encode("500 error")), 500);
  assert.equal(rspCode(enc.encode("200\nrelp_version=0")), 200);
  assert.equal(rspCode(enc.encode("20")), -1);
  assert.equal(rspCode(enc.encode("2000")), -1);
  assert.equal(rspCode(enc.encode("OK!")), -1);
});
