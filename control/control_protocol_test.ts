import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { CONTROL_COMMANDS, parseControlRequest } from "./control_protocol.ts";

const SEND = 'send one JSON object per line, like {"command": "status"}';
const NO_COMMAND = 'send one of status, reload, rotate, tap, spool, like {"command": "status"}';

Deno.test("control protocol: each command parses to its typed request", () => {
  const cases: [string, unknown][] = [
    ['{"command": "status"}', { command: "status" }],
    ['{"command":"status","detail":true}', { command: "status", detail: true }],
    ['{"command":"status","detail":false}', { command: "status", detail: false }],
    ['{"command":"reload"}', { command: "reload" }],
    ['{"command":"rotate"}', { command: "rotate" }],
    // Spaces around the object, as `echo '…' | socat` may leave.
    ['  {"command":"rotate"}\r', { command: "rotate" }],
    [
      '{"command":"tap","input":"tcp:127.0.0.1:5514","match":"^<1","regex":true,"limit":5}',
      { command: "tap", input: "tcp:127.0.0.1:5514", match: "^<1", regex: true, limit: 5 },
    ],
  ];
  for (const [line, request] of cases) {
    assertEquals(parseControlRequest(line), { ok: true, request }, line);
  }
  assertEquals(CONTROL_COMMANDS, ["status", "reload", "rotate", "tap", "spool"]);
});

Deno.test("control protocol: keys a command does not take are kept and do not fail it", () => {
  // A newer client's option reaches an older agent harmlessly.
  assertEquals(parseControlRequest('{"command":"reload","dryRun":true}'), {
    ok: true,
    request: { command: "reload", dryRun: true },
  });
  assertEquals(parseControlRequest('{"echo":7,"command":"status"}'), {
    ok: true,
    request: { echo: 7, command: "status" },
  });
});

Deno.test("control protocol: every malformed request is an error naming the problem, the value and the fix", () => {
  const cases: [string, string][] = [
    ["", `request is an empty line; ${SEND}`],
    ["   ", `request is an empty line; ${SEND}`],
    ["{not json", `request is not JSON: {not json; ${SEND}`],
    ['{"command":"status"', `request is not JSON: {"command":"status"; ${SEND}`],
    [
      '{"command":"status"} {"command":"status"}',
      `request is not JSON: {"command":"status"} {"command":"status"}; ${SEND}`,
    ],
    ["[1,2]", 'request must be a JSON object like {"command": "status"}, not an array [1,2]'],
    ['"status"', 'request must be a JSON object like {"command": "status"}, not a string "status"'],
    ["null", 'request must be a JSON object like {"command": "status"}, not null'],
    ["42", 'request must be a JSON object like {"command": "status"}, not a number 42'],
    ["true", 'request must be a JSON object like {"command": "status"}, not a boolean true'],
    ["{}", `request has no "command" string (its keys: none); ${NO_COMMAND}`],
    ['{"cmd":"status"}', `request has no "command" string (its keys: "cmd"); ${NO_COMMAND}`],
    // A prototype key is a key like any other, never the object's prototype.
    [
      '{"__proto__":{"command":"status"}}',
      `request has no "command" string (its keys: "__proto__"); ${NO_COMMAND}`,
    ],
    ['{"command":5}', `request has no "command" string ("command" is a number 5); ${NO_COMMAND}`],
    ['{"command":null}', `request has no "command" string ("command" is null); ${NO_COMMAND}`],
    [
      '{"command":["status"]}',
      `request has no "command" string ("command" is an array ["status"]); ${NO_COMMAND}`,
    ],
    [
      '{"command":{"name":"status"}}',
      `request has no "command" string ("command" is an object {"name":"status"}); ${NO_COMMAND}`,
    ],
    [
      '{"command":"explode"}',
      'unknown command "explode"; known: status, reload, rotate, tap, spool',
    ],
    ['{"command":"STATUS"}', 'unknown command "STATUS"; known: status, reload, rotate, tap, spool'],
    ['{"command":""}', 'unknown command ""; known: status, reload, rotate, tap, spool'],
    // Names an object has by inheritance are not commands either.
    [
      '{"command":"toString"}',
      'unknown command "toString"; known: status, reload, rotate, tap, spool',
    ],
    [
      '{"command":"__proto__"}',
      'unknown command "__proto__"; known: status, reload, rotate, tap, spool',
    ],
    [
      '{"command":"status","detail":"yes"}',
      'status: "detail" must be true or false, not a string "yes"; send {"command": "status", "detail": true}',
    ],
    [
      '{"command":"status","detail":1}',
      'status: "detail" must be true or false, not a number 1; send {"command": "status", "detail": true}',
    ],
    [
      '{"command":"status","detail":null}',
      'status: "detail" must be true or false, not null; send {"command": "status", "detail": true}',
    ],
  ];
  for (const [line, error] of cases) {
    assertEquals(parseControlRequest(line), { ok: false, error }, line);
  }
});

Deno.test("control protocol: a long bad value is quoted cut, with its length", () => {
  const junk = "x".repeat(1000);
  assertEquals(parseControlRequest(junk), {
    ok: false,
    error: `request is not JSON: ${"x".repeat(60)}… (1000 chars); ${SEND}`,
  });
  const name = "y".repeat(100);
  assertEquals(parseControlRequest(JSON.stringify({ command: name })), {
    ok: false,
    error: `unknown command "${
      "y".repeat(59)
    }… (102 chars); known: status, reload, rotate, tap, spool`,
  });
});

Deno.test("control protocol: a bad tap request says which key, the value and what it takes", () => {
  assertEquals(parseControlRequest('{"command":"tap","limit":0}'), {
    ok: false,
    error: 'tap: "limit" must be a positive integer, not a number 0',
  });
  assertEquals(parseControlRequest('{"command":"tap","input":5}'), {
    ok: false,
    error: 'tap: "input" must be a string, not a number 5',
  });
  const bad = parseControlRequest('{"command":"tap","match":"(","regex":true}');
  assertEquals(bad.ok, false);
  assertEquals(
    !bad.ok && bad.error.startsWith('tap: "match" is not a regular expression: '),
    true,
  );
});
