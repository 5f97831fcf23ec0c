/**
 * Recording a run's end so that nothing that happens to the store can change
 * the task's exit code (spec section 3): the end is written with retries,
 * and when the store still cannot take it (locked past the busy timeout,
 * full, read-only, corrupt, deleted), it is saved to the journal beside the
 * store with one warning line, and the next stint process records it.
 * @module
 */
import { stdioWriter, TerminalSink } from "./capture.ts";
import { sleep } from "./process_group.ts";
import { describeFsError } from "../store/paths.ts";
import { isBusyError, withStore } from "../store/open.ts";
import type { Execution } from "../store/executions.ts";
import { journalPath } from "../store/journal.ts";
import {
  applyRunEnd,
  journalRunEnd,
  type RunEnd,
} from "../store/run_record.ts";

/** How long failing end writes are retried (other than a lock, which the busy timeout already waited for). */
export const END_RETRY_MS = 2_000;

/** How an end was recorded. */
export interface RecordedEnd {
  /** The finished record, when the store took it. */
  execution: Execution | undefined;
  /** Where it went: the store, the journal, or nowhere (both failed). */
  to: "store" | "journal" | "nowhere";
}

/**
 * Record `end` in the store, retrying with backoff for up to
 * {@linkcode END_RETRY_MS}; if that fails, save it to the journal. Never
 * throws. `warn` gets the one line to show when the store did not take it.
 */
export async function recordRunEnd(
  dbPath: string,
  end: RunEnd,
  options: { warn: (line: string) => void; retryMs?: number },
): Promise<RecordedEnd> {
  const deadline = Date.now() + (options.retryMs ?? END_RETRY_MS);
  let delay = 50;
  let failure: unknown;
  for (;;) {
    try {
      const execution = withStore(
        dbPath,
        (db) => applyRunEnd(db, end),
        { create: false },
      );
      return { execution, to: "store" };
    } catch (err) {
      failure = err;
    }
    // A lock has already been waited out for the whole busy timeout.
    if (isBusyError(failure) || Date.now() + delay > deadline) break;
    await sleep(delay);
    delay *= 2;
  }
  const why = reason(failure);
  try {
    journalRunEnd(dbPath, end);
    options.warn(
      `stint: the store could not record the end of this run (${why}); it is saved in ${
        journalPath(dbPath)
      } and the next stint command will record it`,
    );
    return { execution: undefined, to: "journal" };
  } catch (err) {
    options.warn(
      `stint: the end of this run could not be recorded (${why}), nor saved in ${
        journalPath(dbPath)
      } (${reason(err)}); the run will read as lost`,
    );
    return { execution: undefined, to: "nowhere" };
  }
}

/** The first clause of an error, for a warning that must stay one line. */
function reason(err: unknown): string {
  const msg = err instanceof Error ? err.message : describeFsError(err);
  return msg.split("\n")[0].split(";")[0];
}

/**
 * Where a run's own warnings go: stderr for a foreground run, the end of the
 * run's log for a background one (its supervisor has no terminal).
 */
export function runWarner(
  options: { terminal: boolean; logPath: string },
): (line: string) => void {
  return (line) => {
    const bytes = new TextEncoder().encode(`${line}\n`);
    if (options.terminal) {
      new TerminalSink(stdioWriter("stderr")).write(bytes);
      return;
    }
    try {
      const f = Deno.openSync(options.logPath, { append: true });
      try {
        f.writeSync(bytes);
      } finally {
        f.close();
      }
    } catch {
      // The log is gone or its disk is full: nowhere left to say it.
    }
  };
}
