/**
 * Tables that fit: column widths fitted to the terminal (or a forced
 * width), the flexible column cut with an ellipsis, never a wrapped row.
 * Plain aligned columns for pipes, a cli-table3 box on a terminal (loaded
 * only here, and only for a box).
 * @module
 */

/** How to lay out one table. */
export interface TableOptions {
  /**
   * The width every line must fit in; null for no limit (a pipe without
   * COLUMNS: nothing is cut, so `cut`/`awk` see whole values).
   */
  width: number | null;
  /** Draw a box (a terminal) instead of plain aligned columns. */
  boxed: boolean;
  /** Colour the box's borders and the header. */
  color: boolean;
  /**
   * The columns that give up width first, most willing first (by index).
   * Default: the widest column. Other columns shrink only when these are
   * down to their minimum.
   */
  flex?: number[];
  /** Columns cut at the start instead of the end (a sparkline keeps its newest bars). */
  cutStart?: number[];
  /** Columns cut only when nothing else is left to cut (ids people copy). */
  keep?: number[];
}

/** The narrowest a flexible column is cut to while others still have room. */
const FLEX_MIN = 12;
/** The narrowest other columns are cut to (or their header) while keep columns still can give. */
const OTHER_MIN = 10;
/** How far a `keep` column is cut before other columns lose content. */
const KEEP_SOFT = 24;
/** The narrowest any column is cut to before whole lines are clipped. */
const COLUMN_MIN = 3;
const ELLIPSIS = "…";

// deno-lint-ignore no-control-regex
const SGR = /\x1b\[[0-9;]*m/g;
// deno-lint-ignore no-control-regex
const SGR_SPLIT = /(\x1b\[[0-9;]*m)/;

/**
 * The width of `text` in terminal cells: colour codes count 0, East Asian
 * wide characters and emoji 2, combining marks 0, everything else 1.
 */
export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text.replace(SGR, "")) w += charWidth(ch.codePointAt(0)!);
  return w;
}

function charWidth(cp: number): number {
  if (cp < 0x300) return 1;
  if (
    (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0x20d0 && cp <= 0x20ff)
  ) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd)
  ) return 2;
  return 1;
}

/**
 * Cut `text` to at most `width` cells, ending (or, with `fromStart`,
 * starting) with an ellipsis. Colour codes are kept and closed, so a cut
 * never leaves the terminal coloured.
 */
export function truncate(
  text: string,
  width: number,
  options?: { fromStart?: boolean },
): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return "";
  if (options?.fromStart) {
    const chars = [...text.replace(SGR, "")];
    let out = "";
    let w = 0;
    for (let i = chars.length - 1; i >= 0; i--) {
      const cw = charWidth(chars[i].codePointAt(0)!);
      if (w + cw > width - 1) break;
      out = chars[i] + out;
      w += cw;
    }
    return ELLIPSIS + out;
  }
  let out = "";
  let w = 0;
  let coloured = false;
  // Split into colour codes and text, keeping the codes.
  for (const part of text.split(SGR_SPLIT)) {
    if (part.startsWith("\x1b[")) {
      out += part;
      coloured = true;
      continue;
    }
    for (const ch of part) {
      const cw = charWidth(ch.codePointAt(0)!);
      if (w + cw > width - 1) {
        return out + ELLIPSIS + (coloured ? "\x1b[0m" : "");
      }
      out += ch;
      w += cw;
    }
  }
  return out;
}

/**
 * Column widths for `natural` (each column's widest cell) so that the
 * table, with `overhead` cells of separators, fits in `width`. Width is
 * taken in phases, each only as much as still needed: the flex columns (in
 * order) down to FLEX_MIN; the `keep` columns (names and ids people read
 * or copy) down to KEEP_SOFT; the other columns, widest first, down to
 * OTHER_MIN or their header's width; the flex columns down to COLUMN_MIN;
 * the keep columns down to FLEX_MIN; then the others and finally the keep
 * columns down to COLUMN_MIN. The result can still be too wide
 * only for absurd widths; the renderer then clips whole lines.
 */
export function fitWidths(
  natural: number[],
  options: {
    width: number;
    overhead: number;
    flex: number[];
    keep?: number[];
    header?: number[];
  },
): number[] {
  const widths = [...natural];
  const keep = new Set(options.keep ?? []);
  const flex = options.flex.filter((c) => !keep.has(c));
  const others = widths.map((_, i) => i).filter((i) =>
    !keep.has(i) && !flex.includes(i)
  );
  let excess = widths.reduce((a, b) => a + b, 0) + options.overhead -
    options.width;
  const header = options.header ?? widths.map(() => COLUMN_MIN);
  const kept = [...keep];
  const phases: [number[], (col: number) => number, boolean][] = [
    [flex, () => FLEX_MIN, true],
    [kept, () => KEEP_SOFT, false],
    [others, (c) => Math.max(OTHER_MIN, header[c]), false],
    [flex, () => COLUMN_MIN, true],
    [kept, () => FLEX_MIN, false],
    [others, () => COLUMN_MIN, false],
    [kept, () => COLUMN_MIN, false],
  ];
  for (const [cols, floorOf, inOrder] of phases) {
    if (inOrder) {
      for (const c of cols) {
        if (excess <= 0) break;
        const cut = Math.max(
          0,
          Math.min(excess, widths[c] - Math.min(natural[c], floorOf(c))),
        );
        widths[c] -= cut;
        excess -= cut;
      }
      continue;
    }
    while (excess > 0) {
      let widest = -1;
      for (const c of cols) {
        if (widths[c] <= floorOf(c)) continue;
        if (widest === -1 || widths[c] > widths[widest]) widest = c;
      }
      if (widest === -1) break;
      widths[widest]--;
      excess--;
    }
  }
  return widths;
}

/** Render `head` and `rows` as lines that fit `options.width`. */
export async function renderTable(
  head: string[],
  rows: string[][],
  options: TableOptions,
): Promise<string> {
  const all = [head, ...rows];
  const n = head.length;
  const natural = Array.from(
    { length: n },
    (_, i) => Math.max(...all.map((r) => displayWidth(r[i] ?? ""))),
  );
  // Plain: two spaces between columns. Box: "│ a │ b │" is 3 per column + 1.
  const overhead = options.boxed ? 3 * n + 1 : 2 * (n - 1);
  const flex = options.flex ?? [natural.indexOf(Math.max(...natural))];
  const widths = options.width === null ? natural : fitWidths(natural, {
    width: options.width,
    overhead,
    flex,
    keep: options.keep,
    header: head.map(displayWidth),
  });
  const cutStart = new Set(options.cutStart ?? []);
  const fitted = all.map((r) =>
    r.map((c, i) =>
      truncate(c ?? "", widths[i], { fromStart: cutStart.has(i) })
    )
  );
  const text = options.boxed
    ? await boxed(fitted, widths, options.color)
    : plain(fitted, widths);
  if (options.width === null) return text;
  const max = options.width;
  return text.split("\n").map((l) => truncate(l, max)).join("\n");
}

function plain(rows: string[][], widths: number[]): string {
  return rows.map((r) =>
    r.map((c, i) =>
      i === r.length - 1 ? c : c + " ".repeat(widths[i] - displayWidth(c))
    ).join("  ").trimEnd()
  ).join("\n");
}

async function boxed(
  rows: string[][],
  widths: number[],
  color: boolean,
): Promise<string> {
  const spec = "cli-table3";
  const mod = await import(spec);
  const Table = mod.default ?? mod;
  const [head, ...body] = rows;
  const table = new Table({
    head: head.map((h) => color ? `\x1b[1m${h}\x1b[22m` : h),
    colWidths: widths.map((w) => w + 2),
    wordWrap: false,
    truncate: ELLIPSIS,
    style: { head: [], border: color ? ["gray"] : [], compact: true },
    chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
  });
  for (const r of body) table.push(r);
  return table.toString();
}

/**
 * The width tables must fit: `COLUMNS` when it is a positive number (it
 * wins, as for GNU ls; tests force widths with it), else the terminal's
 * width when stdout is one, else null (a pipe: no limit).
 */
export function outputWidth(stdoutIsTty: boolean): number | null {
  const forced = Number(Deno.env.get("COLUMNS"));
  if (Number.isInteger(forced) && forced > 0) return forced;
  if (!stdoutIsTty) return null;
  try {
    const { columns } = Deno.consoleSize();
    return columns > 0 ? columns : 80;
  } catch {
    return 80;
  }
}
