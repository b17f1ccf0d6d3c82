/**
 * Renders a config value for an error message: as JSON on one line, shortened
 * when long.
 *
 * @module
 */

const MAX_CHARS = 80;

/**
 * Returns `value` as one line of JSON (or `String(value)` for what JSON cannot
 * show), cut to about 80 characters with an ellipsis.
 */
export function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS - 1)}…` : text;
}
