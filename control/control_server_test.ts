import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { type ControlHandlers, ControlServer } from "./control_server.ts";
import { controlRequest } from "./control_client.ts";
import type { StatusAnswer } from "./control_protocol.ts";
import { buildStatus } from "./status.ts";
import { Logger } from "../ground/mod.ts";
import { Counters, Taps } from "../relay/mod.ts";
import type { RotateResult } from "../watchdog/mod.ts";
import { sleep } from "../testkit/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The server sends a handler's answer as it is, unread: for the transport
 * tests a stand-in for the status document that echoes a key of the request
 * is enough, and it shows which request an answer belongs to.
 */
function echoStatus(fields: { state: "ok"; echo: unknown }): StatusAnswer {
  return fields as unknown as StatusAnswer;
}

/** Handlers like the agent's: `status` echoes the request's `echo`, the others answer plainly. */
const handler: ControlHandlers = {
  status: (request) =>
    Promise.resolve(echoStatus({ state: "ok", echo: "echo" in request ? request.echo : null })),
  reload: () => Promise.resolve("reloaded"),
  rotate: () => Promise.reject(new Error("rotate: rsyslogd is not managed by the agent")),
  tap: (request) => {
    const tap = taps.open({
      ...(request.input === undefined ? {} : { input: request.input }),
      ...(request.match === undefined ? {} : { match: request.match }),
    });
    return Promise.resolve({
      take: () => tap.take(),
      skipped: () => tap.skipped,
      close: () => taps.close(tap),
    });
  },
  spool: () =>
    Promise.resolve({ dir: "/spool", checkpoint: { segment: -1, offset: 0 }, written: [] }),
};

/** The taps the test handler's `tap` opens. */
const taps = new Taps();

async function withServer(
  fn: (path: string) => Promise<void>,
  handlers: ControlHandlers = handler,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "control_test_" });
  const path = `${dir}/agent.sock`;
  const lines: string[] = [];
  const log = new Logger({
    level: "debug",
    format: "text",
    journal: false,
    write: (l) => lines.push(l),
  });
  const server = new ControlServer(path, "no-such-group-for-tests", handlers, log);
  await server.listen();
  try {
    await fn(path);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Reads one LF-terminated line; undefined when the connection ends (or is reset) first. */
async function readLine(conn: Deno.Conn): Promise<string | undefined> {
  const buf = new Uint8Array(64 * 1024);
  let text = "";
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      return undefined;
    }
    if (n === null) return undefined;
    text += dec.decode(buf.subarray(0, n));
    const i = text.indexOf("\n");
    if (i >= 0) return text.slice(0, i);
  }
}

async function request(path: string, line: string): Promise<Record<string, unknown>> {
  return JSON.parse(await requestLine(path, line));
}

/** Sends one request line and gives the answer line as the server wrote it (without its LF). */
async function requestLine(path: string, line: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    await conn.write(enc.encode(line + "\n"));
    const answer = await readLine(conn);
    assert(answer !== undefined, "an answer");
    return answer;
  } finally {
    conn.close();
  }
}

Deno.test("control: status round trip over the socket, which only root and the group may use", async () => {
  await withServer(async (path) => {
    const info = await Deno.stat(path);
    assert(info.isSocket);
    assertEquals(info.mode! & 0o777, 0o660);
    assertEquals(await request(path, '{"command": "status", "echo": 7}'), {
      ok: true,
      result: { state: "ok", echo: 7 },
    });
  });
});

Deno.test("control: several requests on one connection are answered in order", async () => {
  await withServer(async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    try {
      // Two requests in one write, the third split across writes.
      await conn.write(
        enc.encode('{"command":"status","echo":1}\n{"command":"status","echo":2}\n{"comm'),
      );
      await conn.write(enc.encode('and":"status","echo":3}\n'));
      const answers: unknown[] = [];
      let text = "";
      const buf = new Uint8Array(4096);
      while (answers.length < 3) {
        const n = await conn.read(buf);
        assert(n !== null, "the server keeps the connection open");
        text += dec.decode(buf.subarray(0, n));
        let i;
        while ((i = text.indexOf("\n")) >= 0) {
          answers.push(JSON.parse(text.slice(0, i)));
          text = text.slice(i + 1);
        }
      }
      assertEquals(answers.map((a) => (a as { result: { echo: number } }).result.echo), [1, 2, 3]);
    } finally {
      conn.close();
    }
  });
});

Deno.test("control: malformed JSON and requests that are not commands get an error answer", async () => {
  await withServer(async (path) => {
    for (
      const bad of ["{not json", "[1,2]", '"status"', "null", '{"cmd":"status"}', '{"command":5}']
    ) {
      const answer = await request(path, bad);
      assertEquals(answer.ok, false, bad);
      assert(typeof answer.error === "string" && answer.error.length > 0, bad);
    }
    // And the connection still serves a good request after a bad one.
    const conn = await Deno.connect({ transport: "unix", path });
    try {
      await conn.write(enc.encode('{oops\n{"command":"status"}\n'));
      const all = await readLines(conn, 2);
      assertEquals(JSON.parse(all[0]!).ok, false);
      assertEquals(JSON.parse(all[1]!).ok, true);
    } finally {
      conn.close();
    }
  });
});

Deno.test("control: an unknown command gets an error answer naming it", async () => {
  await withServer(async (path) => {
    const answer = await request(path, '{"command": "explode"}');
    assertEquals(answer.ok, false);
    assert(String(answer.error).includes("explode"), String(answer.error));
  });
});

Deno.test("control: every malformed line gets the parser's error, word for word, and the connection goes on", async () => {
  await withServer(async (path) => {
    const cases: [string, string][] = [
      [
        "{not json",
        'request is not JSON: {not json; send one JSON object per line, like {"command": "status"}',
      ],
      ["[1,2]", 'request must be a JSON object like {"command": "status"}, not an array [1,2]'],
      [
        '{"cmd":"status"}',
        'request has no "command" string (its keys: "cmd"); send one of status, reload, rotate, tap, spool, like {"command": "status"}',
      ],
      [
        '{"command":5}',
        'request has no "command" string ("command" is a number 5); send one of status, reload, rotate, tap, spool, like {"command": "status"}',
      ],
      [
        '{"command":"explode"}',
        'unknown command "explode"; known: status, reload, rotate, tap, spool',
      ],
      [
        '{"command":"status","detail":"yes"}',
        'status: "detail" must be true or false, not a string "yes"; send {"command": "status", "detail": true}',
      ],
    ];
    const conn = await Deno.connect({ transport: "unix", path });
    try {
      await conn.write(
        enc.encode(cases.map(([line]) => `${line}\n`).join("") + '{"command":"status"}\n'),
      );
      const lines = await readLines(conn, cases.length + 1);
      assertEquals(
        lines,
        [
          ...cases.map(([, error]) => JSON.stringify({ ok: false, error })),
          '{"ok":true,"result":{"state":"ok","echo":null}}',
        ],
      );
    } finally {
      conn.close();
    }
  });
});

/** A status document as the agent builds it, with one collector up. */
function sampleStatus(): ReturnType<typeof buildStatus> {
  const now = Date.parse("2026-12-01T00:00:00Z");
  const counters = new Counters();
  counters.received = 12;
  counters.forwarded = 10;
  return buildStatus({
    now,
    startedAt: now - 90_000,
    collectors: [{
      address: "10.0.0.5:514",
      protocol: "tcp",
      state: "up",
      since: new Date(now - 5_000).toISOString(),
      lastError: "",
    }],
    spool: {
      messages: 2,
      bytes: 300,
      oldestAgeSeconds: 1,
      dropped: 0,
      expired: 0,
      corrupt: 0,
      lag: { messages: 0, bytes: 0, ageSeconds: 0 },
    },
    counters,
    droppedLastMinute: 0,
  });
}

Deno.test("control: each command round trip through controlRequest, typed request in and typed answer out", async () => {
  const status = sampleStatus();
  const rates = { received: 2000, forwarded: 1990.5, dropped: 0 };
  const rotated: RotateResult = {
    pid: 4242,
    restarted: false,
    latencyMs: 3,
    message: "rsyslogd 4242 survived the HUP; canary back in 3 ms",
  };
  const seen: unknown[] = [];
  let rotateFails = false;
  const handlers: ControlHandlers = {
    status: (request) => {
      seen.push(request);
      return Promise.resolve(request.detail === true ? { ...status, rates } : status);
    },
    reload: (request) => {
      seen.push(request);
      return Promise.resolve("reloaded: collectors 10.0.0.5:514 -> 10.0.0.6:514");
    },
    rotate: (request) => {
      seen.push(request);
      return rotateFails
        ? Promise.reject(
          new Error(
            "rotate: rsyslogd 4242 did not answer the canary within 5000 ms; restarting it failed: exit 1",
          ),
        )
        : Promise.resolve(rotated);
    },
    tap: handler.tap,
    spool: handler.spool,
  };
  await withServer(async (path) => {
    // The types say what each command answers: no casts.
    const plain: StatusAnswer = await controlRequest(path, { command: "status" });
    assertEquals(plain, status);
    assertEquals("rates" in plain, false, "no rates without detail");
    const detailed = await controlRequest(path, { command: "status", detail: true });
    assertEquals(detailed, { ...status, rates });
    assertEquals(detailed.rates?.forwarded, 1990.5);
    assertEquals(await controlRequest(path, { command: "status", detail: false }), status);
    const summary: string = await controlRequest(path, { command: "reload" });
    assertEquals(summary, "reloaded: collectors 10.0.0.5:514 -> 10.0.0.6:514");
    const result: RotateResult = await controlRequest(path, { command: "rotate" }, 5_000);
    assertEquals(result, rotated);
    // A handler's error is the client's Error, message unchanged.
    rotateFails = true;
    await controlRequest(path, { command: "rotate" }).then(
      () => assert(false, "a failed rotate rejects"),
      (e: Error) =>
        assertEquals(
          e.message,
          "rotate: rsyslogd 4242 did not answer the canary within 5000 ms; restarting it failed: exit 1",
        ),
    );
    // The handlers got the parsed requests, as sent.
    assertEquals(seen, [
      { command: "status" },
      { command: "status", detail: true },
      { command: "status", detail: false },
      { command: "reload" },
      { command: "rotate" },
      { command: "rotate" },
    ]);
    // The wire stays what it was: `agent status --json` prints this document as is.
    assertEquals(
      await requestLine(path, '{"command":"status","detail":false}'),
      `{"ok":true,"result":${JSON.stringify(status)}}`,
    );
    assertEquals(
      await requestLine(path, '{"command":"reload"}'),
      '{"ok":true,"result":"reloaded: collectors 10.0.0.5:514 -> 10.0.0.6:514"}',
    );
  }, handlers);
});

Deno.test("control: a 10 MiB request is refused and the server still serves the next client", async () => {
  await withServer(async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    const big = new Uint8Array(10 * 1024 * 1024).fill(0x61); // no LF at all
    // Write concurrently with reading: the server stops reading long before the end.
    const writing = (async () => {
      let off = 0;
      try {
        while (off < big.length) off += await conn.write(big.subarray(off));
      } catch {
        // The server closed the connection.
      }
      return off;
    })();
    const answer = await readLine(conn);
    if (answer !== undefined) {
      const parsed = JSON.parse(answer);
      assertEquals(parsed.ok, false);
      assert(String(parsed.error).includes("longer"), parsed.error);
    }
    // The server ends the connection rather than reading all of it.
    assertEquals(await readLine(conn), undefined);
    conn.close();
    const written = await writing;
    assert(written < big.length, `the server stopped reading (${written} bytes taken)`);
    assertEquals(await request(path, '{"command":"status"}'), {
      ok: true,
      result: { state: "ok", echo: null },
    });
  });
});

Deno.test("control: close() removes the socket and refuses new clients", async () => {
  const dir = await Deno.makeTempDir({ prefix: "control_test_" });
  try {
    const path = `${dir}/sub/agent.sock`;
    const log = new Logger({ level: "error", format: "text", journal: false, write: () => {} });
    const server = new ControlServer(path, "no-such-group-for-tests", handler, log);
    await server.listen();
    assertEquals((await request(path, '{"command":"status"}')).ok, true);
    await server.close();
    await Deno.stat(path).then(
      () => assert(false, "socket file removed"),
      (e) => assert(e instanceof Deno.errors.NotFound),
    );
    await Deno.connect({ transport: "unix", path }).then(
      (c) => {
        c.close();
        assert(false, "no server after close");
      },
      () => {},
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function readLines(conn: Deno.Conn, count: number): Promise<string[]> {
  const out: string[] = [];
  let text = "";
  const buf = new Uint8Array(4096);
  while (out.length < count) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n));
    let i;
    while ((i = text.indexOf("\n")) >= 0) {
      out.push(text.slice(0, i));
      text = text.slice(i + 1);
    }
  }
  return out;
}

const quietLog = new Logger({ level: "error", format: "text", journal: false, write: () => {} });

Deno.test("control: a symlink or a regular file at the socket path is refused and left alone, never followed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "control_test_" });
  try {
    const target = `${dir}/precious`;
    await Deno.writeTextFile(target, "keep me");
    await Deno.chmod(target, 0o600);
    const path = `${dir}/agent.sock`;
    await Deno.symlink(target, path);
    const server = new ControlServer(path, "no-such-group-for-tests", handler, quietLog);
    await Deno.lstat(path);
    let error = "";
    await server.listen().catch((e) => error = e.message);
    assert(
      /control: cannot create the socket .*agent\.sock: it is a symbolic link, not a socket; remove it or change control\.socket/
        .test(error),
      error,
    );
    assert((await Deno.lstat(path)).isSymlink, "the symlink is still there");
    assertEquals((await Deno.stat(target)).mode! & 0o777, 0o600, "its target's mode unchanged");
    assertEquals(await Deno.readTextFile(target), "keep me");
    await Deno.remove(path);
    await Deno.writeTextFile(path, "a file");
    error = "";
    await server.listen().catch((e) => error = e.message);
    assert(/it is a regular file, not a socket/.test(error), error);
    assertEquals(await Deno.readTextFile(path), "a file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("control: a stale socket at the path is replaced; the new one is mode 0660", async () => {
  const dir = await Deno.makeTempDir({ prefix: "control_test_" });
  try {
    const path = `${dir}/agent.sock`;
    await staleSocket(path);
    assert((await Deno.lstat(path)).isSocket);
    const server = new ControlServer(path, "no-such-group-for-tests", handler, quietLog);
    await server.listen();
    try {
      const info = await Deno.lstat(path);
      assert(info.isSocket);
      assertEquals(info.mode! & 0o777, 0o660);
      assertEquals((await request(path, '{"command":"status"}')).ok, true);
      assertEquals(
        [...Deno.readDirSync(dir)].map((e) => e.name),
        ["agent.sock"],
        "nothing else left",
      );
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Leaves a socket file at `path` that nothing listens on, as a killed process does. */
async function staleSocket(path: string): Promise<void> {
  const listener = Deno.listen({ transport: "unix", path: `${path}.tmp` });
  await Deno.rename(`${path}.tmp`, path);
  listener.close();
}

/** Reads JSON lines from `conn` until `done` says so (or the connection ends). */
async function readJsonLines(
  conn: Deno.Conn,
  done: (lines: Record<string, unknown>[]) => boolean,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const buf = new Uint8Array(65536);
  let text = "";
  while (!done(out)) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
    let nl: number;
    while ((nl = text.indexOf("\n")) >= 0) {
      out.push(JSON.parse(text.slice(0, nl)));
      text = text.slice(nl + 1);
    }
  }
  return out;
}

Deno.test("control server: a tap streams each matching message as a line, and ends at its limit", async () => {
  await withServer(async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    try {
      await conn.write(new TextEncoder().encode('{"command":"tap","match":"b","limit":3}\n'));
      const open = await readJsonLines(conn, (l) => l.length >= 1);
      assertEquals(open, [{ ok: true, result: "tap open" }]);
      const enc = new TextEncoder();
      for (const m of ["a1", "b1", "b2", "a2", "b3", "b4"]) {
        const d = enc.encode(m);
        taps.offer({ input: "tcp:127.0.0.1:5514" }, d, 0, d.length);
      }
      const lines = await readJsonLines(conn, (l) => l.some((x) => "end" in x));
      const messages = lines.filter((l) => "message" in l);
      assertEquals(messages.map((l) => [l.message, l.input, l.size]), [
        ["b1", "tcp:127.0.0.1:5514", 2],
        ["b2", "tcp:127.0.0.1:5514", 2],
        ["b3", "tcp:127.0.0.1:5514", 2],
      ]);
      assertEquals(lines.at(-1), { end: true, sent: 3, skipped: 0 });
    } finally {
      conn.close();
    }
  });
});

Deno.test("control server: a tap whose reader is slower than the relay skips and counts; a client that goes closes its tap", async () => {
  await withServer(async (path) => {
    const conn = await Deno.connect({ transport: "unix", path });
    await conn.write(new TextEncoder().encode('{"command":"tap"}\n'));
    assertEquals(await readJsonLines(conn, (l) => l.length >= 1), [{
      ok: true,
      result: "tap open",
    }]);
    assertEquals(taps.inputs, true);
    // 1,500 at once: the tap holds 1,000 for its reader and skips the rest, counted.
    const d = new TextEncoder().encode("x".repeat(100));
    for (let i = 0; i < 1_500; i++) taps.offer({ input: "in" }, d, 0, d.length);
    const lines = await readJsonLines(conn, (l) => l.some((x) => "skipped" in x));
    assertEquals(lines.filter((l) => "message" in l).length, 1_000);
    assertEquals(lines.at(-1), { skipped: 500 });
    conn.close();
    await waitForClosed();
  });
});

/** Waits (a few ms of real time at most) until no tap is open. */
async function waitForClosed(): Promise<void> {
  for (let i = 0; i < 200 && taps.inputs; i++) await sleep(5);
  assertEquals(taps.inputs, false, "the tap closed with its client");
}
