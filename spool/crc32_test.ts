import { strictEqual as assertEquals } from "node:assert/strict";
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32 } from "./_crc32.ts";

Deno.test("crc32: the check value of CRC-32/ISO-HDLC, and 0 for no bytes", () => {
  assertEquals(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assertEquals(crc32(new Uint8Array(0)), 0);
});

Deno.test("crc32: the same as zlib's at every length from 0 to 300, and over 64 KiB, and over a view", () => {
  const bytes = new Uint8Array(65_536 + 300);
  crypto.getRandomValues(bytes.subarray(0, 65_536));
  crypto.getRandomValues(bytes.subarray(65_536));
  for (let n = 0; n <= 300; n++) {
    assertEquals(crc32(bytes.subarray(0, n)), zlibCrc32(bytes.subarray(0, n)), `length ${n}`);
  }
  assertEquals(crc32(bytes), zlibCrc32(bytes));
  const view = bytes.subarray(13, 13 + 5_000);
  assertEquals(crc32(view), zlibCrc32(view));
});
