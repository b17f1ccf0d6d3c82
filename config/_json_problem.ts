/**
 * Describes a JSON syntax error as one line with the file, line and column.
 *
 * @module
 */

/**
 * Returns the problem line for `text` (from `source`) that `JSON.parse` failed
 * on with `error`: `config: <source>: invalid JSON at line L column C: <reason>`.
 */
export function jsonProblem(text: string, source: string, error: unknown): string {
  if (text.trim() === "") {
    return `config: ${source}: invalid JSON: the file is empty (write {} to use every default)`;
  }
  const message = error instanceof Error ? error.message : String(error);
  const at = /at position (\d+)/.exec(message);
  const offset = at !== null
    ? Number(at[1])
    : message.startsWith("Unexpected end")
    ? text.length
    : errorOffset(text);
  const before = text.slice(0, offset).split("\n");
  const line = before.length;
  const column = (before[line - 1] ?? "").length + 1;
  const reason = message
    .replace(/ in JSON at position \d+.*$/s, "")
    .replace(/ at position \d+.*$/s, "")
    .replace(/^(Unexpected token '.*?'), .* is not valid JSON$/s, "$1")
    .replace(/\s+/g, " ");
  return `config: ${source}: invalid JSON at line ${line} column ${column}: ${reason}`;
}

/**
 * The offset of the first character that makes `text` invalid, found as the
 * longest prefix that still parses or only fails for ending too early.
 */
function errorOffset(text: string): number {
  let good = 0;
  let bad = text.length;
  while (bad - good > 1) {
    const middle = Math.floor((good + bad) / 2);
    if (viable(text.slice(0, middle))) good = middle;
    else bad = middle;
  }
  return good;
}

function viable(prefix: string): boolean {
  try {
    JSON.parse(prefix);
    return true;
  } catch (error) {
    const message = error instanceof Error ? error.message : "";
    const at = /at position (\d+)/.exec(message);
    return message.startsWith("Unexpected end") || (at !== null && Number(at[1]) >= prefix.length);
  }
}
