/**
 * Terminal output to HTML: SGR colours and styles become `<span>`s with
 * classes (the page's CSP allows no inline styles, so 24-bit colours map to
 * the nearest of the 256 xterm colours); every other escape sequence (cursor
 * moves, erases, OSC titles and links) and control character is dropped,
 * and all text is escaped. A carriage return overwrites its line, as in a
 * terminal, so progress bars show their last state.
 * @module
 */
import { escapeHtml } from "./html.ts";

/** SGR state carried from one line (or chunk) to the next. */
export interface SgrState {
  fg: number | null;
  bg: number | null;
  /** Bit flags: bold 1, dim 2, italic 4, underline 8, inverse 16, strike 32. */
  flags: number;
}

/** The state of a fresh terminal. */
export function initialState(): SgrState {
  return { fg: null, bg: null, flags: 0 };
}

const BOLD = 1, DIM = 2, ITALIC = 4, UNDERLINE = 8, INVERSE = 16, STRIKE = 32;
const FLAG_CLASSES: [number, string][] = [
  [BOLD, "b"],
  [DIM, "d"],
  [ITALIC, "i"],
  [UNDERLINE, "u"],
  [STRIKE, "s"],
];

/** The state as a short string (for resuming a stream): `fg.bg.flags`. */
export function encodeState(s: SgrState): string {
  return `${s.fg ?? ""}.${s.bg ?? ""}.${s.flags}`;
}

/** Parse {@linkcode encodeState}'s output; anything else is the initial state. */
export function decodeState(text: string | null | undefined): SgrState {
  const m = text?.match(/^(\d{0,3})\.(\d{0,3})\.(\d{1,2})$/);
  if (!m) return initialState();
  const color = (v: string) => v === "" || Number(v) > 255 ? null : Number(v);
  return { fg: color(m[1]), bg: color(m[2]), flags: Number(m[3]) & 63 };
}

/**
 * Render `text` (whole lines, or a trailing partial line) starting in
 * `state`. Returns the HTML and the state after it.
 */
export function renderAnsi(
  text: string,
  state: SgrState = initialState(),
): { html: string; state: SgrState } {
  let s = { ...state };
  let out = "";
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith("\r")) line = line.slice(0, -1);
    // Overwritten parts still change the colours, but are not shown.
    const parts = line.split("\r");
    for (let p = 0; p < parts.length - 1; p++) {
      s = renderSegment(parts[p], s).state;
    }
    const last = renderSegment(parts[parts.length - 1], s);
    s = last.state;
    out += last.html;
    if (i < lines.length - 1) out += "\n";
  }
  return { html: out, state: s };
}

// CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other ESC sequences, and
// C0 controls other than tab.
const TOKEN =
  // deno-lint-ignore no-control-regex
  /\x1b\[([0-9;:?<=>]*)[ -\/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -\/]*[0-~]?|[\x00-\x08\x0b-\x1f\x7f]/g;

/** Text without escape sequences and control characters (tab kept). */
export function stripAnsi(text: string): string {
  return text.replace(new RegExp(TOKEN.source, "g"), "");
}

function renderSegment(
  text: string,
  state: SgrState,
): { html: string; state: SgrState } {
  let s = state;
  let out = "";
  let at = 0;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m !== null; m = TOKEN.exec(text)) {
    if (m.index > at) out += span(text.slice(at, m.index), s);
    at = m.index + m[0].length;
    if (m[2] === "m" && !/[?<=>]/.test(m[1])) s = applySgr(m[1], s);
  }
  if (at < text.length) out += span(text.slice(at), s);
  return { html: out, state: s };
}

function span(text: string, s: SgrState): string {
  const classes = classesOf(s);
  const escaped = escapeHtml(text);
  return classes ? `<span class="${classes}">${escaped}</span>` : escaped;
}

function classesOf(s: SgrState): string {
  if (s.fg === null && s.bg === null && s.flags === 0) return "";
  const c: string[] = [];
  let fg = s.fg;
  let bg = s.bg;
  if (s.flags & INVERSE) {
    [fg, bg] = [bg, fg];
    if (fg === null) c.push("fr");
    if (bg === null) c.push("gr");
  }
  if (fg !== null) c.push(`f${fg}`);
  if (bg !== null) c.push(`g${bg}`);
  for (const [bit, name] of FLAG_CLASSES) if (s.flags & bit) c.push(name);
  return c.join(" ");
}

/** Apply one SGR parameter list (`1;31`, `38;5;208`, `38;2;r;g;b`, ``). */
export function applySgr(params: string, state: SgrState): SgrState {
  const s = { ...state };
  const codes = params === ""
    ? [0]
    : params.split(/[;:]/).map((p) => p === "" ? 0 : Number(p));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) {
      s.fg = null;
      s.bg = null;
      s.flags = 0;
    } else if (c === 1) s.flags |= BOLD;
    else if (c === 2) s.flags |= DIM;
    else if (c === 3) s.flags |= ITALIC;
    else if (c === 4) s.flags |= UNDERLINE;
    else if (c === 7) s.flags |= INVERSE;
    else if (c === 9) s.flags |= STRIKE;
    else if (c === 21 || c === 22) s.flags &= ~(BOLD | DIM);
    else if (c === 23) s.flags &= ~ITALIC;
    else if (c === 24) s.flags &= ~UNDERLINE;
    else if (c === 27) s.flags &= ~INVERSE;
    else if (c === 29) s.flags &= ~STRIKE;
    else if (c >= 30 && c <= 37) s.fg = c - 30;
    else if (c === 39) s.fg = null;
    else if (c >= 40 && c <= 47) s.bg = c - 40;
    else if (c === 49) s.bg = null;
    else if (c >= 90 && c <= 97) s.fg = c - 90 + 8;
    else if (c >= 100 && c <= 107) s.bg = c - 100 + 8;
    else if (c === 38 || c === 48) {
      const { color, used } = extendedColor(codes, i + 1);
      i += used;
      if (color !== null) {
        if (c === 38) s.fg = color;
        else s.bg = color;
      }
    }
  }
  return s;
}

/** `5;n` or `2;r;g;b` after a 38/48; returns the colour and codes consumed. */
function extendedColor(
  codes: number[],
  at: number,
): { color: number | null; used: number } {
  if (codes[at] === 5) {
    const n = codes[at + 1];
    return {
      color: Number.isInteger(n) && n >= 0 && n <= 255 ? n : null,
      used: 2,
    };
  }
  if (codes[at] === 2) {
    const [r, g, b] = codes.slice(at + 1, at + 4);
    if ([r, g, b].every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
      return { color: nearest256(r, g, b), used: 4 };
    }
    return { color: null, used: 4 };
  }
  return { color: null, used: 0 };
}

const LEVELS = [0, 95, 135, 175, 215, 255];

/** The xterm-256 colour (16-255) nearest to an RGB colour. */
export function nearest256(r: number, g: number, b: number): number {
  const level = (v: number) => {
    let best = 0;
    for (let i = 1; i < LEVELS.length; i++) {
      if (Math.abs(LEVELS[i] - v) < Math.abs(LEVELS[best] - v)) best = i;
    }
    return best;
  };
  const [ri, gi, bi] = [level(r), level(g), level(b)];
  const cube = 16 + 36 * ri + 6 * gi + bi;
  const dist = (x: number, y: number, z: number) =>
    (x - r) ** 2 + (y - g) ** 2 + (z - b) ** 2;
  const cubeDist = dist(LEVELS[ri], LEVELS[gi], LEVELS[bi]);
  const avg = (r + g + b) / 3;
  const gi2 = Math.max(0, Math.min(23, Math.round((avg - 8) / 10)));
  const gray = 8 + 10 * gi2;
  return dist(gray, gray, gray) < cubeDist ? 232 + gi2 : cube;
}

/** The CSS colour of xterm colour `n` (0-255) on a dark background. */
export function xtermColor(n: number): string {
  if (n < 16) return BASE16[n];
  if (n < 232) {
    const i = n - 16;
    const c = [Math.floor(i / 36), Math.floor(i / 6) % 6, i % 6].map((v) =>
      LEVELS[v].toString(16).padStart(2, "0")
    );
    return `#${c.join("")}`;
  }
  const v = (8 + 10 * (n - 232)).toString(16).padStart(2, "0");
  return `#${v}${v}${v}`;
}

const BASE16 = [
  "#3b4048",
  "#e06c75",
  "#98c379",
  "#e5c07b",
  "#61afef",
  "#c678dd",
  "#56b6c2",
  "#d7dae0",
  "#7f848e",
  "#ff7b86",
  "#b5e890",
  "#ffd68a",
  "#7ec3ff",
  "#de9bff",
  "#6fd6e3",
  "#ffffff",
];

/** CSS rules for the colour classes {@linkcode renderAnsi} emits. */
export function ansiCss(): string {
  const rules: string[] = [];
  for (let n = 0; n < 256; n++) {
    const c = xtermColor(n);
    rules.push(`.log .f${n}{color:${c}}.log .g${n}{background:${c}}`);
  }
  rules.push(
    ".log .fr{color:var(--log-bg)}.log .gr{background:var(--log-fg)}",
    ".log .b{font-weight:700}.log .d{opacity:.65}.log .i{font-style:italic}",
    ".log .u{text-decoration:underline}.log .s{text-decoration:line-through}",
  );
  return rules.join("\n");
}
