/**
 * Log capture: each chunk a child writes is passed on to the terminal as is
 * (colours, partial lines, binary) and appended byte-exact to the run's log,
 * stdout and stderr interleaved in arrival order.
 * @module
 */
import { describeFsError } from "../store/paths.ts";

/** Something with a synchronous write(2). */
type SyncWriter = { writeSync(p: Uint8Array): number };

/** A synchronous byte sink that stops quietly once it fails (a closed terminal). */
export class TerminalSink {
  #w: SyncWriter | (() => SyncWriter);
  #broken = false;

  /**
   * Wrap `w` (Deno.stdout or Deno.stderr, or what {@linkcode stdioWriter}
   * gives), or a function that makes it on the first write: a task that
   * prints nothing then costs no reopening of stdout.
   */
  constructor(w: SyncWriter | (() => SyncWriter)) {
    this.#w = w;
  }

  /** Write all of `bytes`; after the first failure, drop further output. */
  write(bytes: Uint8Array): void {
    if (this.#broken) return;
    try {
      if (typeof this.#w === "function") this.#w = this.#w();
      const w = this.#w;
      let off = 0;
      while (off < bytes.length) off += w.writeSync(bytes.subarray(off));
    } catch {
      // The reader went away (a closed pipe or terminal); the log still gets everything.
      this.#broken = true;
    }
  }
}

/**
 * A writer for stdout or stderr whose `writeSync` is one plain write(2).
 * When the stream is a pipe or a terminal it is reopened through
 * `/dev/stdout` / `/dev/stderr`: a file description of our own, which stays
 * blocking even if another program sets O_NONBLOCK on the shared one (a
 * task on the same terminal can). Deno's own stdout cannot retry a full
 * non-blocking pipe exactly: it buffers part of a write and then reports
 * EAGAIN from its flush, so a retry would repeat bytes. Anything else (a
 * regular file, whose offset a reopen would not share; a socket) keeps
 * Deno's handle.
 */
export function stdioWriter(
  which: "stdout" | "stderr",
): { writeSync(p: Uint8Array): number } {
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

/** The run's log file, opened for appending with mode 0600. */
export class LogSink {
  #file: Deno.FsFile | null;
  /** The first write error, if any (the run goes on; the record notes it). */
  error: string | null = null;

  /**
   * Open (creating if needed) the log at `path` for appending; with null,
   * a sink that keeps nothing (a run that could make no log at all).
   */
  constructor(path: string | null) {
    this.#file = path === null ? null : Deno.openSync(path, {
      write: true,
      append: true,
      create: true,
      mode: 0o600,
    });
  }

  /** Append all of `bytes`. */
  write(bytes: Uint8Array): void {
    if (!this.#file || this.error) return;
    try {
      let off = 0;
      while (off < bytes.length) {
        off += this.#file.writeSync(bytes.subarray(off));
      }
    } catch (err) {
      this.error = `Writing the log failed: ${describeFsError(err)}`;
    }
  }

  /**
   * Take the run-start lock (store/run_start.ts) on this file: processes
   * of the run that find its scope missing wait until it is released.
   */
  holdStartLock(): void {
    try {
      this.#file?.lockSync(true);
    } catch {
      // No flock here: nobody can wait on it either, and they look again.
    }
  }

  /** Release the run-start lock (a no-op when it is not held). */
  releaseStartLock(): void {
    try {
      this.#file?.unlockSync();
    } catch {
      // closed, or never locked
    }
  }

  /** Close the file (which also releases the run-start lock). */
  close(): void {
    try {
      this.#file?.close();
    } catch {
      // already closed
    }
    this.#file = null;
  }
}

/** A running copy loop from one child pipe; `cancel` stops it early. */
export interface Pump {
  /** Resolves when the pipe reaches EOF or the pump is cancelled. */
  done: Promise<void>;
  /** Whether EOF was reached. */
  finished(): boolean;
  /** Stop reading (a process outside the group still holds the pipe open). */
  cancel(): Promise<void>;
}

/** Copy `stream` to `log` and, when given, to `terminal`, chunk by chunk. */
export function pump(
  stream: ReadableStream<Uint8Array>,
  sinks: { log: LogSink; terminal?: TerminalSink },
): Pump {
  const reader = stream.getReader();
  let eof = false;
  const done = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        sinks.terminal?.write(value);
        sinks.log.write(value);
      }
      eof = true;
    } catch {
      // cancelled or the pipe broke; what arrived is already written
    } finally {
      try {
        reader.releaseLock();
      } catch {
        // a pending read after cancel
      }
    }
  })();
  return {
    done,
    finished: () => eof,
    cancel: async () => {
      try {
        await reader.cancel();
      } catch {
        // already closed
      }
      await done;
    },
  };
}
