/**
 * Execution records: one row per run of a task or command, written at start
 * as `running` and updated to a terminal status at the end.
 * @module
 */
import { AmbiguousIdError, NotFoundError } from "../errors.ts";
import { hostId, nextSeq } from "./meta.ts";
import { transaction } from "./open.ts";
import { type ProcessId, runGoneReason } from "./process.ts";
import type { Database, Row, SqlValue } from "./sqlite.ts";
import { writeTombstone } from "./replication/tombstones.ts";
import { showSilentHostsLost } from "./replication/liveness.ts";
import { removeStartSidecar, staleStarts } from "./start_sidecar.ts";

/** Status of an execution. */
export type ExecutionStatus =
  | "running"
  | "succeeded"
  | "failed"
  | "killed"
  | "lost";

/** An execution record. Times are Unix milliseconds. */
export interface Execution {
  id: string;
  ref: string;
  projectDir: string | null;
  task: string | null;
  command: string;
  args: string[];
  startedAt: number;
  completedAt: number | null;
  durationMs: number | null;
  status: ExecutionStatus;
  exitCode: number | null;
  signal: string | null;
  error: string | null;
  pid: number | null;
  pidStart: string | null;
  logId: string | null;
  hostId: string;
  backgroundId: string | null;
  parentId: string | null;
  scopeId: string | null;
  /** The execution this run repeats (`stint rerun`, `bg restart`), else null. */
  rerunOf: string | null;
  /** The task names a wildcard run matched (null for one task or a command). */
  matchedTasks: string[] | null;
  /**
   * The directory stint was started in, when that was not the project dir
   * (deno task resolved relative options against it); else null.
   */
  callerCwd: string | null;
}

/** What a caller supplies when a run starts. */
export interface ExecutionStart {
  id: string;
  ref: string;
  command: string;
  args?: string[];
  projectDir?: string | null;
  task?: string | null;
  startedAt?: number;
  pid?: number | null;
  pidStart?: string | null;
  logId?: string | null;
  backgroundId?: string | null;
  parentId?: string | null;
  scopeId?: string | null;
  rerunOf?: string | null;
  matchedTasks?: string[] | null;
  /** The directory stint was started in (kept when it is not `projectDir`). */
  callerCwd?: string | null;
}

/** What a caller supplies when a run ends. */
export interface ExecutionFinish {
  status: Exclude<ExecutionStatus, "running">;
  exitCode?: number | null;
  signal?: string | null;
  error?: string | null;
  completedAt?: number;
}

/** Filters for {@linkcode listExecutions}. */
export interface HistoryQuery {
  ref?: string;
  status?: ExecutionStatus;
  /** Started at or after this time. */
  since?: number;
  /** Started before this time. */
  until?: number;
  host?: string;
  backgroundId?: string;
  /** Text in the ref, the command line or the arguments (case-insensitive for ASCII). */
  grep?: string;
  /** Exactly this exit code. */
  exitCode?: number;
  /** Recorded in this directory or below it (the project dir, for exec the cwd). */
  dir?: string;
  limit?: number;
}

/** Record the start of a run as `running`. */
export function startExecution(db: Database, start: ExecutionStart): Execution {
  return transaction(db, () => {
    const host = hostId(db);
    const now = start.startedAt ?? Date.now();
    db.prepare(
      `INSERT INTO executions (id, ref, project_dir, task, command, args, started_at, status,
         pid, pid_start, log_id, host_id, background_id, parent_id, scope_id, origin, seq, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      start.id,
      start.ref,
      start.projectDir ?? null,
      start.task ?? null,
      start.command,
      JSON.stringify(start.args ?? []),
      now,
      start.pid ?? null,
      start.pidStart ?? null,
      start.logId ?? null,
      host,
      start.backgroundId ?? null,
      start.parentId ?? null,
      start.scopeId ?? null,
      host,
      nextSeq(db),
      Date.now(),
    );
    if (start.rerunOf || start.matchedTasks) {
      // Rows of runs deleted since (a pulled tombstone, a prune): one PK
      // probe each, in a table that holds only reruns and wildcard runs.
      db.prepare(
        "DELETE FROM execution_extras WHERE execution_id NOT IN (SELECT id FROM executions)",
      ).run();
      db.prepare(
        "INSERT OR REPLACE INTO execution_extras (execution_id, rerun_of, matched_tasks) VALUES (?, ?, ?)",
      ).run(
        start.id,
        start.rerunOf ?? null,
        start.matchedTasks ? JSON.stringify(start.matchedTasks) : null,
      );
    }
    if (start.callerCwd && start.callerCwd !== (start.projectDir ?? null)) {
      // As for the extras: a table of runs started away from their project.
      db.prepare(
        "DELETE FROM execution_cwd WHERE execution_id NOT IN (SELECT id FROM executions)",
      ).run();
      db.prepare(
        "INSERT OR REPLACE INTO execution_cwd (execution_id, caller_cwd) VALUES (?, ?)",
      ).run(start.id, start.callerCwd);
    }
    return getExecutionExact(db, start.id)!;
  });
}

/** Update a run to its terminal status; duration is computed from its start. */
export function finishExecution(
  db: Database,
  id: string,
  finish: ExecutionFinish,
): Execution {
  return transaction(db, () => {
    const done = finish.completedAt ?? Date.now();
    const changed = db.prepare(
      `UPDATE executions SET status = ?, exit_code = ?, signal = ?, error = ?, completed_at = ?,
         duration_ms = MAX(0, ? - started_at), seq = ?, origin = host_id, updated_at = ?
       WHERE id = ?`,
    ).run(
      finish.status,
      finish.exitCode ?? null,
      finish.signal ?? null,
      finish.error ?? null,
      done,
      done,
      nextSeq(db),
      Date.now(),
      id,
    ).changes;
    if (Number(changed) === 0) {
      throw new NotFoundError(`No execution with id ${id}`);
    }
    db.prepare("DELETE FROM recorders WHERE execution_id = ?").run(id);
    return getExecutionExact(db, id)!;
  });
}

/**
 * Name the process recording a running execution (the stint process or the
 * background supervisor), inside the caller's transaction. Liveness asks it
 * as well as the task: a run whose task has exited is not lost while its
 * recorder is still writing the end.
 */
export function setRecorder(
  db: Database,
  id: string,
  recorder: ProcessId,
): void {
  db.prepare(
    `INSERT INTO recorders (execution_id, pid, pid_start) VALUES (?, ?, ?)
     ON CONFLICT(execution_id) DO UPDATE SET pid = excluded.pid, pid_start = excluded.pid_start`,
  ).run(id, recorder.pid, recorder.pidStart);
}

/** The process recording a running execution, if one is named. */
export function getRecorder(db: Database, id: string): ProcessId | null {
  const row = db.prepare(
    "SELECT pid, pid_start FROM recorders WHERE execution_id = ?",
  ).get(id);
  return row
    ? { pid: Number(row.pid), pidStart: nullableString(row.pid_start) }
    : null;
}

/** Set the pid of a running execution (known only after the child spawned). */
export function setExecutionPid(
  db: Database,
  id: string,
  pid: { pid: number; pidStart: string | null },
): void {
  transaction(db, () => {
    db.prepare(
      "UPDATE executions SET pid = ?, pid_start = ?, seq = ?, updated_at = ? WHERE id = ?",
    ).run(pid.pid, pid.pidStart, nextSeq(db), Date.now(), id);
  });
}

/** Execution rows with their extras (`rerun_of`, `matched_tasks`, `caller_cwd`). */
const SELECT_RUNS =
  "SELECT executions.*, x.rerun_of, x.matched_tasks, c.caller_cwd FROM executions LEFT JOIN execution_extras x ON x.execution_id = executions.id LEFT JOIN execution_cwd c ON c.execution_id = executions.id";

/** Get one execution by exact id. */
export function getExecutionExact(
  db: Database,
  id: string,
): Execution | undefined {
  const row = db.prepare(`${SELECT_RUNS} WHERE id = ?`).get(id);
  return row ? rowToExecution(row) : undefined;
}

/** The shortest id prefix {@linkcode getExecution} accepts. */
export const MIN_ID_PREFIX = 4;

/**
 * Get one execution by id or unique id prefix (at least
 * {@linkcode MIN_ID_PREFIX} characters). Throws NotFoundError when none
 * matches or the prefix is too short, and AmbiguousIdError naming the candidates
 * when the prefix is ambiguous.
 */
export function getExecution(db: Database, idOrPrefix: string): Execution {
  const exact = getExecutionExact(db, idOrPrefix);
  if (exact) return showSilentHostsLost(db, [exact])[0];
  if (!/^[0-9a-f-]+$/i.test(idOrPrefix)) {
    throw new NotFoundError(
      `No run with id "${idOrPrefix}"; see stint history`,
    );
  }
  if (idOrPrefix.length < MIN_ID_PREFIX) {
    throw new NotFoundError(
      `Run id prefix "${idOrPrefix}" is too short; give at least ${MIN_ID_PREFIX} characters (the ID column of stint history)`,
    );
  }
  const prefix = idOrPrefix.toLowerCase();
  const rows = executionsWithPrefix(db, prefix, 4);
  if (rows.length === 1) return showSilentHostsLost(db, rows)[0];
  if (rows.length > 1) {
    throw new AmbiguousIdError(
      `Run id prefix "${idOrPrefix}" is ambiguous: ${
        describeCandidates(
          rows.map((r) => ({ id: r.id, ref: r.ref, startedAt: r.startedAt })),
          prefix.length,
          countWithPrefix(db, "executions", prefix),
        )
      }; give more characters`,
    );
  }
  throw new NotFoundError(`No run with id "${idOrPrefix}"; see stint history`);
}

/** Up to `limit` executions whose id starts with `prefix` (lower case), newest first. */
export function executionsWithPrefix(
  db: Database,
  prefix: string,
  limit: number,
): Execution[] {
  return db.prepare(
    `${SELECT_RUNS} WHERE id >= ? AND id < ? ORDER BY id DESC LIMIT ?`,
  ).all(prefix, prefix + "\uffff", limit).map(rowToExecution);
}

/** How many rows of `table` have an id starting with `prefix`. */
export function countWithPrefix(
  db: Database,
  table: "executions" | "background_runs",
  prefix: string,
): number {
  return Number(
    db.prepare(
      `SELECT count(*) AS n FROM ${table} WHERE id >= ? AND id < ?`,
    ).get(prefix, prefix + "\uffff")?.n ?? 0,
  );
}

/**
 * The candidates of an ambiguous prefix for an error line: the first three
 * of `runs` (consecutive in id order, one more than shown when there are
 * more), each cut just long enough to name it alone among every id with
 * the prefix, with its ref and start time.
 */
export function describeCandidates(
  runs: { id: string; ref: string; startedAt: number }[],
  prefixLength: number,
  total: number,
): string {
  const shown = runs.slice(0, 3);
  const parts = shown.map((r, i) => {
    // Its neighbours in id order share the longest prefixes with it.
    const shared = Math.max(
      i > 0 ? commonPrefix(r.id, runs[i - 1].id) : 0,
      i + 1 < runs.length ? commonPrefix(r.id, runs[i + 1].id) : 0,
    );
    let len = Math.max(shared + 1, prefixLength + 1, 8);
    while (len < r.id.length && r.id[len - 1] === "-") len++;
    return `${r.id.slice(0, len)} (${r.ref}, ${
      new Date(r.startedAt).toISOString().slice(0, 16).replace("T", " ")
    })`;
  });
  const more = total - shown.length;
  return `${parts.join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** History, newest first; every filter is applied in SQL. */
export function listExecutions(
  db: Database,
  query: HistoryQuery = {},
): Execution[] {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (query.ref !== undefined) {
    where.push("ref = ?");
    params.push(query.ref);
  }
  if (query.status !== undefined) {
    where.push("status = ?");
    params.push(query.status);
  }
  if (query.since !== undefined) {
    where.push("started_at >= ?");
    params.push(query.since);
  }
  if (query.until !== undefined) {
    where.push("started_at < ?");
    params.push(query.until);
  }
  if (query.grep !== undefined) {
    const like = `%${escapeLike(query.grep)}%`;
    where.push(
      "(ref LIKE ? ESCAPE '\\' OR command LIKE ? ESCAPE '\\' OR args LIKE ? ESCAPE '\\')",
    );
    params.push(like, like, like);
  }
  if (query.exitCode !== undefined) {
    where.push("exit_code = ?");
    params.push(query.exitCode);
  }
  if (query.dir !== undefined) {
    const dir = query.dir.replace(/\/+$/, "");
    if (dir === "") {
      where.push("project_dir LIKE '/%'");
    } else {
      where.push("(project_dir = ? OR project_dir LIKE ? ESCAPE '\\')");
      params.push(dir, `${escapeLike(dir)}/%`);
    }
  }
  if (query.host !== undefined) {
    where.push("host_id = ?");
    params.push(query.host);
  }
  if (query.backgroundId !== undefined) {
    where.push("background_id = ?");
    params.push(query.backgroundId);
  }
  const sql = `${SELECT_RUNS}${
    where.length ? ` WHERE ${where.join(" AND ")}` : ""
  } ORDER BY started_at DESC, id DESC LIMIT ?`;
  params.push(query.limit ?? -1);
  // Runs of hosts that went silent are shown lost (never written so here).
  return showSilentHostsLost(
    db,
    db.prepare(sql).all(...params).map(rowToExecution),
  );
}

/** `text` with LIKE's wildcards escaped (for `LIKE ? ESCAPE '\'`). */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A ref with its run count and latest run. */
export interface RefSummary {
  ref: string;
  runs: number;
  lastStartedAt: number;
  lastStatus: ExecutionStatus;
}

/** Every ref with its run count, most recently run first. */
export function listRefs(db: Database): RefSummary[] {
  return db.prepare(
    `SELECT ref, COUNT(*) AS runs, MAX(started_at) AS last_started_at,
       (SELECT status FROM executions e2 WHERE e2.ref = e.ref ORDER BY started_at DESC LIMIT 1) AS last_status
     FROM executions e GROUP BY ref ORDER BY last_started_at DESC`,
  ).all().map((r) => ({
    ref: String(r.ref),
    runs: Number(r.runs),
    lastStartedAt: Number(r.last_started_at),
    lastStatus: String(r.last_status) as ExecutionStatus,
  }));
}

/**
 * Delete every execution of `ref`; returns the log ids they referenced so the
 * caller can remove the files. Leaves tombstones so the delete syncs.
 */
export function deleteHistory(
  db: Database,
  ref: string,
): { deleted: number; logIds: string[] } {
  return transaction(db, () => {
    const rows = db.prepare(
      "SELECT id, log_id, updated_at FROM executions WHERE ref = ? AND status != 'running'",
    ).all(ref);
    for (const row of rows) {
      db.prepare("DELETE FROM executions WHERE id = ?").run(row.id);
      db.prepare("DELETE FROM execution_extras WHERE execution_id = ?").run(
        row.id,
      );
      db.prepare("DELETE FROM execution_cwd WHERE execution_id = ?").run(
        row.id,
      );
      // Stamped after the row it deletes, whatever this host's clock says.
      writeTombstone(db, {
        kind: "execution",
        key: String(row.id),
        previous: row.updated_at,
      });
    }
    return {
      deleted: rows.length,
      logIds: rows.map((r) => r.log_id).filter((id): id is string =>
        typeof id === "string"
      ),
    };
  });
}

/**
 * Mark this host's `running` executions as `lost` when neither their
 * recorder (the stint process or supervisor writing the record) nor their
 * task (its leader or any member of its process group) is alive, and
 * reclaim their scopes. Called before every read that shows runs. Returns
 * the ids marked lost. Runs whose stint was killed before it recorded the
 * start are adopted from their start sidecars first (start_sidecar.ts).
 */
export function reconcileExecutions(db: Database): string[] {
  adoptStaleStarts(db);
  const host = hostId(db);
  // `+host_id`: read the running rows through the status index, never
  // every row of this host through the host index.
  const running = db.prepare(
    `SELECT e.id, e.pid, e.pid_start, e.scope_id, r.pid AS recorder_pid, r.pid_start AS recorder_start
     FROM executions e LEFT JOIN recorders r ON r.execution_id = e.id
     WHERE e.status = 'running' AND +e.host_id = ?`,
  ).all(host);
  const lost: { id: string; reason: string; scopeId: string | null }[] = [];
  for (const row of running) {
    const id = String(row.id);
    const reason = runGoneReason({
      runId: id,
      recorder: row.recorder_pid === null ? null : {
        pid: Number(row.recorder_pid),
        pidStart: nullableString(row.recorder_start),
      },
      task: row.pid === null ? null : {
        pid: Number(row.pid),
        pidStart: nullableString(row.pid_start),
      },
    });
    if (reason) {
      lost.push({ id, reason, scopeId: nullableString(row.scope_id) });
    }
  }
  if (lost.length === 0) return [];
  if (
    !markLost(db, () => {
      const now = Date.now();
      for (const l of lost) {
        const changed = db.prepare(
          `UPDATE executions SET status = 'lost', error = ?, completed_at = ?,
           duration_ms = MAX(0, ? - started_at), seq = ?, updated_at = ?
         WHERE id = ? AND status = 'running'`,
        ).run(
          `Run lost: ${l.reason} (stint was killed before it could record the end)`,
          now,
          now,
          nextSeq(db),
          now,
          l.id,
        ).changes;
        if (Number(changed) === 0) continue;
        db.prepare("DELETE FROM recorders WHERE execution_id = ?").run(l.id);
        if (l.scopeId && l.scopeId !== "root") {
          db.prepare("DELETE FROM vars WHERE scope_id = ?").run(l.scopeId);
          db.prepare("DELETE FROM scopes WHERE id = ?").run(l.scopeId);
        }
      }
    })
  ) return [];
  return lost.map((l) => l.id);
}

/**
 * Record the runs whose start sidecar outlived its recorder (stint killed
 * between spawning the task and recording it) as `running` under that dead
 * recorder, so the liveness check right after judges them like any run:
 * `running` while a process of the run lives, else `lost`. One `readdir`
 * of a directory that is usually missing. Best effort, like markLost.
 */
function adoptStaleStarts(db: Database): void {
  const dbPath = db.location?.();
  if (!dbPath) return;
  for (const f of staleStarts(dbPath)) {
    const adopted = markLost(db, () => {
      if (getExecutionExact(db, f.id)) return; // recorded after all
      startExecution(db, {
        id: f.id,
        ref: f.ref,
        command: f.command,
        args: f.args,
        projectDir: f.projectDir,
        task: f.task,
        startedAt: f.startedAt,
        logId: f.logId,
        backgroundId: f.backgroundId,
        parentId: f.parentId,
        rerunOf: f.rerunOf,
        matchedTasks: f.matchedTasks,
        callerCwd: f.callerCwd,
        scopeId: null,
      });
      setRecorder(db, f.id, f.recorder);
    });
    if (adopted) removeStartSidecar(dbPath, f.id);
  }
}

/**
 * Write what a read found lost. Best effort: on a store that cannot take a
 * write just now (locked, full, read-only) the read goes on and shows the
 * records as they are; the next read tries again. Returns whether it wrote.
 */
export function markLost(db: Database, write: () => void): boolean {
  try {
    transaction(db, write);
    return true;
  } catch {
    return false;
  }
}

/** Map a row to an {@linkcode Execution}. */
export function rowToExecution(r: Row): Execution {
  return {
    id: String(r.id),
    ref: String(r.ref),
    projectDir: nullableString(r.project_dir),
    task: nullableString(r.task),
    command: String(r.command),
    args: JSON.parse(String(r.args ?? "[]")),
    startedAt: Number(r.started_at),
    completedAt: nullableNumber(r.completed_at),
    durationMs: nullableNumber(r.duration_ms),
    status: String(r.status) as ExecutionStatus,
    exitCode: nullableNumber(r.exit_code),
    signal: nullableString(r.signal),
    error: nullableString(r.error),
    pid: nullableNumber(r.pid),
    pidStart: nullableString(r.pid_start),
    logId: nullableString(r.log_id),
    hostId: String(r.host_id),
    backgroundId: nullableString(r.background_id),
    parentId: nullableString(r.parent_id),
    scopeId: nullableString(r.scope_id),
    rerunOf: nullableString(r.rerun_of),
    matchedTasks: r.matched_tasks ? JSON.parse(String(r.matched_tasks)) : null,
    callerCwd: nullableString(r.caller_cwd),
  };
}

/**
 * The stable JSON shape of an execution (snake_case, ISO-8601 times). A
 * running run's `duration_ms` is how long it has run so far, as in a
 * background run's record.
 */
export function executionToJson(e: Execution): Record<string, unknown> {
  return {
    id: e.id,
    ref: e.ref,
    task: e.task,
    project_dir: e.projectDir,
    command: e.command,
    args: e.args,
    status: e.status,
    exit_code: e.exitCode,
    signal: e.signal,
    error: e.error,
    started_at: new Date(e.startedAt).toISOString(),
    completed_at: e.completedAt === null
      ? null
      : new Date(e.completedAt).toISOString(),
    duration_ms: e.status === "running"
      ? Math.max(0, Date.now() - e.startedAt)
      : e.durationMs,
    pid: e.pid,
    log_id: e.logId,
    host_id: e.hostId,
    background_id: e.backgroundId,
    parent_id: e.parentId,
    rerun_of: e.rerunOf,
    matched_tasks: e.matchedTasks,
    caller_cwd: e.callerCwd,
  };
}

/** A nullable column as string. */
export function nullableString(v: SqlValue | undefined): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** A nullable column as number. */
export function nullableNumber(v: SqlValue | undefined): number | null {
  return v === null || v === undefined ? null : Number(v);
}
