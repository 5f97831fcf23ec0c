/**
 * A JSONC reader as lenient as the one `deno task` reads deno.json with
 * (the `jsonc-parser` crate with its default options): comments, trailing
 * and missing commas, unquoted (word or number) property names,
 * single-quoted strings, hexadecimal numbers and a unary plus. Everything
 * else it rejects, as deno does: words as values, `\x` escapes, a second
 * root value, a byte order mark. Empty text (or only comments) is `null`.
 * @module
 */

/** A syntax error, with the 1-based line and column it was found at. */
export class JsoncError extends SyntaxError {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;

  /** Build the error for `message` at offset `index` of `text`. */
  constructor(message: string, text: string, index: number) {
    const before = text.slice(0, index);
    const line = before.split("\n").length;
    const column = index - before.lastIndexOf("\n");
    super(`${message} on line ${line} column ${column}`);
    this.line = line;
    this.column = column;
  }
}

/** How to parse. */
export interface JsoncOptions {
  /**
   * Reject a key that appears twice in the root object (deno rejects a
   * duplicate top-level field of deno.json; nested maps keep the last).
   */
  uniqueRootKeys?: boolean;
}

type Token =
  | { kind: "{" | "}" | "[" | "]" | "," | ":"; start: number }
  | { kind: "string"; value: string; start: number }
  | { kind: "number"; raw: string; start: number }
  | { kind: "word"; value: string; start: number }
  | { kind: "literal"; value: boolean | null; start: number };

const MAX_DEPTH = 512;

/** Parse JSONC text as deno does (throws {@linkcode JsoncError}). */
export function parseJsonc(text: string, options: JsoncOptions = {}): unknown {
  const p = new Parser(text);
  const first = p.next();
  if (first === null) return null;
  const value = p.value(first, 0, options.uniqueRootKeys === true);
  const extra = p.next();
  if (extra !== null) {
    throw p.error("Text cannot contain more than one JSON value", extra.start);
  }
  return value;
}

class Parser {
  #text: string;
  #i = 0;

  constructor(text: string) {
    this.#text = text;
  }

  error(message: string, at: number): JsoncError {
    return new JsoncError(message, this.#text, at);
  }

  /** The next token that is not a comment, or null at the end. */
  next(): Token | null {
    const t = this.#text;
    for (;;) {
      this.#skipSpace();
      if (this.#i >= t.length) return null;
      const start = this.#i;
      const ch = t[start];
      if ("{}[],:".includes(ch)) {
        this.#i++;
        return { kind: ch as "{", start };
      }
      if (ch === '"' || ch === "'") {
        return { kind: "string", value: this.#string(ch), start };
      }
      if (ch === "/") {
        if (t[start + 1] === "/") {
          const end = t.indexOf("\n", start);
          this.#i = end === -1 ? t.length : end;
          continue;
        }
        if (t[start + 1] === "*") {
          const end = t.indexOf("*/", start + 2);
          if (end === -1) throw this.error("Unterminated comment block", start);
          this.#i = end + 2;
          continue;
        }
        throw this.error("Unexpected token", start);
      }
      if (ch === "-" || ch === "+" || (ch >= "0" && ch <= "9")) {
        return { kind: "number", raw: this.#number(), start };
      }
      for (const [word, value] of LITERALS) {
        const after = String.fromCodePoint(
          t.codePointAt(start + word.length) ?? 0x20,
        );
        if (t.startsWith(word, start) && !isAlphanumeric(after)) {
          this.#i += word.length;
          return { kind: "literal", value, start };
        }
      }
      return { kind: "word", value: this.#word(), start };
    }
  }

  value(tok: Token, depth: number, uniqueKeys = false): unknown {
    switch (tok.kind) {
      case "{":
        return this.#object(depth + 1, uniqueKeys, tok.start);
      case "[":
        return this.#array(depth + 1, tok.start);
      case "string":
        return tok.value;
      case "number":
        return numberValue(tok.raw);
      case "literal":
        return tok.value;
      case "word":
        throw this.error("Unexpected word", tok.start);
      case "]":
        throw this.error("Unexpected close bracket", tok.start);
      case "}":
        throw this.error("Unexpected close brace", tok.start);
      case ",":
        throw this.error("Unexpected comma", tok.start);
      case ":":
        throw this.error("Unexpected colon", tok.start);
    }
  }

  #object(depth: number, uniqueKeys: boolean, open: number): unknown {
    if (depth > MAX_DEPTH) throw this.error("Maximum nesting depth", open);
    const out: Record<string, unknown> = {};
    let tok = this.next();
    for (;;) {
      if (tok === null) throw this.error("Unterminated object", open);
      if (tok.kind === "}") return out;
      let key: string;
      if (tok.kind === "string" || tok.kind === "word") key = tok.value;
      else if (tok.kind === "number") key = tok.raw;
      else throw this.error("Unexpected token in object", tok.start);
      const colon = this.next();
      if (colon?.kind !== ":") {
        throw this.error(
          "Expected colon after the string or word in object property",
          colon?.start ?? this.#text.length,
        );
      }
      const v = this.next();
      if (v === null) throw this.error("Expected value", this.#text.length);
      if (uniqueKeys && Object.hasOwn(out, key)) {
        throw this.error(`duplicate field \`${key}\``, tok.start);
      }
      // defineProperty: a "__proto__" key is an ordinary key, as in JSON.parse.
      Object.defineProperty(out, key, {
        value: this.value(v, depth),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      tok = this.next();
      if (tok?.kind === ",") {
        tok = this.next();
        if (tok !== null && tok.kind !== "}" && !isKey(tok)) {
          throw this.error("Unexpected token in object", tok.start);
        }
      } else if (tok !== null && tok.kind !== "}" && !isKey(tok)) {
        throw this.error("Unexpected token in object", tok.start);
      }
    }
  }

  #array(depth: number, open: number): unknown[] {
    if (depth > MAX_DEPTH) throw this.error("Maximum nesting depth", open);
    const out: unknown[] = [];
    let tok = this.next();
    for (;;) {
      if (tok === null) throw this.error("Unterminated array", open);
      if (tok.kind === "]") return out;
      out.push(this.value(tok, depth));
      tok = this.next();
      if (tok?.kind === ",") tok = this.next();
    }
  }

  #skipSpace(): void {
    const t = this.#text;
    while (this.#i < t.length) {
      if (isSpace(t[this.#i])) this.#i++;
      else return;
    }
  }

  #string(quote: string): string {
    const t = this.#text;
    const start = this.#i;
    let i = start + 1;
    let out = "";
    let from = i;
    for (;;) {
      if (i >= t.length) throw this.error("Unterminated string literal", start);
      const ch = t[i];
      if (ch === quote) break;
      if (ch !== "\\") {
        i++;
        continue;
      }
      out += t.slice(from, i);
      const esc = t[i + 1];
      if (esc === undefined) {
        throw this.error("Unterminated string literal", start);
      }
      if (esc === "'" && quote === '"') {
        throw this.error("Invalid escape in double quote string", i);
      }
      if (esc === '"' && quote === "'") {
        throw this.error("Invalid escape in single quote string", i);
      }
      if (esc === "u") {
        const [char, next] = this.#unicodeEscape(i);
        out += char;
        i = next;
      } else if (esc in ESCAPES) {
        out += ESCAPES[esc];
        i += 2;
      } else {
        throw this.error("Invalid escape", i);
      }
      from = i;
    }
    this.#i = i + 1;
    return out + t.slice(from, i);
  }

  /** `\uXXXX` (a surrogate pair must be complete) at `at`; returns the char and the next index. */
  #unicodeEscape(at: number): [string, number] {
    const t = this.#text;
    const hex = (i: number): number => {
      const digits = t.slice(i, i + 4);
      if (!/^[0-9a-fA-F]{4}$/.test(digits)) {
        throw this.error("Expected four hex digits", at);
      }
      return parseInt(digits, 16);
    };
    const high = hex(at + 2);
    if (high >= 0xdc00 && high <= 0xdfff) {
      throw this.error("Invalid unicode escape sequence", at);
    }
    if (high < 0xd800 || high > 0xdbff) {
      return [String.fromCharCode(high), at + 6];
    }
    if (t[at + 6] !== "\\" || t[at + 7] !== "u") {
      throw this.error("Invalid unicode escape sequence", at);
    }
    const low = hex(at + 8);
    if (low < 0xdc00 || low > 0xdfff) {
      throw this.error("Invalid unicode escape sequence", at);
    }
    return [String.fromCharCode(high, low), at + 12];
  }

  #number(): string {
    const t = this.#text;
    const start = this.#i;
    let i = start;
    if (t[i] === "+" || t[i] === "-") i++;
    const digit = (k: number) => t[k] >= "0" && t[k] <= "9";
    if (t[i] === "0") {
      i++;
      if (t[i] === "x" || t[i] === "X") {
        i++;
        if (!/[0-9a-fA-F]/.test(t[i] ?? "")) {
          throw this.error("Expected digit", i);
        }
        while (/[0-9a-fA-F]/.test(t[i] ?? "")) i++;
        this.#i = i;
        return t.slice(start, i);
      }
    } else if (digit(i)) {
      while (digit(i)) i++;
    } else {
      throw this.error("Expected digit following negative sign", i);
    }
    if (t[i] === ".") {
      i++;
      if (!digit(i)) throw this.error("Expected digit", i);
      while (digit(i)) i++;
    }
    if (t[i] === "e" || t[i] === "E") {
      i++;
      if (t[i] === "+" || t[i] === "-") i++;
      if (!digit(i)) {
        throw this.error("Expected plus, minus, or digit in number literal", i);
      }
      while (digit(i)) i++;
    }
    this.#i = i;
    return t.slice(start, i);
  }

  /** A run of letters, digits, `-` and `_` (an unquoted key). */
  #word(): string {
    const t = this.#text;
    const start = this.#i;
    let i = start;
    while (i < t.length) {
      const ch = String.fromCodePoint(t.codePointAt(i)!);
      if (isSpace(ch) || ch === ":") break;
      if (!isAlphanumeric(ch) && ch !== "-" && ch !== "_") {
        throw this.error("Unexpected token", start);
      }
      i += ch.length;
    }
    if (i === start) throw this.error("Unexpected token", start);
    this.#i = i;
    return t.slice(start, i);
  }
}

const LITERALS: [string, boolean | null][] = [
  ["true", true],
  ["false", false],
  ["null", null],
];

const ESCAPES: Record<string, string> = {
  '"': '"',
  "'": "'",
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

/** Rust's `char::is_whitespace` (Unicode White_Space; not U+FEFF, unlike `\s`). */
function isSpace(ch: string): boolean {
  return /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/
    .test(ch);
}

/** Rust's `char::is_alphanumeric`. */
function isAlphanumeric(ch: string): boolean {
  return /^[\p{Alphabetic}\p{N}]$/u.test(ch);
}

function isKey(tok: Token): boolean {
  return tok.kind === "string" || tok.kind === "word" || tok.kind === "number";
}

function numberValue(raw: string): number {
  const sign = raw.startsWith("-") ? -1 : 1;
  const body = raw.replace(/^[+-]/, "");
  if (/^0[xX]/.test(body)) return sign * parseInt(body.slice(2), 16);
  return sign * Number(body);
}
