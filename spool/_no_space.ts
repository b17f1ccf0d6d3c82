/**
 * Telling a full disk from the spool's other I/O errors.
 *
 * @module
 */

import { errorText } from "../ground/mod.ts";

/** Whether `e` says the disk (or the quota) is full. */
export function isNoSpace(e: unknown): boolean {
  return /no space|ENOSPC|quota/i.test(errorText(e));
}
