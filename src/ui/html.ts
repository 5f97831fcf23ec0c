/**
 * HTML building with escaping by default: `html\`<td>${value}</td>\``
 * escapes every interpolated value unless it is already {@linkcode Html}
 * (built by `html` itself or marked with {@linkcode raw} by code that
 * escaped it). Nothing from the store reaches a page unescaped.
 * @module
 */

/** A fragment of markup that is safe to put in a page as is. */
export class Html {
  /** The markup. */
  readonly value: string;
  /** Wrap markup that is already safe. */
  constructor(value: string) {
    this.value = value;
  }
  /** The markup. */
  toString(): string {
    return this.value;
  }
}

/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** A value that may go into a template. */
export type Part =
  | Html
  | string
  | number
  | boolean
  | null
  | undefined
  | Part[];

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return "";
  if (part instanceof Html) return part.value;
  if (Array.isArray(part)) return part.map(render).join("");
  return escapeHtml(String(part));
}

/** Build markup, escaping every interpolated value that is not {@linkcode Html}. */
export function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  let out = strings[0];
  for (let i = 0; i < parts.length; i++) {
    out += render(parts[i]) + strings[i + 1];
  }
  return new Html(out);
}

/** Mark markup as safe (only for text this code escaped itself). */
export function raw(markup: string): Html {
  return new Html(markup);
}

/**
 * JSON for a `<script type="application/json">` block: `<`, `>` and `&`
 * are escaped so no value can close the element or start a comment.
 */
export function jsonBlock(id: string, value: unknown): Html {
  const json = JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return raw(
    `<script type="application/json" id="${escapeHtml(id)}">${json}</script>`,
  );
}

/** A query string from `params`, skipping empty values (leading `?`, or ""). */
export function queryString(
  params: Record<string, string | number | null | undefined>,
): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}
