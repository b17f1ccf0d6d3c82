/**
 * The public face of `buffer/`: the tiered buffer between inputs and the
 * forwarder (memory, then the spool).
 *
 * @module
 */

export { TieredBuffer } from "./tiered_buffer.ts";
export type { BufferStats, TieredBufferOptions } from "./tiered_buffer.ts";
