/**
 * Retention: which finished runs a policy lets go, and removing them.
 *
 * A policy has two rules, either may be off: runs started longer ago than
 * `olderThanMs`, and runs beyond the newest `keep` of their ref. A run goes
 * only when every rule that is on says so, and never while it is running.
 * The default (90 days, and the newest 100 runs of every ref whatever their
 * age) forgets nothing a person would miss.
 *
 * A removed run leaves a tombstone stamped after it (`writeTombstone`), so
 * the removal syncs and every host converges on the same history; its
 * background run record goes with it, and the caller removes the log files
 * the records named. Candidates are read per ref through the
 * `(ref, started_at)` index, oldest first, at most `limit` at a time, so an
 * automatic pass stays short however long the history is.
 * @module
 */
import { transaction } from "./open.ts";
import { refsByLastRun } from "./history_page.ts";
import { isValidLogId, logPath } from "./paths.ts";
import { writeTombstone } from "./replication/tombstones.ts";
import type { Database, SqlValue } from "./sqlite.ts";

/** What a retention policy keeps. */
export interface RetentionPolicy {
  /** Finished runs started longer ago than this may go (ms); null: age keeps nothing. */
  olderThanMs: number | null;
  /** The newest `keep` runs of each ref always stay; null: no count keeps anything. */
  keep: number | null;
}

const DAY = 86_400_000;

/** The default policy: 90 days, and at least the newest 100 runs of each ref. */
export const DEFAULT_RETENTION: RetentionPolicy = {
  olderThanMs: 90 * DAY,
  keep: 100,
};

/** A run a policy lets go. */
export interface PruneCandidate {
  /** Execution id. */
  id: string;
  /** Its ref. */
  ref: string;
  /** When it started. */
  startedAt: number;
  /** The host that recorded it. */
  hostId: string;
  /** Its log id, when it has one. */
  logId: string | null;
}

/** What {@linkcode planPrune} found. */
export interface PrunePlan {
  /** The runs to remove, oldest first within each ref. */
  runs: PruneCandidate[];
  /** Whether more would go than `limit` allowed. */
  more: boolean;
}

/** Options of a plan. */
export interface PlanOptions {
  /** Only this ref. */
  ref?: string;
  /** Now (ms), for the age rule. */
  now?: number;
  /** At most this many runs (default: all). */
  limit?: number;
}

/** Describe a policy in a few words: `older than 90d beyond the newest 100 per ref`. */
export function describePolicy(policy: RetentionPolicy): string {
  const age = policy.olderThanMs === null
    ? null
    : `older than ${formatDays(policy.olderThanMs)}`;
  const keep = policy.keep === null
    ? null
    : `beyond the newest ${policy.keep} of their ref`;
  return [age, keep].filter((s) => s !== null).join(" and ") ||
    "none (no rule is set)";
}

function formatDays(ms: number): string {
  if (ms % DAY === 0) return `${ms / DAY}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

/**
 * The finished runs `policy` lets go (none when both rules are off). Reads
 * only: one index seek per ref for the count rule's boundary, then the
 * ref's old runs by index.
 */
export function planPrune(
  db: Database,
  policy: RetentionPolicy,
  options: PlanOptions = {},
): PrunePlan {
  const plan: PrunePlan = { runs: [], more: false };
  if (policy.olderThanMs === null && policy.keep === null) return plan;
  const now = options.now ?? Date.now();
  const cutoff = policy.olderThanMs === null
    ? Number.MAX_SAFE_INTEGER
    : now - policy.olderThanMs;
  const limit = options.limit ?? Infinity;
  const refs = options.ref !== undefined
    ? [options.ref]
    : refsByLastRun(db).map((r) => r.ref);
  for (const ref of refs) {
    const left = limit - plan.runs.length;
    if (left <= 0) {
      plan.more = true;
      break;
    }
    const found = refCandidates(db, ref, policy.keep, cutoff, left + 1);
    if (found.length > left) {
      plan.more = true;
      found.length = left;
    }
    plan.runs.push(...found);
  }
  return plan;
}

/** `ref`'s finished runs before both boundaries, oldest first, at most `limit`. */
function refCandidates(
  db: Database,
  ref: string,
  keep: number | null,
  cutoff: number,
  limit: number,
): PruneCandidate[] {
  // The keep-th newest run (start time, then rowid: the order of the
  // index) is the oldest one kept; only runs before it may go.
  let boundary: { at: number; rowid: number } | null = null;
  if (keep !== null && keep > 0) {
    const row = db.prepare(
      `SELECT started_at, rowid FROM executions WHERE ref = ?
       ORDER BY started_at DESC, rowid DESC LIMIT 1 OFFSET ?`,
    ).get(ref, keep - 1);
    if (!row) return []; // fewer runs than keep
    boundary = { at: Number(row.started_at), rowid: Number(row.rowid) };
  }
  const params: SqlValue[] = [ref, cutoff];
  let before = "";
  if (boundary) {
    before = " AND (started_at < ? OR (started_at = ? AND rowid < ?))";
    params.push(boundary.at, boundary.at, boundary.rowid);
  }
  params.push(Number.isFinite(limit) ? limit : -1); // -1: no limit
  return db.prepare(
    `SELECT id, ref, started_at, host_id, log_id FROM executions
     WHERE ref = ? AND started_at < ?${before} AND +status != 'running'
     ORDER BY started_at, rowid LIMIT ?`,
  ).all(...params).map((r) => ({
    id: String(r.id),
    ref: String(r.ref),
    startedAt: Number(r.started_at),
    hostId: String(r.host_id),
    logId: r.log_id === null ? null : String(r.log_id),
  }));
}

/** What {@linkcode pruneRuns} removed. */
export interface PruneResult {
  /** Executions removed. */
  runs: number;
  /** Background run records removed with them. */
  background: number;
  /** The log ids their records named (valid ones), for the caller to remove. */
  logIds: string[];
}

const BATCH = 500;

/**
 * Remove `runs` (a plan's), each with a tombstone stamped after it, in
 * short transactions. A run that is running by now (it cannot be, once
 * finished, but the store is shared) or is gone already is skipped.
 */
export function pruneRuns(
  db: Database,
  runs: PruneCandidate[],
): PruneResult {
  const result: PruneResult = { runs: 0, background: 0, logIds: [] };
  for (let i = 0; i < runs.length; i += BATCH) {
    const batch = runs.slice(i, i + BATCH);
    transaction(db, () => {
      for (const run of batch) {
        const gone = db.prepare(
          "DELETE FROM executions WHERE id = ? AND status != 'running' RETURNING updated_at, log_id",
        ).get(run.id);
        if (!gone) continue;
        result.runs++;
        writeTombstone(db, {
          kind: "execution",
          key: run.id,
          previous: gone.updated_at,
        });
        db.prepare("DELETE FROM execution_extras WHERE execution_id = ?").run(
          run.id,
        );
        db.prepare("DELETE FROM execution_cwd WHERE execution_id = ?").run(
          run.id,
        );
        if (typeof gone.log_id === "string") forgetLog(db, gone.log_id);
        if (typeof gone.log_id === "string" && isValidLogId(gone.log_id)) {
          result.logIds.push(gone.log_id);
        }
      }
      result.background += pruneBackground(db, batch.map((r) => r.id), result);
    });
  }
  return result;
}

/** Remove the finished background runs of the executions `ids`. */
function pruneBackground(
  db: Database,
  ids: string[],
  result: PruneResult,
): number {
  if (ids.length === 0) return 0;
  const rows = db.prepare(
    `SELECT id, updated_at, log_id FROM background_runs
     WHERE status != 'running' AND execution_id IN (${
      ids.map(() => "?").join(", ")
    })`,
  ).all(...ids);
  for (const row of rows) {
    db.prepare("DELETE FROM background_runs WHERE id = ?").run(row.id);
    writeTombstone(db, {
      kind: "background",
      key: String(row.id),
      previous: row.updated_at,
    });
    if (typeof row.log_id === "string" && isValidLogId(row.log_id)) {
      result.logIds.push(row.log_id); // the caller removes each file once
    }
  }
  return rows.length;
}

/** Local facts about a log that go with its run. */
function forgetLog(db: Database, logId: string): void {
  db.prepare("DELETE FROM log_blobs WHERE log_id = ?").run(logId);
  db.prepare("DELETE FROM pruned_logs WHERE log_id = ?").run(logId);
}

/**
 * Remove the log files of `logIds` (ids a store's records named; nothing
 * else is ever removed). Returns how many files and bytes went.
 */
export function removeLogFiles(
  dbPath: string,
  logIds: Iterable<string>,
): { files: number; bytes: number } {
  let files = 0, bytes = 0;
  for (const id of logIds) {
    if (!isValidLogId(id)) continue;
    const path = logPath(dbPath, id);
    try {
      const st = Deno.lstatSync(path);
      if (st.isDirectory) continue;
      Deno.removeSync(path);
      files++;
      bytes += st.isFile ? st.size : 0;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return { files, bytes };
}
