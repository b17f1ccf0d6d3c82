import assert from "node:assert/strict";
import { FakeClock } from "../ground/mod.ts";
import { Canary } from "./canary.ts";

const enc = new TextEncoder();
const NONCE = "0123456789abcdef0123456789abcdef";

function filter(canary: Canary, text: string): boolean {
  // Embedded in a larger buffer, as the ingest sees it.
  const bytes = enc.encode(`xx${text}yy`);
  return canary.filter(bytes, 2, bytes.length - 2);
}

Deno.test("canary: recognised at the end of rsyslog's forwarding formats, with its round trip", async () => {
  const clock = new FakeClock(0);
  const canary = new Canary(clock, NONCE);
  const { seq, token } = canary.next();
  assert.equal(token, `agent-canary-${NONCE}-0000000001`);
  const back = canary.wait(seq, new AbortController().signal);
  await clock.advance(7);
  // RSYSLOG_TraditionalForwardFormat (omfwd's default), then SyslogProtocol23Format with its LF.
  assert.equal(filter(canary, `<14>Nov 25 10:00:00 host syslog-agent[42]: ${token}`), true);
  assert.equal(await back, 7);
  const second = canary.next();
  const back2 = canary.wait(second.seq, new AbortController().signal);
  assert.equal(
    filter(canary, `<14>1 2026-11-25T10:00:00Z host syslog-agent 42 - - ${second.token}\n`),
    true,
  );
  assert.equal(await back2, 0);
});

Deno.test("canary: ordinary messages pass; look-alikes are not taken for canaries", () => {
  const canary = new Canary(new FakeClock(0), NONCE);
  for (
    const text of [
      "<13>1 2026-11-25T00:00:00Z host app - - - seq=00000042 xxxx",
      "",
      "short",
      `<14>x: agent-canary-${NONCE}-000000001`, // one digit short
      `<14>x: agent-canary-${NONCE.toUpperCase()}-0000000001`, // upper-case nonce
      `<14>x: agent-canary-${NONCE}-00000000x1`,
      `<14>x:notagent-canary-${NONCE}-0000000001`, // not a word of its own
      `<14>x: agent-canary-${NONCE}-0000000001 and more text`,
    ]
  ) {
    assert.equal(filter(canary, text), false, text);
  }
});

Deno.test("canary: a look-alike of another sender is an ordinary message: another nonce, a number not sent", async () => {
  const clock = new FakeClock(0);
  const canary = new Canary(clock, NONCE);
  const { seq, token } = canary.next();
  const ctl = new AbortController();
  const back = canary.wait(seq, ctl.signal);
  assert.equal(
    filter(canary, "<14>x: agent-canary-ffffffffffffffffffffffffffffffff-0000000001"),
    false,
  );
  assert.equal(filter(canary, `<14>x: agent-canary-${NONCE}-0000000002`), false, "not sent yet");
  assert.equal(filter(canary, `<14>x: agent-canary-${NONCE}-0000000000`), false);
  ctl.abort();
  assert.equal(await back, undefined, "no arrival counted");
  assert.equal(filter(canary, `<14>x: ${token}`), true, "the one sent is consumed");
});

Deno.test("canary: the nonce is 128 random bits, new for every Canary", () => {
  const a = new Canary(new FakeClock(0));
  const b = new Canary(new FakeClock(0));
  assert.match(a.nonce, /^[0-9a-f]{32}$/);
  assert.notEqual(a.nonce, b.nonce);
  assert.match(a.next().token, new RegExp(`^agent-canary-${a.nonce}-0000000001$`));
});

Deno.test("canary: a wait counts only canaries sent after it began", async () => {
  const clock = new FakeClock(0);
  const canary = new Canary(clock, NONCE);
  const old = canary.next();
  const fresh = canary.next();
  const ctl = new AbortController();
  const back = canary.wait(fresh.seq, ctl.signal);
  filter(canary, `<14>x: ${old.token}`);
  await clock.advance(3);
  filter(canary, `<14>x: ${fresh.token}`);
  assert.equal(await back, 3);
});
