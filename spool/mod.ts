/**
 * The public face of `spool/`: what the other folders use of it.
 *
 * @module
 */

export { Spool } from "./spool.ts";
export type { SpoolMark, SpoolStats } from "./spool.ts";
