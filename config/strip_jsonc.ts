/**
 * JSON with comments and trailing commas (what `deno.json` and `tsconfig.json`
 * accept), made plain JSON for `JSON.parse` with every character in place.
 *
 * @module
 */

/**
 * `text` with `//` and `/* … *\/` comments and trailing commas (a comma before
 * `]` or `}`) blanked out: replaced by spaces, newlines kept, so that a
 * position in the result is the same line and column in `text` and an error of
 * `JSON.parse` points at the file as written. Strings are left alone.
 *
 * @throws {SyntaxError} on a `/*` comment that is never closed, naming its
 *   position as `JSON.parse` does
 */
export function stripJsonc(text: string): string {
  const out = text.split("");
  const n = text.length;
  /** The last comma outside strings and comments, while only blanks followed it. */
  let comma = -1;
  let i = 0;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n" && out[k] !== "\r") out[k] = " ";
  };
  while (i < n) {
    const c = text[i]!;
    if (c === '"') {
      comma = -1;
      i++;
      while (i < n && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
      i++;
    } else if (c === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      const stop = end < 0 ? n : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) throw new SyntaxError(`a /* comment that is never closed at position ${i}`);
      blank(i, end + 2);
      i = end + 2;
    } else if (c === ",") {
      comma = i;
      i++;
    } else if (c === "]" || c === "}") {
      if (comma >= 0) out[comma] = " ";
      comma = -1;
      i++;
    } else {
      if (!/\s/.test(c)) comma = -1;
      i++;
    }
  }
  return out.join("");
}
