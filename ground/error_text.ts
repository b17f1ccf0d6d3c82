/**
 * The text of a caught error.
 *
 * @module
 */

/** The message of `e`, or `e` as text when it is not an Error. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
