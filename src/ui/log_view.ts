/**
 * A run's log for the dashboard: the tail rendered to HTML (a page never
 * reads more than `maxBytes` of a log, however big), the bytes after an
 * offset for live following, and a search through the whole file that
 * streams it (constant memory).
 * @module
 */
import { isValidLogId, logPath } from "../store/paths.ts";
import {
  encodeState,
  initialState,
  renderAnsi,
  type SgrState,
  stripAnsi,
} from "./ansi.ts";

/** How much of a log the run page shows by default (the end of it). */
export const DEFAULT_TAIL_BYTES = 256 * 1024;
/** A partial line longer than this is shown as a line of its own. */
const MAX_PARTIAL = 64 * 1024;
const NL = 0x0a;
const decoder = new TextDecoder();

/** The rendered end of a log. */
export interface LogTail {
  /** The file's size when read. */
  size: number;
  /** Where the rendered part starts (0: the whole log is shown). */
  from: number;
  /** HTML of the complete lines. */
  html: string;
  /** HTML of the last line when it has no newline yet ("" when none). */
  partial: string;
  /** Where the partial line starts: a live stream resumes here. */
  resume: number;
  /** The SGR state at `resume`, encoded. */
  state: string;
}

/** The local file of a log id, or null for an id that names no file of ours. */
export function logFile(dbPath: string, logId: string | null): string | null {
  return logId && isValidLogId(logId) ? logPath(dbPath, logId) : null;
}

/**
 * Read and render the last `maxBytes` of the log at `path` (from a line
 * start); null when the file does not exist.
 */
export async function readLogTail(
  path: string,
  maxBytes: number = DEFAULT_TAIL_BYTES,
): Promise<LogTail | null> {
  const file = await openOrNull(path);
  if (file === null) return null;
  try {
    const size = (await file.stat()).size;
    let from = Math.max(0, size - maxBytes);
    const bytes = await readAt(file, from, size - from);
    let start = 0;
    if (from > 0) {
      // Start at a line start, so no line is shown cut (unless it is huge).
      const nl = bytes.indexOf(NL);
      if (nl !== -1 && nl < bytes.length - 1) start = nl + 1;
      from += start;
    }
    const chunk = new LogChunker(from, initialState());
    const out = chunk.push(bytes.subarray(start));
    return {
      size,
      from,
      html: out.html,
      partial: out.partial,
      resume: chunk.resume,
      state: encodeState(chunk.state),
    };
  } finally {
    file.close();
  }
}

/**
 * Bytes of the log at `path` from `offset` to its end (at most `max`);
 * an empty array when there is nothing new, null when there is no file.
 */
export async function readLogFrom(
  path: string,
  offset: number,
  max = 4 * 1024 * 1024,
): Promise<Uint8Array | null> {
  const file = await openOrNull(path);
  if (file === null) return null;
  try {
    const size = (await file.stat()).size;
    if (size <= offset) return new Uint8Array(0);
    return await readAt(file, offset, Math.min(size - offset, max));
  } finally {
    file.close();
  }
}

/** The file at `path` opened for reading, or null when it does not exist. */
async function openOrNull(path: string): Promise<Deno.FsFile | null> {
  try {
    return await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

async function readAt(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  await file.seek(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await file.read(out.subarray(got));
    if (n === null) break;
    got += n;
  }
  return out.subarray(0, got);
}

/**
 * Turns log bytes, as they arrive, into HTML of complete lines plus the
 * current partial line. Tracks the byte offset where the partial line
 * starts and the SGR state there, so a stream can resume exactly.
 */
export class LogChunker {
  /** Byte offset of the first byte not yet rendered as a complete line. */
  resume: number;
  /** SGR state at `resume`. */
  state: SgrState;
  #pending: Uint8Array = new Uint8Array(0);

  /** Start at byte `offset` in `state`. */
  constructor(offset: number, state: SgrState) {
    this.resume = offset;
    this.state = state;
  }

  /** Add bytes; returns HTML of the lines they completed and of the partial line. */
  push(bytes: Uint8Array): { html: string; partial: string } {
    let data = bytes;
    if (this.#pending.length > 0) {
      data = new Uint8Array(this.#pending.length + bytes.length);
      data.set(this.#pending);
      data.set(bytes, this.#pending.length);
    }
    let cut = data.lastIndexOf(NL) + 1;
    if (cut === 0 && data.length > MAX_PARTIAL) {
      cut = utf8Boundary(data, MAX_PARTIAL);
    }
    let html = "";
    if (cut > 0) {
      const text = decoder.decode(data.subarray(0, cut));
      const done = renderAnsi(
        text.endsWith("\n") ? text.slice(0, -1) : text,
        this.state,
      );
      html = done.html + "\n";
      this.state = done.state;
      this.resume += cut;
    }
    this.#pending = data.slice(cut);
    const partial = this.#pending.length > 0
      ? renderAnsi(decoder.decode(this.#pending), this.state).html
      : "";
    return { html, partial };
  }
}

/** The largest index <= `at` that does not split a UTF-8 sequence. */
function utf8Boundary(data: Uint8Array, at: number): number {
  let i = Math.min(at, data.length);
  while (i > 0 && (data[i] & 0xc0) === 0x80) i--;
  return i || at;
}

/** One line that matched a search. */
export interface LogMatch {
  /** 1-based line number in the whole log. */
  line: number;
  /** The line as HTML (colours kept, escaped). */
  html: string;
  /** The line's text without escape sequences. */
  text: string;
}

/** What a search found. */
export interface LogSearch {
  matches: LogMatch[];
  /** Stopped early: at the match limit or the time limit. */
  truncated: boolean;
  /** Lines read. */
  lines: number;
}

/**
 * Search the whole log at `path` for lines containing `needle`
 * (case-insensitive, escape sequences ignored), streaming the file. Stops
 * after `limit` matches or `timeoutMs` (default 5 s: a search of a huge log
 * says how far it got rather than hold the page). Null when there is no file.
 */
export async function searchLog(
  path: string,
  needle: string,
  options: { limit?: number; timeoutMs?: number } = {},
): Promise<LogSearch | null> {
  const file = await openOrNull(path);
  if (file === null) return null;
  const limit = options.limit ?? 1000;
  const deadline = Date.now() + (options.timeoutMs ?? 5_000);
  const want = needle.toLowerCase();
  const matches: LogMatch[] = [];
  let state = initialState();
  let lineNo = 0;
  let carry = "";
  const text = new TextDecoder();
  const check = (line: string): boolean => {
    lineNo++;
    const rendered = renderAnsi(line, state);
    state = rendered.state;
    const plain = stripAnsi(line);
    if (plain.toLowerCase().includes(want)) {
      matches.push({ line: lineNo, html: rendered.html, text: plain });
    }
    return matches.length >= limit;
  };
  try {
    for await (const chunk of file.readable) {
      const lines = (carry + text.decode(chunk, { stream: true })).split("\n");
      carry = lines.pop() ?? "";
      // A line without newlines for megabytes is searched in slices.
      if (carry.length > MAX_PARTIAL * 16) {
        lines.push(carry);
        carry = "";
      }
      for (const line of lines) {
        if (check(line)) return { matches, truncated: true, lines: lineNo };
      }
      if (Date.now() > deadline) {
        return { matches, truncated: true, lines: lineNo };
      }
    }
    carry += text.decode();
    if (carry !== "" && check(carry)) {
      return { matches, truncated: true, lines: lineNo };
    }
    return { matches, truncated: false, lines: lineNo };
  } finally {
    try {
      file.close();
    } catch {
      // closed by the readable already
    }
  }
}
