/**
 * A small JSONC reader (comments and trailing commas), as deno.jsonc allows.
 * @module
 */

/**
 * Remove `//` and `/* *\/` comments and trailing commas from JSONC text,
 * leaving string contents untouched, so `JSON.parse` can read the result.
 * Line and column positions are kept (comments become spaces) so a parse
 * error still points at the right place.
 */
export function stripJsonc(text: string): string {
  let out = "";
  let i = 0;
  const n = text.length;
  // Index in `out` of the last comma seen outside a string with only
  // whitespace/comments after it; dropped when a closing bracket follows.
  let pendingComma = -1;
  while (i < n) {
    const ch = text[i];
    if (ch === '"') {
      pendingComma = -1;
      let j = i + 1;
      while (j < n && text[j] !== '"') {
        if (text[j] === "\\") j++;
        j++;
      }
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (ch === "/" && text[i + 1] === "/") {
      let j = i;
      while (j < n && text[j] !== "\n") j++;
      out += " ".repeat(j - i);
      i = j;
      continue;
    }
    if (ch === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const j = end === -1 ? n : end + 2;
      out += text.slice(i, j).replace(/[^\n]/g, " ");
      i = j;
      continue;
    }
    if (ch === ",") {
      pendingComma = out.length;
      out += ch;
      i++;
      continue;
    }
    if (ch === "}" || ch === "]") {
      if (pendingComma !== -1) {
        out = out.slice(0, pendingComma) + " " + out.slice(pendingComma + 1);
      }
      pendingComma = -1;
      out += ch;
      i++;
      continue;
    }
    if (!/\s/.test(ch)) pendingComma = -1;
    out += ch;
    i++;
  }
  return out;
}

/** Parse JSONC text into a value (throws SyntaxError like `JSON.parse`). */
export function parseJsonc(text: string): unknown {
  // A UTF-8 BOM is legal at the start of a config file.
  return JSON.parse(stripJsonc(text.replace(/^\uFEFF/, "")));
}
