/**
 * A run's record as the runner keeps it: the start (scope, record and
 * recorder in one transaction, the logs dir and the journal's reserve
 * checked first), the task's pid, and the end, recorded so that nothing
 * that happens to the store can change the task's exit code (spec section
 * 3): it is written with retries, and when the store still cannot take it
 * (locked past the busy timeout, full, read-only, corrupt, deleted) it is
 * saved to the journal beside the store with one warning line, and the next
 * stint process records it. This is where the runner loads the store; a
 * run whose store is known to be stint's loads it only once its task has
 * been started (execute.ts).
 * @module
 */
import { stdioWriter, TerminalSink } from "./capture.ts";
import { sleep } from "./process_group.ts";
import {
  describeFsError,
  ensureLogsDir,
  entryExists,
  logPath,
} from "../store/paths.ts";
import { openStore, withStore } from "../store/open.ts";
import {
  busyTimeoutMs,
  isBusyError,
  lockRetryDelay,
  transaction,
} from "../store/lock.ts";
import { removeStartSidecar } from "../store/start_sidecar.ts";
import {
  type Execution,
  type ExecutionFinish,
  type ExecutionStart,
  setExecutionPid,
} from "../store/executions.ts";
import { journalPath, reserveJournal } from "../store/journal.ts";
import { type ProcessId, processStartTime } from "../store/process.ts";
import {
  applyRunEnd,
  backgroundStatusFor,
  beginRun,
  journalRunEnd,
  journalWholeRun,
  recordWholeRun,
  type RunBegin,
  type RunEnd,
} from "../store/run_record.ts";

export { busyTimeoutMs, isBusyError, lockRetryDelay, removeStartSidecar };

/** What a run is recorded as when it starts. */
export interface RunStart extends
  Pick<
    ExecutionStart,
    | "id"
    | "ref"
    | "command"
    | "args"
    | "projectDir"
    | "task"
    | "parentId"
    | "rerunOf"
    | "matchedTasks"
    | "startedAt"
    | "callerCwd"
  > {
  /** The caller's scope (the run's own hangs under it). */
  parentScope: string;
  /** The run's own scope id (its task is told it before it is written). */
  scopeId: string;
  /** The background run this execution is. */
  backgroundId: string | null;
  /** Output goes to a terminal (so warnings go to stderr, not the log). */
  terminal: boolean;
}

/** How a run ended, as the runner saw it. */
export type RunFinish =
  & Required<Pick<ExecutionFinish, "exitCode" | "signal" | "error">>
  & Pick<ExecutionFinish, "completedAt">
  & { status: "succeeded" | "failed" | "killed" };

/**
 * One run's record, from the start written before the child is spawned to
 * the end written (or journalled) after it.
 */
export class RunRecorder {
  /** The `running` record as written. */
  readonly started: Execution;
  /** The run's own scope. */
  readonly scopeId: string;
  /** The run's log file. */
  readonly logPath: string;
  readonly #dbPath: string;
  readonly #start: RunStart;
  readonly #warn: (line: string) => void;

  private constructor(dbPath: string, start: RunStart, started: Execution) {
    this.#dbPath = dbPath;
    this.#start = start;
    this.started = started;
    this.scopeId = started.scopeId!;
    this.logPath = logPath(dbPath, start.id);
    this.#warn = runWarner({ terminal: start.terminal, logPath: this.logPath });
  }

  /**
   * Record the start: the scope, the record (with the task's pid when it
   * has already been started) and this process as its recorder, in one
   * transaction, so a failed start leaves nothing behind. The logs dir is
   * made (or refused: a link, another user's) and the journal's reserve
   * made first, once the store path is known to be good. `committed` runs
   * right after the transaction commits, while its connection is still
   * open. Throws when the start cannot be recorded.
   */
  static begin(
    dbPath: string,
    start: RunStart,
    options: {
      task?: ProcessId | null;
      committed?: () => void;
      waitMs?: number;
    } = {},
  ): RunRecorder {
    const { waitMs } = options;
    const started = withStore(dbPath, (db) => {
      ensureLogsDir(dbPath);
      // Room for the end, made while the disk still has some.
      reserveJournal(dbPath);
      const execution = beginRun(db, runBegin(start, options.task ?? null), {
        waitMs,
      });
      options.committed?.();
      return execution;
    }, { waitMs });
    return new RunRecorder(dbPath, start, started);
  }

  /**
   * Record the task's pid (a run recorded before its task was started).
   * Returns the one-line error when the store would not take it: the run
   * goes on, and its recorder (this process) is still alive.
   */
  recordTask(task: ProcessId): string | null {
    try {
      withStore(
        this.#dbPath,
        (db) => setExecutionPid(db, this.#start.id, task),
      );
      return null;
    } catch (err) {
      return `Could not record the child's pid: ${
        (err as Error).message.split("\n")[0]
      }`;
    }
  }

  /** Record that stint itself failed the run. Never throws. */
  async fail(error: string): Promise<void> {
    await this.end(
      { status: "failed", exitCode: null, signal: null, error },
      { stintExit: null },
    );
  }

  /**
   * Record the end (see {@linkcode recordRunEnd}); a run that never
   * started drops its empty log. Returns the finished record, built from
   * the start when the end had to be journalled. Never throws.
   */
  async end(
    finish: RunFinish,
    options: { stintExit: number | null; started?: boolean },
  ): Promise<Execution> {
    const { id, backgroundId } = this.#start;
    const end: RunEnd = {
      executionId: id,
      scopeId: this.scopeId,
      finish: { ...finish, completedAt: finish.completedAt ?? Date.now() },
      background: backgroundId
        ? {
          id: backgroundId,
          ref: this.#start.ref,
          status: backgroundStatusFor(finish.status),
          exitCode: options.stintExit,
        }
        : undefined,
    };
    if (options.started === false && removeIfEmpty(this.logPath)) {
      end.noLog = true;
    }
    const recorded = await recordRunEnd(this.#dbPath, end, {
      warn: this.#warn,
    });
    return recorded.execution ?? {
      ...this.started,
      ...finish,
      completedAt: end.finish.completedAt,
      durationMs: Math.max(0, end.finish.completedAt - this.started.startedAt),
      logId: end.noLog ? null : this.started.logId,
    };
  }
}

/** The start facts of a run as the store records them. */
export function runBegin(start: RunStart, task: ProcessId | null): RunBegin {
  return {
    id: start.id,
    ref: start.ref,
    command: start.command,
    args: start.args,
    projectDir: start.projectDir,
    task: start.task,
    recorder: { pid: Deno.pid, pidStart: processStartTime(Deno.pid) },
    parentScope: start.parentScope,
    logId: start.id,
    backgroundId: start.backgroundId,
    parentId: start.parentId ?? null,
    rerunOf: start.rerunOf ?? null,
    matchedTasks: start.matchedTasks ?? null,
    callerCwd: start.callerCwd ?? null,
    startedAt: start.startedAt,
    scopeId: start.scopeId,
    taskProcess: task,
  };
}

/**
 * Record the start, waiting for a locked store without blocking the event
 * loop (the task's output keeps flowing, a Ctrl-C is forwarded at once):
 * tries without waiting, then again after a short sleep, for up to the
 * busy timeout, and stops early when `interrupted` says so. Throws the last
 * failure when the start could not be recorded.
 */
export async function beginWaiting(
  dbPath: string,
  start: RunStart,
  options: {
    task: ProcessId | null;
    committed?: () => void;
    interrupted: () => boolean;
  },
): Promise<RunRecorder> {
  const began = Date.now();
  const timeout = busyTimeoutMs();
  for (;;) {
    try {
      return RunRecorder.begin(dbPath, start, { ...options, waitMs: 0 });
    } catch (err) {
      const waited = Date.now() - began;
      if (!isBusyError(err) || waited >= timeout || options.interrupted()) {
        throw err;
      }
      await sleep(Math.min(lockRetryDelay(waited), timeout - waited));
    }
  }
}

/**
 * Record a run whose start could not be recorded when it began, start and
 * end together, now that it has ended (see {@linkcode recordRunEnd}: tried,
 * then journalled). `hurry` (stint was interrupted) tries once without
 * waiting for a lock. Never throws; returns the record as recorded or as
 * it will be.
 */
export async function recordUnstartedRun(
  dbPath: string,
  start: RunStart,
  options: {
    task: ProcessId | null;
    finish: RunFinish;
    stintExit: number | null;
    started: boolean;
    hurry: boolean;
  },
): Promise<Execution> {
  const begin = runBegin(start, options.task);
  const path = logPath(dbPath, start.id);
  const completedAt = options.finish.completedAt ?? Date.now();
  const end: RunEnd = {
    executionId: start.id,
    scopeId: null,
    finish: { ...options.finish, completedAt },
    background: start.backgroundId
      ? {
        id: start.backgroundId,
        ref: start.ref,
        status: backgroundStatusFor(options.finish.status),
        exitCode: options.stintExit,
      }
      : undefined,
  };
  let noLog = !entryExists(path);
  if (!options.started && removeIfEmpty(path)) noLog = true;
  if (noLog) end.noLog = true;
  const recorded = await recordRunEnd(dbPath, end, {
    warn: runWarner({ terminal: start.terminal, logPath: path }),
    begin,
    retryMs: options.hurry ? 0 : undefined,
    waitMs: options.hurry ? 0 : undefined,
  });
  if (recorded.to !== "nowhere") removeStartSidecar(dbPath, start.id);
  const startedAt = start.startedAt ?? completedAt;
  return recorded.execution ?? {
    id: start.id,
    ref: start.ref,
    projectDir: start.projectDir ?? null,
    task: start.task ?? null,
    command: start.command,
    args: start.args ?? [],
    startedAt,
    completedAt,
    durationMs: Math.max(0, completedAt - startedAt),
    status: options.finish.status,
    exitCode: options.finish.exitCode,
    signal: options.finish.signal,
    error: options.finish.error,
    pid: options.task?.pid ?? null,
    pidStart: options.task?.pidStart ?? null,
    logId: noLog ? null : start.id,
    hostId: "",
    backgroundId: start.backgroundId,
    parentId: start.parentId ?? null,
    scopeId: null,
    rerunOf: start.rerunOf ?? null,
    matchedTasks: start.matchedTasks ?? null,
    callerCwd: start.callerCwd ?? null,
  };
}

/**
 * Keep an idle read-only connection open while the run records itself.
 * SQLite checkpoints the WAL (two fsyncs, ~3 ms here, ~10 ms on a slow
 * disk) whenever the last connection to a file closes, and the next write
 * then starts a new WAL (another ~2.5 ms); with this one open, the run's
 * short per-operation connections close without that, and closing a
 * read-only connection never checkpoints. It holds no lock and no
 * transaction, so other processes read, write and checkpoint as usual. The
 * WAL is left for the next writer; durability is that of WAL with
 * synchronous=NORMAL.
 */
export function holdStore(dbPath: string): () => void {
  try {
    Deno.statSync(dbPath);
  } catch {
    return () => {}; // a first run creates the file with its first write
  }
  try {
    const db = openStore(dbPath, { readOnly: true });
    return () => {
      try {
        db.close();
      } catch {
        // already closed
      }
    };
  } catch {
    return () => {};
  }
}

function removeIfEmpty(path: string): boolean {
  try {
    if (Deno.lstatSync(path).size !== 0) return false;
    Deno.removeSync(path);
    return true;
  } catch {
    return false;
  }
}

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
  options: {
    warn: (line: string) => void;
    retryMs?: number;
    /** The start too: it was never recorded (recordUnstartedRun). */
    begin?: RunBegin;
    /** How long to wait for a lock (default: the busy timeout). */
    waitMs?: number;
  },
): Promise<RecordedEnd> {
  const { begin, waitMs } = options;
  const deadline = Date.now() + (options.retryMs ?? END_RETRY_MS);
  let delay = 50;
  let failure: unknown;
  for (;;) {
    try {
      const execution = begin
        ? withStore(
          dbPath,
          (db) =>
            transaction(db, () => {
              ensureLogsDir(dbPath);
              return recordWholeRun(db, begin, end);
            }, { waitMs }),
          { waitMs },
        )
        : withStore(
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
  const what = begin ? "this run" : "the end of this run";
  try {
    if (begin) journalWholeRun(dbPath, begin, end);
    else journalRunEnd(dbPath, end);
    options.warn(
      `stint: the store could not record ${what} (${why}); it is saved in ${
        journalPath(dbPath)
      } and the next stint command will record it`,
    );
    return { execution: undefined, to: "journal" };
  } catch (err) {
    options.warn(
      begin
        ? `stint: this run could not be recorded (${why}), nor saved in ${
          journalPath(dbPath)
        } (${reason(err)})`
        : `stint: the end of this run could not be recorded (${why}), nor saved in ${
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
