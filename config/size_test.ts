import assert from "node:assert/strict";
import { parseSize } from "./size.ts";

Deno.test("parseSize accepts bytes and IEC units", () => {
  assert.equal(parseSize(0), 0);
  assert.equal(parseSize(1024), 1024);
  assert.equal(parseSize("1024"), 1024);
  assert.equal(parseSize("100B"), 100);
  assert.equal(parseSize("512KiB"), 512 * 1024);
  assert.equal(parseSize("2MiB"), 2 * 1024 ** 2);
  assert.equal(parseSize("64MiB"), 64 * 1024 ** 2);
  assert.equal(parseSize("1GiB"), 1024 ** 3);
  assert.equal(parseSize("1TiB"), 1024 ** 4);
  assert.equal(parseSize(" 64 mib "), 64 * 1024 ** 2);
});

Deno.test("parseSize rejects 1000-based units, fractions, negatives and other types", () => {
  for (const bad of ["64MB", "1.5GiB", "-1", "", "MiB", "1 PiB", -1, 1.5, null, true, [1]]) {
    assert.throws(() => parseSize(bad), Error, JSON.stringify(bad));
  }
  assert.throws(() => parseSize("64MB"), {
    message: 'expected a size: a whole number of bytes, or a string like "64MiB" ' +
      "(units B, KiB, MiB, GiB, TiB; 1000-based KB, MB, GB are not accepted), got " + '"64MB"',
  });
});

Deno.test("parseSize rejects sizes beyond 2^53", () => {
  assert.throws(() => parseSize("99999999TiB"), /got "99999999TiB"/);
  assert.throws(() => parseSize(2 ** 60), /got 1152921504606847000/);
});
