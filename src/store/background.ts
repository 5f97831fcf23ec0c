/**
 * Background run records: a detached supervisor that runs one execution.
 * @module
 */
import { AmbiguousIdError, NotFoundError } from "../errors.ts";
import {
  countWithPrefix,
  describeCandidates,
  markLost,
  nullableNumber,
  nullableString,
} from "./executions.ts";
import { writeTombstone } from "./replication/tombstones.ts";
import { showSilentHostsLost } from "./replication/liveness.ts";
import { hostId, nextSeq } from "./meta.ts";
import { transaction } from "./open.ts";
import { processWithArgv, runGoneReason } from "./process.ts";
import type { Database, Row } from "./sqlite.ts";

/** Status of a background run. */
export type BackgroundStatus =
  | "running"
  | "completed"
  | "failed"
  | "killed"
  | "lost";

/** A background run. Times are Unix milliseconds. */
export interface BackgroundRun {
  id: string;
  executionId: string | null;
  ref: string;
  command: string;
  pid: number | null;
  pgid: number | null;
  pidStart: string | null;
  startedAt: number;
  completedAt: number | null;
  status: BackgroundStatus;
  exitCode: number | null;
  error: string | null;
  logId: string | null;
  hostId: string;
}

/** Fields a caller may set when saving a background run. */
export type BackgroundRunInput =
  & Pick<BackgroundRun, "id" | "ref">
  & Partial<Omit<BackgroundRun, "id" | "ref" | "hostId">>;

/** Insert or update a background run (upsert by id). */
export function saveBackgroundRun(
  db: Database,
  run: BackgroundRunInput,
): BackgroundRun {
  return transaction(db, () => {
    const host = hostId(db);
    const existing = getBackgroundRunExact(db, run.id);
    const merged: BackgroundRun = {
      executionId: null,
      command: "",
      pid: null,
      pgid: null,
      pidStart: null,
      startedAt: Date.now(),
      completedAt: null,
      status: "running",
      exitCode: null,
      error: null,
      logId: null,
      ...existing,
      ...stripUndefined(run),
      id: run.id,
      ref: run.ref,
      hostId: existing?.hostId ?? host,
    };
    db.prepare(
      `INSERT INTO background_runs (id, execution_id, ref, command, pid, pgid, pid_start, started_at,
         completed_at, status, exit_code, error, log_id, host_id, origin, seq, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET execution_id = excluded.execution_id, ref = excluded.ref,
         command = excluded.command, pid = excluded.pid, pgid = excluded.pgid,
         pid_start = excluded.pid_start, started_at = excluded.started_at,
         completed_at = excluded.completed_at, status = excluded.status,
         exit_code = excluded.exit_code, error = excluded.error, log_id = excluded.log_id,
         origin = excluded.origin, seq = excluded.seq, updated_at = excluded.updated_at`,
    ).run(
      merged.id,
      merged.executionId,
      merged.ref,
      merged.command,
      merged.pid,
      merged.pgid,
      merged.pidStart,
      merged.startedAt,
      merged.completedAt,
      merged.status,
      merged.exitCode,
      merged.error,
      merged.logId,
      merged.hostId,
      host,
      nextSeq(db),
      Date.now(),
    );
    return merged;
  });
}

/** Get a background run by exact id. */
export function getBackgroundRunExact(
  db: Database,
  id: string,
): BackgroundRun | undefined {
  const row = db.prepare("SELECT * FROM background_runs WHERE id = ?").get(id);
  return row ? rowToBackgroundRun(row) : undefined;
}

/** The shortest background id prefix {@linkcode getBackgroundRun} accepts. */
export const MIN_BACKGROUND_PREFIX = 2;

/**
 * Get a background run by id or unique prefix: NotFoundError for none or a
 * prefix under {@linkcode MIN_BACKGROUND_PREFIX} characters, AmbiguousIdError
 * naming the candidates for an ambiguous one.
 */
export function getBackgroundRun(
  db: Database,
  idOrPrefix: string,
): BackgroundRun {
  const exact = getBackgroundRunExact(db, idOrPrefix);
  if (exact) return showSilentHostsLost(db, [exact])[0];
  if (/^[0-9a-z]+$/.test(idOrPrefix)) {
    if (idOrPrefix.length < MIN_BACKGROUND_PREFIX) {
      throw new NotFoundError(
        `Background run id prefix "${idOrPrefix}" is too short; give at least ${MIN_BACKGROUND_PREFIX} characters (see stint bg list --all)`,
      );
    }
    const rows = db.prepare(
      "SELECT * FROM background_runs WHERE id >= ? AND id < ? ORDER BY id LIMIT 4",
    ).all(idOrPrefix, idOrPrefix + "\uffff").map(rowToBackgroundRun);
    if (rows.length === 1) return showSilentHostsLost(db, rows)[0];
    if (rows.length > 1) {
      throw new AmbiguousIdError(
        `Background run id "${idOrPrefix}" is ambiguous: ${
          describeCandidates(
            rows,
            idOrPrefix.length,
            countWithPrefix(db, "background_runs", idOrPrefix),
          )
        }; give more characters`,
      );
    }
  }
  throw new NotFoundError(
    `No background run with id "${idOrPrefix}"; see stint bg list --all`,
  );
}

/** Background runs, newest first; running only unless `all`. */
export function listBackgroundRuns(
  db: Database,
  options?: { all?: boolean; limit?: number; finishedBefore?: number },
): BackgroundRun[] {
  const where: string[] = [];
  const params: (number | string)[] = [];
  if (!options?.all) where.push("status = 'running'");
  if (options?.finishedBefore !== undefined) {
    where.push("status != 'running' AND completed_at < ?");
    params.push(options.finishedBefore);
  }
  params.push(options?.limit ?? -1);
  // Runs of hosts that went silent are shown lost (never written so here).
  return showSilentHostsLost(
    db,
    db.prepare(
      `SELECT * FROM background_runs${
        where.length ? ` WHERE ${where.join(" AND ")}` : ""
      } ORDER BY started_at DESC, id DESC LIMIT ?`,
    ).all(...params).map(rowToBackgroundRun),
  );
}

/** Delete a background run record (leaves a tombstone so the delete syncs). */
export function deleteBackgroundRun(db: Database, id: string): boolean {
  return transaction(db, () => {
    const gone = db.prepare(
      "DELETE FROM background_runs WHERE id = ? RETURNING updated_at",
    ).get(id);
    if (gone) {
      writeTombstone(db, {
        kind: "background",
        key: id,
        previous: gone.updated_at,
      });
    }
    return gone !== undefined;
  });
}

/**
 * Mark this host's running background runs as `lost` when neither their
 * supervisor (or, before it is known, the process that started the run) nor
 * their task lives. Returns the ids marked lost.
 */
export function reconcileBackgroundRuns(db: Database): string[] {
  const host = hostId(db);
  const rows = db.prepare(
    `SELECT b.id, b.pid, b.pid_start, b.execution_id, e.status AS exec_status,
       e.pid AS task_pid, e.pid_start AS task_start
     FROM background_runs b LEFT JOIN executions e ON e.id = b.execution_id
     WHERE b.status = 'running' AND b.host_id = ?`,
  ).all(host);
  const lost: { id: string; reason: string }[] = [];
  for (const r of rows) {
    const pid = nullableNumber(r.pid);
    const taskPid = r.exec_status === "running"
      ? nullableNumber(r.task_pid)
      : null;
    const reason = runGoneReason({
      runId: nullableString(r.execution_id) ?? "",
      recorder: pid === null
        ? null
        : { pid, pidStart: nullableString(r.pid_start) },
      task: taskPid === null
        ? null
        : { pid: taskPid, pidStart: nullableString(r.task_start) },
    });
    if (reason && !supervisorStarting(String(r.id), r.execution_id)) {
      lost.push({ id: String(r.id), reason });
    }
  }
  if (lost.length === 0) return [];
  if (
    !markLost(db, () => {
      const now = Date.now();
      for (const l of lost) {
        db.prepare(
          `UPDATE background_runs SET status = 'lost', error = ?, completed_at = ?, seq = ?, updated_at = ?
         WHERE id = ? AND status = 'running'`,
        ).run(`Supervisor lost: ${l.reason}`, now, nextSeq(db), now, l.id);
      }
    })
  ) return [];
  return lost.map((l) => l.id);
}

/**
 * Whether the supervisor of background run `id` is running although the
 * record does not name it yet: the process that started the run died
 * between spawning it and writing its pid, and the supervisor has not
 * recorded itself yet. It is found by its command line (`bg __supervise`
 * with this run's payload).
 */
function supervisorStarting(id: string, exec: unknown): boolean {
  const byFile = typeof exec === "string" ? `@${exec}` : null;
  return processWithArgv((argv) => {
    const at = argv.indexOf("__supervise");
    if (at < 0 || at + 1 >= argv.length) return false;
    const payload = argv[at + 1];
    return payload === byFile || payload.includes(`"bg":"${id}"`);
  }) !== null;
}

/** Map a row to a {@linkcode BackgroundRun}. */
export function rowToBackgroundRun(r: Row): BackgroundRun {
  return {
    id: String(r.id),
    executionId: nullableString(r.execution_id),
    ref: String(r.ref),
    command: String(r.command ?? ""),
    pid: nullableNumber(r.pid),
    pgid: nullableNumber(r.pgid),
    pidStart: nullableString(r.pid_start),
    startedAt: Number(r.started_at),
    completedAt: nullableNumber(r.completed_at),
    status: String(r.status) as BackgroundStatus,
    exitCode: nullableNumber(r.exit_code),
    error: nullableString(r.error),
    logId: nullableString(r.log_id),
    hostId: String(r.host_id),
  };
}

/**
 * The status word shown for a background run: the execution vocabulary
 * (`succeeded`, not the stored `completed`), so `bg` and `history` say the
 * same thing about the same run.
 */
export function backgroundStatusWord(status: BackgroundStatus): string {
  return status === "completed" ? "succeeded" : status;
}

/** The stable JSON shape of a background run. */
export function backgroundRunToJson(b: BackgroundRun): Record<string, unknown> {
  return {
    id: b.id,
    execution_id: b.executionId,
    ref: b.ref,
    command: b.command,
    status: backgroundStatusWord(b.status),
    exit_code: b.exitCode,
    error: b.error,
    pid: b.pid,
    pgid: b.pgid,
    started_at: new Date(b.startedAt).toISOString(),
    completed_at: b.completedAt === null
      ? null
      : new Date(b.completedAt).toISOString(),
    duration_ms: (b.completedAt ?? Date.now()) - b.startedAt,
    log_id: b.logId,
    host_id: b.hostId,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}
