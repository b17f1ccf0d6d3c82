/**
 * Figures as the commands print them.
 *
 * @module
 */

/** A count: rounded, with thousands separators (`12,345`). */
export function count(v: number): string {
  return Math.round(v).toLocaleString("en-US");
}

/** Bytes in B, KiB, MiB or GiB. */
export function bytes(v: number): string {
  if (v < 1024) return `${v} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB`;
  if (v < 1024 ** 3) return `${(v / 1024 / 1024).toFixed(1)} MiB`;
  return `${(v / 1024 ** 3).toFixed(2)} GiB`;
}

/** Seconds in its two largest units: `42s`, `3m7s`, `2h5m`, `1d3h`. */
export function duration(secs: number): string {
  if (secs < 60) return `${secs}s`;
  if (secs < 3600) return `${Math.floor(secs / 60)}m${secs % 60}s`;
  if (secs < 86400) return `${Math.floor(secs / 3600)}h${Math.floor(secs % 3600 / 60)}m`;
  return `${Math.floor(secs / 86400)}d${Math.floor(secs % 86400 / 3600)}h`;
}
