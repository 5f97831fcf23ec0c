/**
 * Rendering: JSON, tables (src/cli/table.ts, loaded only when a table is
 * printed), colours (honouring NO_COLOR), durations and relative times.
 * @module
 */
import { lazyImport } from "../lazy_import.ts";
import type { Context } from "./context.ts";

const encoder = new TextEncoder();

/** Write text to stdout (no newline added). */
export function write(text: string): void {
  writeAll(Deno.stdout, encoder.encode(text));
}

/** Write a line to stdout. */
export function println(text = ""): void {
  write(text + "\n");
}

/** Write a line to stderr. */
export function eprintln(text: string): void {
  writeAll(Deno.stderr, encoder.encode(text + "\n"));
}

/** A synchronous byte writer (Deno.stdout, an open file, ...). */
type SyncWriter = { writeSync(p: Uint8Array): number };

/**
 * Write all bytes to a sync writer. Deno.stdout and Deno.stderr are written
 * through {@linkcode ownStdio}, so a full non-blocking pipe or terminal
 * waits instead of failing or repeating bytes.
 */
export function writeAll(w: SyncWriter, bytes: Uint8Array): void {
  const target = w === Deno.stdout
    ? ownStdio("stdout")
    : w === Deno.stderr
    ? ownStdio("stderr")
    : w;
  let off = 0;
  while (off < bytes.length) off += target.writeSync(bytes.subarray(off));
}

const own: { stdout?: SyncWriter; stderr?: SyncWriter } = {};

/**
 * stdout or stderr as a writer whose `writeSync` is one plain write(2). A
 * pipe or terminal is reopened through `/dev/stdout` / `/dev/stderr`: a file
 * description of our own, which stays blocking even when another program
 * set O_NONBLOCK on the shared one (a task on the same terminal can). Deno's
 * own handle cannot retry EAGAIN exactly: it buffers part of a write and
 * then reports the error from its flush, so a retry repeats bytes. Anything
 * else (a regular file, whose offset a reopen would not share; a socket;
 * a closed stream) keeps Deno's handle.
 */
function ownStdio(which: "stdout" | "stderr"): SyncWriter {
  return own[which] ??= reopen(which);
}

function reopen(which: "stdout" | "stderr"): SyncWriter {
  const std = which === "stdout" ? Deno.stdout : Deno.stderr;
  try {
    const info = Deno.statSync(`/dev/${which}`);
    if (info.isFifo || info.isCharDevice) {
      return Deno.openSync(`/dev/${which}`, { write: true });
    }
  } catch {
    // No /dev/stdout, or not reopenable: Deno's handle it is.
  }
  return std;
}

/** What the listings say on a store without runs. */
export const NO_RUNS_YET =
  "No runs recorded yet; stint run <task> or stint exec -- <cmd> records one";

/** Print a value as pretty JSON on stdout. */
export function printJson(value: unknown): void {
  println(JSON.stringify(value, null, 2));
}

/** Whether colour should be used on stdout for this context. */
export function colorEnabled(isTty: boolean): boolean {
  if (Deno.env.get("NO_COLOR")) return false;
  if (Deno.env.get("FORCE_COLOR")) return true;
  return isTty;
}

const CODES: Record<string, [number, number]> = {
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  gray: [90, 39],
  bold: [1, 22],
  dim: [2, 22],
};

/** Wrap text in an ANSI style when `on`. */
export function paint(
  text: string,
  style: keyof typeof CODES,
  on: boolean,
): string {
  if (!on) return text;
  const [a, b] = CODES[style];
  return `\x1b[${a}m${text}\x1b[${b}m`;
}

/** Colour a status word: green for success, red for failure, yellow for running. */
export function paintStatus(status: string, on: boolean): string {
  switch (status) {
    case "succeeded":
    case "completed":
    case "true":
      return paint(status, "green", on);
    case "failed":
    case "lost":
    case "false":
      return paint(status, "red", on);
    case "killed":
      return paint(status, "magenta", on);
    case "running":
      return paint(status, "yellow", on);
    default:
      return paint(status, "gray", on);
  }
}

/** Which columns of a table give up width first (see src/cli/table.ts). */
export interface TableLayout {
  /** Column indexes that are cut first, most willing first (default: the widest). */
  flex?: number[];
  /** Columns cut at their start (a sparkline keeps its newest bars). */
  cutStart?: number[];
  /** Columns cut only when nothing else can give (ids people copy). */
  keep?: number[];
}

/**
 * Print rows as a table that fits the terminal: a boxed cli-table3 table
 * on a TTY, plain aligned columns otherwise (easy to read and to cut/awk),
 * each sized to `COLUMNS` or the terminal's width, the flexible column cut
 * with an ellipsis; a row never wraps. The table code is loaded only here,
 * so commands that print no table (vars get) never pay for it.
 */
export async function printTable(
  ctx: Context,
  head: string[],
  rows: string[][],
  layout: TableLayout = {},
): Promise<void> {
  // Computed: a literal specifier would have Deno walk table.ts on every
  // start-up, since this module is on every command's path.
  const { outputWidth, renderTable } = await lazyImport<
    typeof import("./table.ts")
  >(new URL("./table.ts", import.meta.url));
  println(
    await renderTable(head, rows.map((r) => r.map(safeCell)), {
      width: outputWidth(ctx.stdoutIsTty),
      boxed: ctx.stdoutIsTty,
      color: ctx.color,
      ...layout,
    }),
  );
}

// deno-lint-ignore no-control-regex
const SGR_OR_CONTROL = /(\x1b\[[0-9;]*m)|[\x00-\x1f\x7f-\x9f]/g;
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

function escapeControl(c: string): string {
  if (c === "\n") return "\\n";
  if (c === "\t") return "\\t";
  if (c === "\r") return "\\r";
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

/**
 * A cell as stint built it, made safe for the table: stint's own colour
 * codes stay, every other control character is shown escaped (`\n`,
 * `\x1b`), so no cell can break the table's rows or move the cursor.
 * Text from records goes through {@linkcode plainText} first.
 */
export function safeCell(text: string): string {
  return text.replace(SGR_OR_CONTROL, (m, sgr) => sgr ?? escapeControl(m));
}

/**
 * Text from the store (refs, commands, values, errors, task names; some of
 * it pulled from other hosts) as it may be printed: every control character,
 * colour codes included, shown escaped, so a record cannot colour, hide or
 * spoof what the terminal shows. Apply it before adding stint's own colour.
 */
export function plainText(text: string): string {
  return text.replace(CONTROL, escapeControl);
}

/** A duration in ms as `850ms`, `12.3s`, `4m05s`, `2h03m`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  // Below a minute unless it would print as "60.0s" (59.95 s rounds up).
  if (ms < 59_950) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) {
    return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  }
  return `${Math.floor(s / 3600)}h${
    String(Math.floor((s % 3600) / 60)).padStart(2, "0")
  }m`;
}

/** A time as "just now", "5m ago", "3h ago", "2d ago", or a date for old times. */
export function relativeTime(at: number, now: number = Date.now()): string {
  const d = now - at;
  if (d < 0) return new Date(at).toISOString().slice(0, 16).replace("T", " ");
  if (d < 10_000) return "just now";
  if (d < 60_000) return `${Math.floor(d / 1000)}s ago`;
  if (d < 3_600_000) return `${Math.floor(d / 60_000)}m ago`;
  if (d < 86_400_000) return `${Math.floor(d / 3_600_000)}h ago`;
  if (d < 30 * 86_400_000) return `${Math.floor(d / 86_400_000)}d ago`;
  return new Date(at).toISOString().slice(0, 10);
}
