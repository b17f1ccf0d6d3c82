import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { buildStatus, type StatusInput } from "./status.ts";
import { Counters } from "../relay/mod.ts";

function input(over: Partial<StatusInput> = {}): StatusInput {
  const now = Date.parse("2026-12-01T00:00:00Z");
  return {
    now,
    startedAt: now - 10_000,
    collectors: [{
      address: "10.0.0.5:514",
      protocol: "tcp",
      state: "up",
      since: new Date(now - 5_000).toISOString(),
      lastError: "",
    }],
    spool: {
      messages: 0,
      bytes: 0,
      oldestAgeSeconds: 0,
      dropped: 0,
      expired: 0,
      corrupt: 0,
      lag: { messages: 0, bytes: 0, ageSeconds: 0 },
    },
    counters: new Counters(),
    droppedLastMinute: 0,
    ...over,
  };
}

Deno.test("status: every input listening and a collector up is ok", () => {
  const s = buildStatus(
    input({ inputs: [{ name: "tcp:127.0.0.1:5514", problem: "", lastReceivedAt: 0 }] }),
  );
  assertEquals(s.state, "ok");
  assertEquals(s.reasons, []);
});

Deno.test("status: an input that is not listening is critical, with its reason", () => {
  const s = buildStatus(
    input({
      inputs: [{ name: "tcp:127.0.0.1:5514", problem: "accept failed: closed", lastReceivedAt: 0 }],
    }),
  );
  assertEquals(s.state, "critical");
  assert(
    s.reasons.includes("input tcp:127.0.0.1:5514 not listening: accept failed: closed"),
    s.reasons.join("; "),
  );
});

Deno.test("status: messages set aside as dead letters in the last minute make it degraded", () => {
  const path = "/var/spool/syslog-agent/dead-letter.log";
  assertEquals(buildStatus(input({ deadLetters: { lastMinute: 0, path } })).state, "ok");
  const s = buildStatus(input({ deadLetters: { lastMinute: 2, path } }));
  assertEquals(s.state, "degraded");
  assertEquals(s.reasons, [
    `2 message(s) refused by a collector in the last minute, set aside in ${path}`,
  ]);
});

Deno.test("status: nothing received for 10 minutes with no rsyslogd running is degraded; with rsyslogd, or a recent message, it is not", () => {
  const now = Date.parse("2026-12-01T00:00:00Z");
  const quiet = (lastReceivedAt: number, running: boolean) =>
    buildStatus(input({
      startedAt: now - 3_600_000,
      inputs: [{ name: "tcp:127.0.0.1:5514", problem: "", lastReceivedAt }],
      rsyslogdRunning: () => running,
    }));
  const s = quiet(now - 10 * 60_000, false);
  assertEquals(s.state, "degraded");
  assertEquals(s.reasons, [
    "no input has received a message in 10 min and rsyslogd is not running: nothing feeds the agent (install rsyslog, or point senders at its inputs)",
  ]);
  assertEquals(s.inputs, [{
    name: "tcp:127.0.0.1:5514",
    listening: true,
    problem: "",
    lastReceivedAt: new Date(now - 10 * 60_000).toISOString(),
  }]);
  assertEquals(quiet(now - 10 * 60_000 + 1, false).state, "ok", "a message 9:59 ago");
  assertEquals(quiet(now - 60 * 60_000, true).state, "ok", "rsyslogd runs: a quiet host");
  assertEquals(quiet(0, false).reasons.length, 1, "nothing since the start an hour ago");
  assertEquals(quiet(0, false).inputs[0]!.lastReceivedAt, "");
});
