import { deepStrictEqual as assertEquals, ok as assert, rejects, throws } from "node:assert/strict";
import { MemoryNetwork, octets, sleep } from "./mod.ts";
import type { Dialer } from "../relay/mod.ts";
import { parseConfig } from "../config/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * One turn of the event loop: the memory network has no timers, so once
 * queued promise callbacks have run, whatever could move has moved.
 */
function turn(): Promise<void> {
  return sleep(0);
}

/** Whether `p` has settled after one turn of the event loop. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await turn();
  return done;
}

Deno.test("memory network: dial is a forwarder Dialer; the collector reads what was written, in order", async () => {
  const net = new MemoryNetwork();
  const dial: Dialer = net.dial;
  const collector = net.listen("10.0.0.1:514");
  const [collectorConfig] = parseConfig(
    '{"collectors": [{"address": "10.0.0.1:514"}]}',
    "inline",
  ).collectors;
  const conn = await dial(collectorConfig!);
  assertEquals(conn.remoteAddr, { transport: "tcp", hostname: "10.0.0.1", port: 514 });
  assertEquals(conn.localAddr.transport, "tcp");
  (conn as Deno.TcpConn).setNoDelay(true);
  assert(collector.peers[0]!.conn.remoteAddr.hostname === "127.0.0.1");
  await conn.write(octets(["<13>one"]));
  await conn.write(enc.encode("6 <13"));
  await turn();
  assertEquals(collector.frames(), ["<13>one"], "a cut-off frame is not a message yet");
  await conn.write(enc.encode(">2\n"));
  conn.close();
  await collector.done();
  assertEquals(collector.frames(), ["<13>one", "<13>2\n"]);
  assertEquals(collector.peers[0]!.ended, true);
  assertEquals(collector.peers[0]!.error, undefined);
  assertEquals(net.openConnections, 0);
});

Deno.test("memory network: LF lines, and readable/writable streams", async () => {
  const net = new MemoryNetwork();
  const collector = net.listen("[::1]:601");
  const conn = await net.dial({ address: "[::1]:601" });
  assertEquals(conn.remoteAddr.hostname, "::1");
  const writer = conn.writable.getWriter();
  await writer.write(enc.encode("a line\nanother"));
  await writer.write(enc.encode(" one\n"));
  await writer.close();
  await collector.done();
  assertEquals(collector.lines(), ["a line", "another one"]);
  // The collector closed its side at our end of stream: the readable ends.
  const chunks: string[] = [];
  for await (const c of conn.readable) chunks.push(dec.decode(c));
  assertEquals(chunks, []);
});

Deno.test("memory network: nothing listening is connection refused, until a collector listens", async () => {
  const net = new MemoryNetwork();
  await rejects(net.dial({ address: "10.0.0.9:514" }), Deno.errors.ConnectionRefused);
  const collector = net.listen("10.0.0.9:514");
  assert(await net.dial({ address: "10.0.0.9:514" }));
  collector.close();
  assertEquals(collector.listening, false);
  await rejects(net.dial({ address: "10.0.0.9:514" }), /nothing listens on 10\.0\.0\.9:514/);
  assertEquals(net.attempts("10.0.0.9:514"), 3);
  assert(net.listen("10.0.0.9:514"), "the address is free again once closed");
  throws(() => net.listen("10.0.0.9:514"), Deno.errors.AddrInUse);
  throws(() => net.listen("no-port"), /expected an address "host:port", got "no-port"/);
});

Deno.test("memory network: a blackholed address never completes a connect", async () => {
  const net = new MemoryNetwork();
  net.listen("10.0.0.2:514");
  net.blackhole("10.0.0.2:514");
  const hung = net.dial({ address: "10.0.0.2:514" });
  assertEquals(await settled(hung), false);
  net.blackhole("10.0.0.2:514", false);
  assert(await net.dial({ address: "10.0.0.2:514" }));
  assertEquals(net.attempts("10.0.0.2:514"), 2);
});

Deno.test("memory network: a collector that never reads blocks writes once both buffers are full", async () => {
  const net = new MemoryNetwork({ sendBufferBytes: 1000, receiveBufferBytes: 3000 });
  const collector = net.listen("10.0.0.3:514", { mode: "stall" });
  const conn = await net.dial({ address: "10.0.0.3:514" });
  const data = new Uint8Array(10_000).map((_, i) => i % 251);
  // A write takes what fits and says how much; then the next one blocks.
  assertEquals(await conn.write(data), 4000);
  const peer = collector.peers[0]!;
  assertEquals(peer.unread, 4000);
  assertEquals(peer.bytes, 0);
  const blocked = conn.write(data.subarray(4000));
  assertEquals(await settled(blocked), false, "a write to full buffers must wait");
  peer.resume();
  let off = 4000 + await blocked;
  while (off < data.length) off += await conn.write(data.subarray(off));
  conn.close();
  await collector.done();
  assertEquals(peer.data(), data);
});

Deno.test("memory network: a collector that stalls mid-stream leaves its buffers' worth unread", async () => {
  const net = new MemoryNetwork({ sendBufferBytes: 500, receiveBufferBytes: 500 });
  const collector = net.listen("10.0.0.3:514", { receiveBufferBytes: 1500 });
  const conn = await net.dial({ address: "10.0.0.3:514" });
  await conn.write(new Uint8Array(100));
  await turn();
  const peer = collector.peers[0]!;
  assertEquals(peer.bytes, 100);
  peer.stall();
  let written = 0;
  for (;;) {
    const w = conn.write(new Uint8Array(700));
    if (!(await settled(w))) break;
    written += await w;
  }
  assertEquals(written, 2000, "send buffer (500) plus the collector's receive buffer (1500)");
  assertEquals(peer.unread, 2000);
});

Deno.test("memory network: a reset fails a blocked write and both ends' reads, and loses what was unread", async () => {
  const net = new MemoryNetwork({ sendBufferBytes: 100, receiveBufferBytes: 100 });
  const stalled = net.listen("10.0.0.4:514", { mode: "stall" });
  const reading = net.listen("10.0.0.5:514");
  const a = await net.dial({ address: "10.0.0.4:514" });
  const b = await net.dial({ address: "10.0.0.5:514" });
  await a.write(new Uint8Array(200));
  const blocked = a.write(new Uint8Array(10));
  const readA = a.read(new Uint8Array(10));
  await b.write(enc.encode("5 hello"));
  await turn();
  assertEquals(net.resetAll(), 2);
  await rejects(blocked, Deno.errors.ConnectionReset);
  await rejects(readA, Deno.errors.ConnectionReset);
  await rejects(b.read(new Uint8Array(10)), /connection reset by peer/);
  await rejects(b.write(enc.encode("x")), Deno.errors.ConnectionReset);
  await reading.done();
  assertEquals(reading.frames(), ["hello"], "what the collector read before the reset stays read");
  assertEquals(reading.peers[0]!.error, "connection reset by peer (memory network)");
  assertEquals(stalled.peers[0]!.unread, 0, "what sat in the buffers is gone");
  a.close();
  b.close();
  assertEquals(net.openConnections, 0);
});

Deno.test("memory network: a collector crash resets only its own connections", async () => {
  const net = new MemoryNetwork();
  const one = net.listen("10.0.0.6:514");
  net.listen("10.0.0.7:514");
  const a = await net.dial({ address: "10.0.0.6:514" });
  const b = await net.dial({ address: "10.0.0.7:514" });
  one.crash();
  await rejects(a.read(new Uint8Array(1)), Deno.errors.ConnectionReset);
  await rejects(net.dial({ address: "10.0.0.6:514" }), Deno.errors.ConnectionRefused);
  assertEquals(await b.write(enc.encode("x")), 1);
});

Deno.test("memory network: a clean close by the collector is end of stream, then writes fail", async () => {
  const net = new MemoryNetwork();
  const collector = net.listen("10.0.0.8:514");
  const conn = await net.dial({ address: "10.0.0.8:514" });
  await conn.write(octets(["before"]));
  await turn();
  collector.peers[0]!.close();
  assertEquals(await conn.read(new Uint8Array(10)), null);
  await rejects(conn.write(enc.encode("x")), Deno.errors.BrokenPipe);
  assertEquals(collector.frames(), ["before"]);
});

Deno.test("memory network: half-close lets the collector read to the end; closing with bytes unread resets", async () => {
  const net = new MemoryNetwork();
  const collector = net.listen("10.0.0.8:514", { mode: "stall" });
  const conn = await net.dial({ address: "10.0.0.8:514" });
  await conn.write(octets(["last"]));
  await conn.closeWrite();
  await rejects(conn.write(enc.encode("x")), Deno.errors.BrokenPipe);
  const pending = conn.read(new Uint8Array(10));
  assertEquals(await settled(pending), false, "our side stays readable after closeWrite");
  collector.peers[0]!.resume();
  assertEquals(await pending, null, "the collector read our end and closed its side");
  assertEquals(collector.frames(), ["last"]);

  const other = await net.dial({ address: "10.0.0.8:514" });
  const peer = collector.peers[1]!;
  await other.write(enc.encode("unread"));
  peer.conn.close();
  await rejects(other.read(new Uint8Array(10)), Deno.errors.ConnectionReset);
  await rejects(Promise.resolve().then(() => peer.conn.close()), Deno.errors.BadResource);
});

Deno.test("memory network: closing our end fails our pending read and write", async () => {
  const net = new MemoryNetwork({ sendBufferBytes: 10, receiveBufferBytes: 10 });
  net.listen("10.0.0.9:514", { mode: "stall" });
  const conn = await net.dial({ address: "10.0.0.9:514" });
  await conn.write(new Uint8Array(20));
  const write = conn.write(new Uint8Array(1));
  const read = conn.read(new Uint8Array(1));
  conn.close();
  await rejects(write, Deno.errors.BadResource);
  await rejects(read, Deno.errors.BadResource);
  await rejects(conn.write(new Uint8Array(1)), /write on a closed connection/);
});

Deno.test("memory network: a serving collector talks back", async () => {
  const net = new MemoryNetwork();
  const collector = net.listen("10.0.0.10:2514", {
    serve: async (conn) => {
      const buf = new Uint8Array(64);
      const n = await conn.read(buf);
      await conn.write(enc.encode(`got ${n}`));
      conn.close();
    },
  });
  const conn = await net.dial({ address: "10.0.0.10:2514" });
  await conn.write(enc.encode("ping"));
  const buf = new Uint8Array(64);
  const n = await conn.read(buf);
  assertEquals(dec.decode(buf.subarray(0, n ?? 0)), "got 4");
  await collector.done();
  assertEquals(collector.peers[0]!.ended, true);
  assertEquals(collector.peers[0]!.bytes, 0, "a served connection records nothing itself");
});
