/**
 * How the spool words the errors of its file operations.
 *
 * @module
 */

/** The message of `e`, or `e` as text when it is not an Error. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Whether `e` says the disk (or the quota) is full. */
export function isNoSpace(e: unknown): boolean {
  return /no space|ENOSPC|quota/i.test(errorText(e));
}
