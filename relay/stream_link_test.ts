import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { kernelBufferBytes, StreamLink } from "./stream_link.ts";
import { FakeClock } from "../ground/mod.ts";
import { parseConfig, type StreamCollectorConfig } from "../config/mod.ts";

/** A connection that takes every write whole and never sends anything. */
function sinkConn(): Deno.Conn {
  let closed: (v: null) => void = () => {};
  const ended = new Promise<null>((r) => closed = r);
  return {
    write: (p: Uint8Array) => Promise.resolve(p.length),
    read: () => ended,
    close: () => closed(null),
    closeWrite: () => Promise.resolve(),
  } as unknown as Deno.Conn;
}

Deno.test("stream link: with thousands of batches in the window, each is confirmed once, oldest first, once the window followed it", async () => {
  const cfg = parseConfig('{"collectors": [{"address": "127.0.0.1:514"}]}', "inline")
    .collectors[0] as StreamCollectorConfig;
  const clock = new FakeClock(1_000_000);
  const confirms: number[] = [];
  const link = new StreamLink(sinkConn(), cfg, {
    confirmed: (n) => confirms.push(n),
    progress: () => {},
    broken: () => {},
    refused: () => {},
  }, clock);
  await link.open();
  // Small batches: the window holds thousands of them, past the point where the queue is cut.
  const size = 1024;
  const window = Math.max(cfg.replayWindow, kernelBufferBytes());
  const inWindow = Math.ceil(window / size);
  const total = inWindow + 5000;
  const batch = { data: new Uint8Array(size), count: 1 };
  for (let i = 0; i < total; i++) {
    await link.write(batch);
    if (i % 1000 === 0) await clock.advance(3_000);
  }
  await clock.advance(3_000);
  await link.write(batch);
  const confirmed = confirms.reduce((a, b) => a + b, 0);
  // Everything but the batches the window still covers (the last one written included).
  assertEquals(confirmed, total + 1 - inWindow);
  link.destroy("test over");
  assertEquals(
    confirms.reduce((a, b) => a + b, 0),
    confirmed,
    "a broken link confirms nothing more",
  );
});

Deno.test("stream link: with the kernel's evidence a batch is confirmed once it is 2 s old and the collector cannot still hold it unread; a window below half its largest falls back to the byte window", async () => {
  const cfg = parseConfig('{"collectors": [{"address": "127.0.0.1:514"}]}', "inline")
    .collectors[0] as StreamCollectorConfig;
  const clock = new FakeClock(1_000_000);
  let confirmed = 0;
  // The collector's kernel: everything acknowledged at once, a window of 100 KiB.
  let acked = 0;
  let wnd = 100 * 1024;
  const link = new StreamLink(
    sinkConn(),
    cfg,
    {
      confirmed: (n) => confirmed += n,
      progress: () => {},
      broken: () => {},
      refused: () => {},
    },
    clock,
    () => ({ bytesAcked: acked, sndWnd: wnd }),
  );
  await link.open();
  const batch = { data: new Uint8Array(1024), count: 1 };
  const write = async () => {
    await link.write(batch);
    acked += 1024;
  };
  // 100 batches of 1 KiB, 3 s old. Its window at its largest, the collector may hold
  // 1.5 × 100 − 100 = 50 KiB unread, and 16 KiB of slack: what ends 66 KiB before what its
  // kernel acknowledged (100 KiB, looked at with the 101st write) was read.
  for (let i = 0; i < 100; i++) await write();
  await clock.advance(3_000);
  await write();
  assertEquals(confirmed, 100 - 66);
  // 300 more, in 60 ms steps (TCP_INFO is looked at no more than every 50 ms), then 3 s.
  for (let i = 0; i < 300; i++) {
    await write();
    if (i % 10 === 0) await clock.advance(60);
  }
  await clock.advance(3_000);
  await write();
  assertEquals(confirmed, 401 - 66);
  // The window shrinks to 60 KiB: it may hold 1.5 × 100 − 60 = 90 KiB unread.
  wnd = 60 * 1024;
  for (let i = 0; i < 100; i++) await write();
  await clock.advance(3_000);
  await write();
  assertEquals(confirmed, 502 - 90 - 16);
  // Below half its largest (the collector stopped reading): nothing more by evidence.
  wnd = 40 * 1024;
  await clock.advance(60);
  for (let i = 0; i < 200; i++) await write();
  await clock.advance(3_000);
  await write();
  assertEquals(confirmed, 502 - 90 - 16);
  link.destroy("test over");
});
