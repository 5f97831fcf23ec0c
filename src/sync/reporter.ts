/**
 * The sync status reporter (after BucketHead's StatusReporter). Library code
 * talks only to {@linkcode SyncReporter}; the CLI picks the rich reporter
 * (stderr is a TTY) or the silent one (`STINT_QUIET=1`, `--quiet`, or not a
 * TTY). Messages never hold a credential: errors come from
 * {@link BucketError}, whose messages are scrubbed where they are made.
 *
 * Sync speaks once: a routine success says nothing (unless `--verbose`), a
 * failure is one line per kind of failure, a warning one line per warning,
 * and the summary (verbose only) counts what was shown.
 * @module
 */
import { formatBytes } from "../format.ts";

/** What `start` reports: the connection and what the start step did. */
export interface StartInfo {
  /** The endpoint (printable: no user info) or undefined for AWS. */
  endpoint?: string;
  /** The bucket name. */
  bucket: string;
  /** The root prefix. */
  prefix: string;
  /** This store's host id. */
  hostId: string;
  /** What the start step did. */
  action: "restored" | "pulled" | "none";
  /** Rows applied by the restore or pull. */
  records?: number;
  /** Hosts whose changes were applied. */
  hosts?: number;
}

/** What one push (`flush`) did. */
export interface FlushInfo {
  /** Bytes uploaded. */
  bytes: number;
  /** Wall time in ms. */
  durationMs: number;
  /** Records pushed. */
  records: number;
  /** Log blobs uploaded. */
  logs: number;
  /** Whether a snapshot (compaction) was written. */
  snapshot: boolean;
}

/** Progress of a long transfer. */
export interface ProgressInfo {
  /** What is happening (`restore`, `push`, ...). */
  operation: string;
  /** Units done. */
  done: number;
  /** Units in all, when known. */
  total?: number;
  /** What a unit is (`objects`, `bytes`). */
  unit: string;
}

/** What `stop` reports: the session's activity. */
export interface StopInfo {
  /** Pushes that uploaded something. */
  pushes: number;
  /** Bytes uploaded in all. */
  bytes: number;
  /** Records pushed in all. */
  records: number;
  /** Errors reported (all kinds). */
  errors: number;
}

/** Where sync tells the user what it does. */
export interface SyncReporter {
  /** The session is connected (after restore / pull). */
  start(info: StartInfo): void;
  /** A push finished. */
  flush(info: FlushInfo): void;
  /** Something failed; reported once per kind per session. */
  error(err: unknown): void;
  /** A warning (bad configuration value, skipped object); each one once. */
  warn(message: string): void;
  /** A long transfer moved on. */
  progress(info: ProgressInfo): void;
  /** The session ended. */
  stop(info: StopInfo): void;
}

/** The kind of an error, for once-per-kind reporting. */
export function errorKind(err: unknown): string {
  const kind = (err as { kind?: unknown } | null)?.kind;
  return typeof kind === "string" ? kind : "other";
}

/** A one-line message for an error. */
export function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split("\n")[0];
}

/** Reports nothing (quiet, or stderr is not a terminal); counts errors. */
export class SilentReporter implements SyncReporter {
  /** Errors seen, by kind (first message kept). */
  readonly errors: Map<string, string> = new Map();
  /** Warnings seen. */
  readonly warnings: string[] = [];
  /** {@inheritDoc SyncReporter.start} */
  start(_info: StartInfo): void {}
  /** {@inheritDoc SyncReporter.flush} */
  flush(_info: FlushInfo): void {}
  /** {@inheritDoc SyncReporter.error} */
  error(err: unknown): void {
    const kind = errorKind(err);
    if (!this.errors.has(kind)) this.errors.set(kind, errorMessage(err));
  }
  /** {@inheritDoc SyncReporter.warn} */
  warn(message: string): void {
    this.warnings.push(message);
  }
  /** {@inheritDoc SyncReporter.progress} */
  progress(_info: ProgressInfo): void {}
  /** {@inheritDoc SyncReporter.stop} */
  stop(_info: StopInfo): void {}
}

/** Options for {@linkcode RichReporter}. */
export interface RichReporterOptions {
  /** Where lines go (default: stderr). */
  write?: (text: string) => void;
  /** Colour (dim / red / yellow) on. */
  color?: boolean;
  /** Draw progress in place with `\r` (a terminal). */
  live?: boolean;
  /** Also report routine successes: the connection, each push, a summary. */
  verbose?: boolean;
}

/**
 * Writes the session's story to stderr: errors once per kind and warnings
 * once each as they happen; the connection, pushes and a summary only when
 * verbose; a restore (not routine: a new machine) in one line.
 */
export class RichReporter implements SyncReporter {
  #write: (text: string) => void;
  #color: boolean;
  #live: boolean;
  #verbose: boolean;
  #kinds = new Set<string>();
  #warned = new Set<string>();
  #errors = 0;
  #progressShown = false;
  #lastProgress = 0;
  #transfer: { operation: string; startedAt: number } | null = null;

  /** Build a reporter writing to stderr unless told otherwise. */
  constructor(options: RichReporterOptions = {}) {
    this.#write = options.write ?? writeStderr;
    this.#color = options.color ?? false;
    this.#live = options.live ?? false;
    this.#verbose = options.verbose ?? false;
  }

  #line(text: string, style?: "dim" | "red" | "yellow"): void {
    this.#endProgress();
    const codes = { dim: [2, 22], red: [31, 39], yellow: [33, 39] };
    const styled = this.#color && style
      ? `\x1b[${codes[style][0]}m${text}\x1b[${codes[style][1]}m`
      : text;
    this.#write(`${styled}\n`);
  }

  #endProgress(): void {
    if (this.#progressShown) {
      this.#write("\r\x1b[2K");
      this.#progressShown = false;
    }
  }

  /** {@inheritDoc SyncReporter.start} */
  start(info: StartInfo): void {
    const where = `s3://${info.bucket}/${info.prefix}${
      info.endpoint ? ` at ${info.endpoint}` : ""
    }`;
    if (info.action === "restored") {
      this.#line(
        `sync: restored ${info.records ?? 0} records from ${
          info.hosts ?? 0
        } host(s) of ${where} as ${info.hostId}`,
        "dim",
      );
      return;
    }
    if (!this.#verbose) return;
    const pulled = info.action === "pulled" && (info.records ?? 0) > 0
      ? `; pulled ${info.records} records from ${info.hosts ?? 0} host(s)`
      : "";
    this.#line(`sync: ${where} as ${info.hostId}${pulled}`, "dim");
  }

  /** {@inheritDoc SyncReporter.flush} */
  flush(info: FlushInfo): void {
    if (!this.#verbose) return;
    if (info.records === 0 && info.logs === 0 && !info.snapshot) return;
    this.#line(
      `sync: pushed ${info.records} change(s)${
        info.logs ? `, ${info.logs} log(s)` : ""
      }${info.snapshot ? " (snapshot)" : ""}, ${
        formatBytes(info.bytes)
      } in ${info.durationMs} ms`,
      "dim",
    );
  }

  /** {@inheritDoc SyncReporter.error} */
  error(err: unknown): void {
    this.#errors++;
    const kind = errorKind(err);
    if (this.#kinds.has(kind)) return;
    this.#kinds.add(kind);
    this.#line(`sync: ${errorMessage(err)}`, "red");
  }

  /** {@inheritDoc SyncReporter.warn} */
  warn(message: string): void {
    if (this.#warned.has(message)) return;
    this.#warned.add(message);
    this.#line(`sync: ${message}`, "yellow");
  }

  /**
   * {@inheritDoc SyncReporter.progress} Drawn in place on a terminal, at
   * most ten times a second: objects as `n / total`, a transfer of at least
   * {@linkcode PROGRESS_MIN_BYTES} as bytes, rate and time left.
   */
  progress(info: ProgressInfo): void {
    if (!this.#live) return;
    const now = Date.now();
    const bytes = info.unit === "bytes";
    if (bytes && this.#transfer?.operation !== info.operation) {
      this.#transfer = { operation: info.operation, startedAt: now };
    }
    if (bytes && (info.total ?? Infinity) < PROGRESS_MIN_BYTES) return;
    const finished = info.total !== undefined && info.done >= info.total;
    if (finished) {
      if (bytes) this.#transfer = null;
      this.#endProgress();
      return;
    }
    if (now - this.#lastProgress < 100) return;
    this.#lastProgress = now;
    const amount = bytes
      ? transferLine(info, now - (this.#transfer?.startedAt ?? now))
      : `${info.done}${
        info.total !== undefined ? ` / ${info.total}` : ""
      } ${info.unit}`;
    this.#write(`\r\x1b[2Ksync: ${info.operation} ${amount}`);
    this.#progressShown = true;
  }

  /** {@inheritDoc SyncReporter.stop} */
  stop(info: StopInfo): void {
    this.#endProgress();
    if (!this.#verbose || (info.pushes === 0 && this.#errors === 0)) return;
    // Count what was shown: one line per kind, however often it happened.
    const shown = this.#kinds.size;
    const errors = shown === 0
      ? ""
      : `, ${shown} error${shown === 1 ? "" : "s"} shown above${
        this.#errors > shown ? ` (${this.#errors} in all)` : ""
      }`;
    this.#line(
      `sync: ${info.pushes} push(es), ${info.records} change(s), ${
        formatBytes(info.bytes)
      }${errors}`,
      "dim",
    );
  }
}

/** Byte transfers smaller than this show no progress (they are over at once). */
export const PROGRESS_MIN_BYTES = 4 * 1024 * 1024;

/** `12.0 MiB / 50.0 MiB  8.1 MiB/s  5s left`, for a transfer `elapsedMs` in. */
export function transferLine(info: ProgressInfo, elapsedMs: number): string {
  const total = info.total;
  const parts = [
    `${formatBytes(info.done)}${
      total !== undefined ? ` / ${formatBytes(total)}` : ""
    }`,
  ];
  if (elapsedMs >= 200 && info.done > 0) {
    const rate = info.done / (elapsedMs / 1000);
    parts.push(`${formatBytes(Math.round(rate))}/s`);
    if (total !== undefined && total > info.done) {
      parts.push(`${formatEta((total - info.done) / rate)} left`);
    }
  }
  return parts.join("  ");
}

/** Seconds as `42s`, `3m05s`, `1h02m`. */
function formatEta(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) {
    return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  }
  return `${Math.floor(s / 3600)}h${
    String(Math.floor((s % 3600) / 60)).padStart(2, "0")
  }m`;
}

function writeStderr(text: string): void {
  const bytes = new TextEncoder().encode(text);
  try {
    let off = 0;
    while (off < bytes.length) {
      off += Deno.stderr.writeSync(bytes.subarray(off));
    }
  } catch {
    // stderr closed: nothing useful to do.
  }
}

/**
 * Pick the reporter for a command: rich on a TTY stderr unless quiet.
 * `progress: false` keeps progress off the terminal (while a task writes
 * to it).
 */
export function makeReporter(
  options: {
    quiet: boolean;
    stderrIsTty: boolean;
    color?: boolean;
    verbose?: boolean;
    progress?: boolean;
  },
): SyncReporter {
  if (options.quiet || !options.stderrIsTty) return new SilentReporter();
  return new RichReporter({
    color: options.color ?? false,
    live: options.progress ?? true,
    verbose: options.verbose,
  });
}
