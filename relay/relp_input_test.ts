import assert from "node:assert/strict";
import { Counters } from "./counters.ts";
import { Ingest } from "./ingest.ts";
import { Logger } from "../ground/mod.ts";
import { TieredBuffer } from "../buffer/mod.ts";
import { RelpFrameParser } from "./relp_frame.ts";
import { RelpInput } from "./relp_input.ts";
import { Spool } from "../spool/mod.ts";
import type { AddressInputConfig, SpoolConfig } from "../config/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const log = new Logger({ level: "error", format: "text", journal: false, write: () => {} });

async function segmentBytes(dir: string): Promise<string> {
  let text = "";
  for await (const e of Deno.readDir(dir)) {
    if (e.name.endsWith(".seg")) text += dec.decode(await Deno.readFile(`${dir}/${e.name}`));
  }
  return text;
}

Deno.test("RELP input, spool always: rsp 200 comes only once the message is in the segment file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relp-input-" });
  const spoolCfg: SpoolConfig = {
    dir,
    mode: "always",
    maxBytes: 64 * 1024 * 1024,
    whenFull: "drop-oldest",
    sync: "always",
    syncIntervalMs: 200,
    maxDrainRate: 0,
    maxAge: 0,
  };
  const spool = await Spool.open(spoolCfg, 65536, log);
  const queue = new TieredBuffer(spool, "always");
  const counters = new Counters();
  const ingest = new Ingest(counters, (b) => queue.push(b));
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const cfg: AddressInputConfig = {
    type: "relp",
    address: { hostname: "127.0.0.1", port, text: `127.0.0.1:${port}` },
    maxMessageSize: 65536,
    maxConnections: 10,
    idleTimeoutMs: 60_000,
  };
  const input = new RelpInput(cfg, ingest, queue, counters, log);
  await input.listen();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const offers = "relp_version=0\ncommands=syslog";
    await conn.write(enc.encode(`1 open ${offers.length} ${offers}\n`));
    const parser = new RelpFrameParser({ maxData: 65536 });
    const buf = new Uint8Array(65536);
    const next = async (): Promise<{ txnr: number; data: string }> => {
      for (;;) {
        let got: { txnr: number; data: string } | undefined;
        const n = await conn.read(buf);
        assert.notEqual(n, null, "the agent closed the connection");
        parser.push(buf.subarray(0, n!), (f) => got ??= { txnr: f.txnr, data: dec.decode(f.data) });
        if (got) return got;
      }
    };
    assert.equal((await next()).txnr, 1);
    for (let i = 2; i < 22; i++) {
      const msg = `<13>1 - host t - - - durable message ${i} ${"x".repeat(i * 37)}`;
      await conn.write(enc.encode(`${i} syslog ${msg.length} ${msg}\n`));
      const answer = await next();
      assert.deepEqual(answer, { txnr: i, data: "200 OK" });
      // The answer means the record is on disk already (written and fdatasync'ed).
      assert.ok((await segmentBytes(dir)).includes(msg), `message ${i} in the spool when answered`);
    }
    assert.equal(counters.received, 20);
  } finally {
    conn.close();
    input.close();
    await queue.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RELP input: what the spool could not write gets no 200: serverclose, connection closed, counted", async () => {
  const counters = new Counters();
  const ingest = new Ingest(counters, () => {});
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const cfg: AddressInputConfig = {
    type: "relp",
    address: { hostname: "127.0.0.1", port, text: `127.0.0.1:${port}` },
    maxMessageSize: 65536,
    maxConnections: 10,
    idleTimeoutMs: 60_000,
  };
  // A spool that dropped what it was handed (a full disk).
  const input = new RelpInput(
    cfg,
    ingest,
    { mark: () => 0, settled: () => Promise.resolve(false) },
    counters,
    log,
  );
  await input.listen();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const offers = "relp_version=0\ncommands=syslog";
    const msg = "<13>1 - host t - - - not written";
    const frames: { txnr: number; command: string; data: string }[] = [];
    const parser = new RelpFrameParser({ maxData: 65536 });
    const buf = new Uint8Array(65536);
    await conn.write(enc.encode(`1 open ${offers.length} ${offers}\n`));
    while (frames.length === 0) {
      const n = await conn.read(buf);
      assert.notEqual(n, null, "the agent closed the connection");
      parser.push(
        buf.subarray(0, n!),
        (f) => frames.push({ txnr: f.txnr, command: f.command, data: dec.decode(f.data) }),
      );
    }
    await conn.write(enc.encode(`2 syslog ${msg.length} ${msg}\n`));
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      parser.push(
        buf.subarray(0, n),
        (f) => frames.push({ txnr: f.txnr, command: f.command, data: dec.decode(f.data) }),
      );
    }
    assert.deepEqual(
      frames.map((f) => [f.txnr, f.command]),
      [[1, "rsp"], [0, "serverclose"]],
      JSON.stringify(frames),
    );
    assert.equal(counters.notTaken, 1);
  } finally {
    conn.close();
    input.close();
  }
});
