/**
 * Chaos: every input setting reloaded under traffic. Senders open a new
 * connection every few messages, so an input closed for a moment shows as
 * ECONNREFUSED; every message must arrive. A reload that cannot be applied
 * (a taken address, a message size beyond the buffers) is refused and leaves
 * the inputs running.
 */

import assert from "node:assert/strict";
import { checkSeqs, freePort, octets, seqMessage, sleep, waitFor } from "../../testkit/mod.ts";
import { fmt, opts, rig, status, summary, teardown } from "./_chaos.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One request on the control socket; the answer's `result`, or throws with its `error`. */
async function control(socket: string, command: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  try {
    await conn.write(enc.encode(JSON.stringify({ command }) + "\n"));
    let text = "";
    const buf = new Uint8Array(65536);
    while (!text.includes("\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n));
    }
    const reply = JSON.parse(text) as { ok: boolean; result?: unknown; error?: string };
    if (!reply.ok) throw new Error(String(reply.error));
    return String(reply.result);
  } finally {
    conn.close();
  }
}

/** Sends `total` numbered messages, `perConn` per new connection, until done. */
async function sendInConnections(
  port: number,
  total: number,
  perConn: number,
): Promise<{ refused: number; failed: number }> {
  let seq = 0;
  let refused = 0;
  let failed = 0;
  while (seq < total) {
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionRefused) refused++;
      else failed++;
      await sleep(5);
      continue;
    }
    const end = Math.min(total, seq + perConn);
    const data = octets(Array.from({ length: end - seq }, (_, i) => seqMessage(seq + i, 200)));
    try {
      let off = 0;
      while (off < data.length) off += await conn.write(data.subarray(off));
      seq = end;
    } catch {
      failed++;
    } finally {
      conn.close();
    }
    await sleep(1);
  }
  return { refused, failed };
}

Deno.test(
  "chaos: reloading every input setting under traffic: no ECONNREFUSED, nothing missing; an impossible reload is refused",
  opts,
  async () => {
    const r = await rig("reload-inputs");
    const configPath = `${r.dir}/agent/agent.json`;
    const socket = `${r.dir}/agent/agent.sock`;
    const taken = Deno.listen({ hostname: "127.0.0.1", port: await freePort() });
    try {
      const total = 20_000;
      const sending = sendInConnections(r.port, total, 20);
      const settings: Record<string, unknown>[] = [
        { maxConnections: 500 },
        { maxMessageSize: 32_768 },
        { idleTimeoutMs: 60_000 },
        { maxConnections: 1024, maxMessageSize: 65_536, idleTimeoutMs: 300_000 },
      ];
      const answers: string[] = [];
      for (const change of settings) {
        await sleep(300);
        const config = JSON.parse(await Deno.readTextFile(configPath));
        Object.assign(config.inputs[0], change);
        await Deno.writeTextFile(configPath, JSON.stringify(config));
        answers.push(await control(socket, "reload"));
      }
      for (const a of answers) assert.match(a, /settings applied/, a);
      const during = await status(r.agent);
      // A reload that cannot be applied: a message size beyond the buffers, then a taken address.
      const config = JSON.parse(await Deno.readTextFile(configPath));
      config.inputs[0].maxMessageSize = 1024 * 1024;
      await Deno.writeTextFile(configPath, JSON.stringify(config));
      const big = await control(socket, "reload").then(() => "", (e) => e.message);
      assert.match(big, /maxMessageSize 1048576 .*needs a restart/, big);
      config.inputs[0].maxMessageSize = 65_536;
      config.inputs[0].address = `127.0.0.1:${taken.addr.port}`;
      await Deno.writeTextFile(configPath, JSON.stringify(config));
      const busy = await control(socket, "reload").then(() => "", (e) => e.message);
      assert.match(busy, /reload rejected.*cannot listen/, busy);
      const sent = await sending;
      const report = await waitFor(async () => {
        const rep = checkSeqs(await r.collector.lines(), total);
        return rep.missingCount === 0 && rep;
      }, { timeoutMs: 30_000, what: "every message at the collector" }).catch(async (e) => {
        throw new Error(
          `${e.message}: ${JSON.stringify(checkSeqs(await r.collector.lines(), total))}`,
        );
      });
      const after = await status(r.agent);
      summary(
        "reload-inputs",
        `${
          fmt(total)
        } messages in connections of 20 while ${settings.length} reloads changed maxConnections, maxMessageSize and idleTimeoutMs: ECONNREFUSED ${sent.refused}, other failures ${sent.failed}, delivered ${
          fmt(report.unique)
        }, missing 0; a 1 MiB maxMessageSize and a taken address were refused; state ${after.state}`,
      );
      assert.equal(sent.refused, 0, "no connection refused");
      assert.equal(sent.failed, 0, "no connection failed");
      for (const st of [during, after]) {
        assert.ok(!st.reasons.some((x) => /not listening/.test(x)), st.reasons.join("; "));
      }
    } finally {
      taken.close();
      await teardown(r);
    }
  },
);
