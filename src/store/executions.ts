/**
 * Execution records: one row per run of a task or command, written at start
 * as `running` and updated to a terminal status at the end.
 * @module
 */
import { NotFoundError, StintError } from "../errors.ts";
import { hostId, nextSeq } from "./meta.ts";
import { transaction } from "./open.ts";
import {
  groupHasMembers,
  processGoneReason,
  processStartTime,
} from "./process.ts";
import type { Database, Row, SqlValue } from "./sqlite.ts";
import { writeTombstone } from "./replication/tombstones.ts";
import { showSilentHostsLost } from "./replication/liveness.ts";

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
  since?: number;
  host?: string;
  backgroundId?: string;
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
    return getExecutionExact(db, id)!;
  });
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

/** Get one execution by exact id. */
export function getExecutionExact(
  db: Database,
  id: string,
): Execution | undefined {
  const row = db.prepare("SELECT * FROM executions WHERE id = ?").get(id);
  return row ? rowToExecution(row) : undefined;
}

/**
 * Get one execution by id or unique id prefix (at least 4 characters).
 * Throws NotFoundError when none matches and StintError when the prefix is ambiguous.
 */
export function getExecution(db: Database, idOrPrefix: string): Execution {
  const exact = getExecutionExact(db, idOrPrefix);
  if (exact) return showSilentHostsLost(db, [exact])[0];
  if (idOrPrefix.length >= 4 && /^[0-9a-f-]+$/i.test(idOrPrefix)) {
    const rows = db.prepare(
      "SELECT * FROM executions WHERE id >= ? AND id < ? ORDER BY id LIMIT 2",
    ).all(idOrPrefix.toLowerCase(), idOrPrefix.toLowerCase() + "\uffff");
    if (rows.length === 1) {
      return showSilentHostsLost(db, [rowToExecution(rows[0])])[0];
    }
    if (rows.length > 1) {
      throw new StintError(
        `Run id prefix "${idOrPrefix}" is ambiguous; give more characters`,
      );
    }
  }
  throw new NotFoundError(`No run with id "${idOrPrefix}"; see stint history`);
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
  if (query.host !== undefined) {
    where.push("host_id = ?");
    params.push(query.host);
  }
  if (query.backgroundId !== undefined) {
    where.push("background_id = ?");
    params.push(query.backgroundId);
  }
  const sql = `SELECT * FROM executions${
    where.length ? ` WHERE ${where.join(" AND ")}` : ""
  } ORDER BY started_at DESC, id DESC LIMIT ?`;
  params.push(query.limit ?? -1);
  // Runs of hosts that went silent are shown lost (never written so here).
  return showSilentHostsLost(
    db,
    db.prepare(sql).all(...params).map(rowToExecution),
  );
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
 * Mark this host's `running` executions whose process is gone (or whose pid
 * now belongs to another program) as `lost`, and reclaim their scopes.
 * Called before every read that shows runs. Returns the ids marked lost.
 */
export function reconcileExecutions(db: Database): string[] {
  const host = hostId(db);
  const running = db.prepare(
    "SELECT id, pid, pid_start, scope_id FROM executions WHERE status = 'running' AND host_id = ?",
  ).all(host);
  const lost: { id: string; reason: string; scopeId: string | null }[] = [];
  for (const row of running) {
    const pid = row.pid === null ? null : Number(row.pid);
    const reason = processGoneReason(
      pid,
      row.pid_start === null ? null : String(row.pid_start),
    );
    // The leader is gone but its group is not: the run is still going
    // (stint drains what the group writes, or sees a signal through).
    if (
      reason && pid !== null && processStartTime(pid) === null &&
      groupHasMembers(pid)
    ) continue;
    if (reason) {
      lost.push({
        id: String(row.id),
        reason,
        scopeId: row.scope_id === null ? null : String(row.scope_id),
      });
    }
  }
  if (lost.length === 0) return [];
  transaction(db, () => {
    const now = Date.now();
    for (const l of lost) {
      db.prepare(
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
      );
      if (l.scopeId && l.scopeId !== "root") {
        db.prepare("DELETE FROM vars WHERE scope_id = ?").run(l.scopeId);
        db.prepare("DELETE FROM scopes WHERE id = ?").run(l.scopeId);
      }
    }
  });
  return lost.map((l) => l.id);
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
  };
}

/** The stable JSON shape of an execution (snake_case, ISO-8601 times). */
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
    duration_ms: e.durationMs,
    pid: e.pid,
    log_id: e.logId,
    host_id: e.hostId,
    background_id: e.backgroundId,
    parent_id: e.parentId,
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
