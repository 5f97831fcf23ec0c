/**
 * Read-side aggregates over execution history: counts, duration percentiles
 * and recent durations per ref, computed in SQL so a store with a million
 * rows answers without loading them.
 * @module
 */
import type { Database, SqlValue } from "./sqlite.ts";

/**
 * Runs whose duration says how long the work takes: they ran to their own
 * end. Killed and lost runs measure the interruption, not the task.
 */
const TIMED = "status IN ('succeeded', 'failed') AND duration_ms IS NOT NULL";

/** Aggregates for one ref. Durations are milliseconds. */
export interface RefStats {
  ref: string;
  runs: number;
  succeeded: number;
  failed: number;
  killed: number;
  lost: number;
  running: number;
  /** succeeded / finished runs (running ones excluded); null with none finished. */
  successRate: number | null;
  /** Nearest-rank percentiles of the timed runs; null with none. */
  p50Ms: number | null;
  p95Ms: number | null;
  /** Durations of the most recent timed runs, oldest first. */
  recentMs: number[];
  lastStartedAt: number;
  lastStatus: string;
}

/** Count the executions of `ref` (every ref when omitted). */
export function countExecutions(
  db: Database,
  options: { ref?: string; status?: string } = {},
): number {
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (options.ref !== undefined) {
    where.push("ref = ?");
    params.push(options.ref);
  }
  if (options.status !== undefined) {
    where.push("status = ?");
    params.push(options.status);
  }
  const row = db.prepare(
    `SELECT COUNT(*) AS n FROM executions${
      where.length ? ` WHERE ${where.join(" AND ")}` : ""
    }`,
  ).get(...params);
  return Number(row?.n ?? 0);
}

/**
 * Nearest-rank percentiles of the timed runs of `ref` (one sort in SQL).
 * Returns null for each percentile when the ref has no timed runs.
 */
export function durationPercentiles(
  db: Database,
  ref: string,
  percentiles: number[],
): (number | null)[] {
  const n = Number(
    db.prepare(
      `SELECT COUNT(*) AS n FROM executions WHERE ref = ? AND ${TIMED}`,
    ).get(ref)?.n ?? 0,
  );
  if (n === 0) return percentiles.map(() => null);
  const ranks = percentiles.map((p) => nearestRank(p, n));
  const cols = ranks.map((_, i) => `MAX(CASE WHEN rn = ? THEN d END) AS p${i}`)
    .join(", ");
  const row = db.prepare(
    `SELECT ${cols} FROM (
       SELECT duration_ms AS d, ROW_NUMBER() OVER (ORDER BY duration_ms) AS rn
       FROM executions WHERE ref = ? AND ${TIMED}
     )`,
  ).get(...ranks, ref);
  return ranks.map((_, i) => {
    const v = row?.[`p${i}`];
    return v === null || v === undefined ? null : Number(v);
  });
}

/** The 1-based nearest-rank index of percentile `p` among `n` sorted values. */
export function nearestRank(p: number, n: number): number {
  return Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
}

/** Durations of the `limit` most recent timed runs of `ref`, oldest first. */
export function recentDurations(
  db: Database,
  ref: string,
  limit: number,
): number[] {
  return db.prepare(
    `SELECT duration_ms FROM executions WHERE ref = ? AND ${TIMED}
     ORDER BY started_at DESC, id DESC LIMIT ?`,
  ).all(ref, limit).map((r) => Number(r.duration_ms)).reverse();
}

/**
 * Stats for `ref`, or for every ref (most recently run first) when omitted.
 * `recent` is how many recent durations to return per ref (default 20).
 */
export function refStats(
  db: Database,
  options: { ref?: string; recent?: number } = {},
): RefStats[] {
  const recent = options.recent ?? 20;
  const counts = db.prepare(
    `SELECT ref, COUNT(*) AS runs,
       SUM(status = 'succeeded') AS succeeded, SUM(status = 'failed') AS failed,
       SUM(status = 'killed') AS killed, SUM(status = 'lost') AS lost,
       SUM(status = 'running') AS running, MAX(started_at) AS last_started_at
     FROM executions${options.ref !== undefined ? " WHERE ref = ?" : ""}
     GROUP BY ref ORDER BY last_started_at DESC, ref`,
  ).all(...(options.ref !== undefined ? [options.ref] : []));
  return counts.map((c) => {
    const ref = String(c.ref);
    const runs = Number(c.runs);
    const running = Number(c.running);
    const succeeded = Number(c.succeeded);
    const finished = runs - running;
    const [p50Ms, p95Ms] = durationPercentiles(db, ref, [50, 95]);
    const last = db.prepare(
      "SELECT status FROM executions WHERE ref = ? ORDER BY started_at DESC, id DESC LIMIT 1",
    ).get(ref);
    return {
      ref,
      runs,
      succeeded,
      failed: Number(c.failed),
      killed: Number(c.killed),
      lost: Number(c.lost),
      running,
      successRate: finished > 0 ? succeeded / finished : null,
      p50Ms,
      p95Ms,
      recentMs: recentDurations(db, ref, recent),
      lastStartedAt: Number(c.last_started_at),
      lastStatus: String(last?.status ?? ""),
    };
  });
}

/** The stable JSON shape of {@linkcode RefStats} (snake_case, ISO-8601). */
export function refStatsToJson(s: RefStats): Record<string, unknown> {
  return {
    ref: s.ref,
    runs: s.runs,
    succeeded: s.succeeded,
    failed: s.failed,
    killed: s.killed,
    lost: s.lost,
    running: s.running,
    success_rate: s.successRate,
    p50_ms: s.p50Ms,
    p95_ms: s.p95Ms,
    recent_ms: s.recentMs,
    last_started_at: new Date(s.lastStartedAt).toISOString(),
    last_status: s.lastStatus,
  };
}

/**
 * The shortest prefix of `id` (at least `min` characters, never ending on a
 * hyphen) that no other execution id in the store starts with.
 */
export function uniqueIdPrefix(db: Database, id: string, min = 8): string {
  const stmt = db.prepare(
    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM executions WHERE id >= ? AND id < ? LIMIT 2)",
  );
  for (let len = Math.min(min, id.length); len < id.length; len++) {
    const prefix = id.slice(0, len);
    if (prefix.endsWith("-")) continue;
    const n = Number(stmt.get(prefix, prefix + "\uffff")?.n ?? 0);
    if (n <= 1) return prefix;
  }
  return id;
}
