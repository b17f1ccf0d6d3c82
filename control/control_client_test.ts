import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { controlRequest, UnreachableError } from "./control_client.ts";

/** Serves one connection at a temp socket: reads a line, writes `answer`, closes. */
async function withFakeAgent(
  answer: string,
  fn: (socket: string, received: Promise<string>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "control_client_test_" });
  const socket = `${dir}/agent.sock`;
  const listener = Deno.listen({ transport: "unix", path: socket });
  const received = (async () => {
    const conn = await listener.accept();
    try {
      const buf = new Uint8Array(4096);
      let text = "";
      while (!text.includes("\n")) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      await conn.write(new TextEncoder().encode(answer));
      return text;
    } finally {
      conn.close();
    }
  })();
  try {
    await fn(socket, received);
  } finally {
    listener.close();
    await received.catch(() => "");
    await Deno.remove(dir, { recursive: true });
  }
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return await p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: Error) => e,
  );
}

Deno.test("control client: sends the request as one JSON line and gives the result", async () => {
  await withFakeAgent('{"ok":true,"result":"reloaded: nothing changed"}\n', async (socket, got) => {
    assertEquals(await controlRequest(socket, { command: "reload" }), "reloaded: nothing changed");
    assertEquals(await got, '{"command":"reload"}\n');
  });
});

Deno.test("control client: an ok:false answer is an Error with the agent's message", async () => {
  await withFakeAgent('{"ok":false,"error":"reload: no config loader"}\n', async (socket) => {
    const e = await rejection(controlRequest(socket, { command: "reload" }));
    assert(!(e instanceof UnreachableError));
    assertEquals(e.message, "reload: no config loader");
  });
  await withFakeAgent('{"ok":false}\n', async (socket) => {
    const e = await rejection(controlRequest(socket, { command: "rotate" }));
    assertEquals(e.message, `agent: the agent at ${socket} refused the request without saying why`);
  });
});

Deno.test("control client: an answer that is not a control response says so, with the text", async () => {
  for (const answer of ["SSH-2.0-OpenSSH_9.2\n", '{"status":"ok"}\n', '{"ok":true}\n', "[]\n"]) {
    await withFakeAgent(answer, async (socket) => {
      const e = await rejection(controlRequest(socket, { command: "status" }));
      assertEquals(
        e.message,
        `agent: the answer from ${socket} is not a control response ({"ok": …}): ${answer.trim()}; is something other than the agent listening there?`,
        answer,
      );
    });
  }
});

Deno.test("control client: no agent at the socket is an UnreachableError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "control_client_test_" });
  try {
    const e = await rejection(controlRequest(`${dir}/agent.sock`, { command: "status" }));
    assert(e instanceof UnreachableError, String(e));
    assertEquals(
      e.message,
      `agent: cannot reach the agent at ${dir}/agent.sock: is the agent running? (systemctl status syslog-agent)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
