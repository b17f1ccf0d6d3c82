/**
 * The public face of `ground/`: what the other folders use of it.
 *
 * @module
 */

export type { Batch, BatchSource, SpoolPosition } from "./batch.ts";
export { sleep, systemClock } from "./clock.ts";
export { FakeClock } from "./fake_clock.ts";
export type { Clock } from "./clock.ts";
export { closeQuietly } from "./close_quietly.ts";
export { concat } from "./concat.ts";
export { errorText } from "./error_text.ts";
export { errorLine, Logger } from "./logger.ts";
export type { Level, LoggerOptions } from "./logger.ts";
export {
  eachFrame,
  LF,
  NINE,
  octetToLf,
  SP,
  writeDecimal,
  writeOctetHeader,
  ZERO,
} from "./octet.ts";
export { libc } from "./libc.ts";
export type { Libc } from "./libc.ts";
export { Queue } from "./queue.ts";
export { VERSION } from "./version.ts";
