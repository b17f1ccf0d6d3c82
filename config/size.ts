/**
 * Sizes in the config: a number of bytes, or a string with an IEC unit.
 *
 * @module
 */

import { show } from "./_show.ts";

const UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

const EXPECTED = 'a size: a whole number of bytes, or a string like "64MiB" ' +
  "(units B, KiB, MiB, GiB, TiB; 1000-based KB, MB, GB are not accepted)";

/**
 * Parses a size into bytes. Accepts a non-negative integer (`1024`) or a string
 * of a whole number with an optional IEC unit: `"1024"`, `"100B"`, `"512KiB"`,
 * `"64MiB"`, `"1GiB"`, `"1TiB"` (units are case-insensitive).
 *
 * @throws {Error} `expected a size: …, got <value>` for anything else,
 *   including `"64MB"`, `"1.5GiB"`, negative numbers and sizes beyond 2^53.
 */
export function parseSize(value: unknown): number {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value >= 0) return value;
  } else if (typeof value === "string") {
    const match = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(value);
    if (match !== null) {
      const unit = UNITS[(match[2] ?? "").toLowerCase() || "b"];
      const bytes = unit === undefined ? NaN : Number(match[1]) * unit;
      if (Number.isSafeInteger(bytes)) return bytes;
    }
  }
  throw new Error(`expected ${EXPECTED}, got ${show(value)}`);
}
