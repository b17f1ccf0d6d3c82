/**
 * The public face of `ground/`: what the other folders use of it.
 *
 * @module
 */

export type { Batch, BatchSource, SpoolPosition } from "./batch.ts";
export { sleep, systemClock } from "./clock.ts";
export type { Clock } from "./clock.ts";
export { errorLine, Logger } from "./logger.ts";
export type { Level, LoggerOptions } from "./logger.ts";
export { eachFrame, octetToLf, writeOctetHeader } from "./octet.ts";
export { VERSION } from "./version.ts";
