/**
 * The public face of `spool/`: what the other folders use of it.
 *
 * @module
 */

export { HEADER, scanSegment, writeRecord } from "./_record.ts";
export { Spool } from "./spool.ts";
export type { SpoolMark, SpoolStats } from "./spool.ts";
export { denoFs } from "./spool_fs.ts";
export type { SpoolFile, SpoolFs } from "./spool_fs.ts";
export { scanSpool, viewSpool } from "./inspect.ts";
export type { Damage, FoundMessage, SegmentView, SpoolScan, SpoolView } from "./inspect.ts";
