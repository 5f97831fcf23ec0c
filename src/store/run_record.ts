/**
 * One run's record from start to end, as single transactions: the start
 * (scope, `running` record and its recorder together, so a crash can never
 * leave a scope without its run), and the end (the execution, its scope and
 * its background run together), which is also what the journal replays.
 * @module
 */
import {
  type BackgroundStatus,
  getBackgroundRunExact,
  saveBackgroundRun,
} from "./background.ts";
import {
  type Execution,
  type ExecutionFinish,
  type ExecutionStart,
  type ExecutionStatus,
  finishExecution,
  getExecutionExact,
  setRecorder,
  startExecution,
} from "./executions.ts";
import { appendJournal, peekJournal, takeJournal } from "./journal.ts";
import { transaction, withStore } from "./open.ts";
import type { ProcessId } from "./process.ts";
import type { Database } from "./sqlite.ts";
import { createScope, deleteScope } from "./scopes.ts";
import { removeStartSidecar } from "./start_sidecar.ts";

/** What a run's start records. */
export interface RunBegin
  extends Omit<ExecutionStart, "scopeId" | "pid" | "pidStart"> {
  /** The caller's scope: the run's own scope hangs under it. */
  parentScope: string;
  /** The run's own scope id, when chosen beforehand (its task was told it). */
  scopeId?: string;
  /** The process recording the run (this stint process or the supervisor). */
  recorder: ProcessId;
  /** The task's process, when it was started before its record was written. */
  taskProcess?: ProcessId | null;
}

/**
 * Record a run's start in one transaction: its scope, its `running` record
 * (with the task's pid when it is already known) and its recorder; a
 * background run's record is pointed at this supervisor too. Returns the
 * record.
 */
export function beginRun(
  db: Database,
  begin: RunBegin,
  options?: { waitMs?: number },
): Execution {
  return transaction(db, () => {
    const { parentScope, recorder, taskProcess, scopeId: chosen, ...start } =
      begin;
    const scopeId = createScope(db, {
      parent: parentScope,
      runId: start.id,
      id: chosen,
    });
    const execution = startExecution(db, {
      ...start,
      pid: taskProcess?.pid ?? null,
      pidStart: taskProcess?.pidStart ?? null,
      scopeId,
    });
    setRecorder(db, start.id, recorder);
    if (start.backgroundId) {
      const bg = getBackgroundRunExact(db, start.backgroundId);
      if (bg && bg.status === "running" && bg.pid !== recorder.pid) {
        saveBackgroundRun(db, {
          id: bg.id,
          ref: bg.ref,
          pid: recorder.pid,
          pidStart: recorder.pidStart,
          pgid: recorder.pid,
        });
      }
    }
    return execution;
  }, options);
}

/** How a run ended, as recorded (and as kept in the journal). */
export interface RunEnd {
  /** The execution that ended. */
  executionId: string;
  /** Its scope, dropped with the end. */
  scopeId: string | null;
  /** The end; `completedAt` is set, so a replay records the real time. */
  finish: ExecutionFinish & { completedAt: number };
  /** The run never started and its empty log was removed. */
  noLog?: boolean;
  /** The background run this execution is, if any. */
  background?: {
    id: string;
    ref: string;
    status: BackgroundStatus;
    exitCode: number | null;
  };
}

/** The background status an execution's end maps to. */
export function backgroundStatusFor(
  status: ExecutionStatus,
): BackgroundStatus {
  switch (status) {
    case "succeeded":
      return "completed";
    case "killed":
      return "killed";
    case "lost":
      return "lost";
    default:
      return "failed";
  }
}

/**
 * Record a run's end in one transaction. Idempotent, so a replay may repeat
 * it: the execution and background run are finished only while `running`
 * or `lost` (a `lost` record was judged so because its end had not arrived
 * yet), the scope is dropped if it is still there. Returns the execution,
 * or undefined when it is no longer recorded.
 */
export function applyRunEnd(db: Database, end: RunEnd): Execution | undefined {
  return transaction(db, () => {
    const e = getExecutionExact(db, end.executionId);
    let done = e;
    if (e && (e.status === "running" || e.status === "lost")) {
      if (end.noLog) {
        db.prepare("UPDATE executions SET log_id = NULL WHERE id = ?").run(
          e.id,
        );
      }
      done = finishExecution(db, e.id, end.finish);
    }
    if (end.scopeId) deleteScope(db, end.scopeId);
    const b = end.background;
    if (b) {
      const run = getBackgroundRunExact(db, b.id);
      if (run && (run.status === "running" || run.status === "lost")) {
        saveBackgroundRun(db, {
          id: b.id,
          ref: run.ref,
          status: b.status,
          exitCode: b.exitCode,
          error: end.finish.error ?? null,
          completedAt: end.finish.completedAt,
          ...(end.noLog ? { logId: null } : {}),
        });
      }
    }
    return done;
  });
}

/**
 * Record a run whose start could not be recorded when it began (the store
 * was locked, full, read-only or corrupt): its record and its end in one
 * transaction. No scope was ever made for it, and none is now. Idempotent
 * (a replay may repeat it): a run already recorded only gets its end.
 */
export function recordWholeRun(
  db: Database,
  begin: RunBegin,
  end: RunEnd,
  options?: { waitMs?: number },
): Execution | undefined {
  return transaction(db, () => {
    if (!getExecutionExact(db, begin.id)) {
      const {
        parentScope: _parent,
        recorder: _recorder,
        taskProcess,
        scopeId: _scope,
        ...start
      } = begin;
      startExecution(db, {
        ...start,
        pid: taskProcess?.pid ?? null,
        pidStart: taskProcess?.pidStart ?? null,
        scopeId: null,
      });
    }
    return applyRunEnd(db, { ...end, scopeId: null });
  }, options);
}

/** One journal entry. */
export interface JournalEntry {
  /** The entry format's version. */
  v: 1;
  /**
   * What the entry holds: a run's end, or a whole run (`begin` set) whose
   * start was never recorded.
   */
  kind: "run-end" | "run";
  /** The end to record. */
  end: RunEnd;
  /** For a whole run: its start. */
  begin?: RunBegin;
  /** When and by which process it was saved (for people reading the file). */
  savedAt: number;
  /** The process that saved it. */
  pid: number;
}

/** Save a run's end in the journal (throws when even that fails). */
export function journalRunEnd(dbPath: string, end: RunEnd): void {
  const entry: JournalEntry = {
    v: 1,
    kind: "run-end",
    end,
    savedAt: Date.now(),
    pid: Deno.pid,
  };
  appendJournal(dbPath, entry);
}

/**
 * Save a whole run (its start was never recorded) in the journal; throws
 * when even that fails.
 */
export function journalWholeRun(
  dbPath: string,
  begin: RunBegin,
  end: RunEnd,
): void {
  const entry: JournalEntry = {
    v: 1,
    kind: "run",
    begin,
    end,
    savedAt: Date.now(),
    pid: Deno.pid,
  };
  appendJournal(dbPath, entry);
}

/**
 * Record every run end waiting in the journal, in one transaction, and
 * clear it. Silent: the process that saved an entry already said so. When
 * the store still cannot take them, they stay for the next process.
 * Returns how many were recorded.
 */
export function replayJournal(dbPath: string): number {
  try {
    return takeJournal<JournalEntry>(dbPath, (entries) => {
      try {
        withStore(dbPath, (db) =>
          transaction(db, () => {
            for (const e of entries) {
              if (e?.v === 1 && e.kind === "run-end" && e.end) {
                applyRunEnd(db, e.end);
              } else if (e?.v === 1 && e.kind === "run" && e.begin && e.end) {
                recordWholeRun(db, e.begin, e.end);
                removeStartSidecar(dbPath, e.begin.id);
              }
            }
          }), { create: false });
        return true;
      } catch {
        return false;
      }
    });
  } catch {
    return 0;
  }
}

/** The journalled end of background run `id`, if one is waiting. */
export function journalledBackgroundEnd(
  dbPath: string,
  id: string,
): RunEnd | null {
  for (const e of peekJournal<JournalEntry>(dbPath)) {
    if (
      (e?.kind === "run-end" || e?.kind === "run") &&
      e.end?.background?.id === id
    ) return e.end;
  }
  return null;
}
