/**
 * Read-side aggregates over execution history. Rates and percentiles cover
 * each ref's newest runs (a window, 1,000 by default) read through the
 * (ref, started_at) index, so a store with a million rows answers in well
 * under a second, and the figures describe the task as it is now rather
 * than as it was a year ago. Run totals use the covering index only.
 * @module
 */
import type { ExecutionStatus } from "./executions.ts";
import type { Database, SqlValue } from "./sqlite.ts";

/** How many of a ref's newest runs rates and percentiles cover by default. */
export const DEFAULT_WINDOW = 1000;

/** Aggregates for one ref. Durations are milliseconds. */
export interface RefStats {
  ref: string;
  /** Every run of the ref ever recorded. */
  runs: number;
  lastStartedAt: number;
  lastStatus: ExecutionStatus;
  /** How many runs the figures below cover (the newest, up to the window). */
  window: number;
  succeeded: number;
  failed: number;
  killed: number;
  lost: number;
  running: number;
  /** succeeded / finished runs in the window; null with none finished. */
  successRate: number | null;
  /** Nearest-rank percentiles of the timed runs in the window; null with none. */
  p50Ms: number | null;
  p95Ms: number | null;
  /** Durations of the most recent timed runs, oldest first. */
  recentMs: number[];
}

/** One run as the aggregates see it. */
interface RunFacts {
  status: ExecutionStatus;
  durationMs: number | null;
}

/**
 * Whether a run's duration says how long the work takes: it ran to its own
 * end. Killed and lost runs measure the interruption, not the task.
 */
function timed(r: RunFacts): r is RunFacts & { durationMs: number } {
  return (r.status === "succeeded" || r.status === "failed") &&
    r.durationMs !== null;
}

/** Count the executions, optionally of one ref and/or one status. */
export function countExecutions(
  db: Database,
  options: { ref?: string; status?: ExecutionStatus } = {},
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

/** The newest `limit` runs of `ref` (status and duration only), newest first. */
function newestRuns(db: Database, ref: string, limit: number): RunFacts[] {
  return db.prepare(
    `SELECT status, duration_ms FROM executions WHERE ref = ?
     ORDER BY started_at DESC, id DESC LIMIT ?`,
  ).all(ref, limit).map((r) => ({
    status: String(r.status) as ExecutionStatus,
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
  }));
}

/** The 1-based nearest-rank index of percentile `p` among `n` sorted values. */
export function nearestRank(p: number, n: number): number {
  return Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
}

/** Nearest-rank percentiles of `values` (null each when empty). */
export function percentiles(
  values: number[],
  ps: number[],
): (number | null)[] {
  if (values.length === 0) return ps.map(() => null);
  const sorted = [...values].sort((a, b) => a - b);
  return ps.map((p) => sorted[nearestRank(p, sorted.length) - 1]);
}

/**
 * The median duration of the timed runs among the newest `window` runs of
 * `ref`, or null when there are none.
 */
export function medianDuration(
  db: Database,
  ref: string,
  window: number = DEFAULT_WINDOW,
): number | null {
  const durations = newestRuns(db, ref, window).filter(timed).map((r) =>
    r.durationMs
  );
  return percentiles(durations, [50])[0];
}

/**
 * Stats for `ref`, or for every ref (most recently run first) when omitted.
 * `recent` is how many recent durations to return per ref (default 20);
 * `window` how many newest runs the rates and percentiles cover.
 */
export function refStats(
  db: Database,
  options: { ref?: string; recent?: number; window?: number } = {},
): RefStats[] {
  const recent = options.recent ?? 20;
  const window = options.window ?? DEFAULT_WINDOW;
  // Index-only: totals and the latest start per ref.
  const totals = db.prepare(
    `SELECT ref, COUNT(*) AS runs, MAX(started_at) AS last_started_at
     FROM executions${options.ref !== undefined ? " WHERE ref = ?" : ""}
     GROUP BY ref ORDER BY last_started_at DESC, ref`,
  ).all(...(options.ref !== undefined ? [options.ref] : []));
  return totals.map((t) => {
    const ref = String(t.ref);
    // The sparkline may reach further back than a small window.
    const fetched = newestRuns(db, ref, Math.max(window, recent));
    const runs = fetched.slice(0, window);
    const count = (s: ExecutionStatus) =>
      runs.filter((r) => r.status === s).length;
    const running = count("running");
    const succeeded = count("succeeded");
    const finished = runs.length - running;
    const durations = runs.filter(timed).map((r) => r.durationMs);
    const [p50Ms, p95Ms] = percentiles(durations, [50, 95]);
    return {
      ref,
      runs: Number(t.runs),
      lastStartedAt: Number(t.last_started_at),
      lastStatus: runs[0]?.status ?? "lost",
      window: runs.length,
      succeeded,
      failed: count("failed"),
      killed: count("killed"),
      lost: count("lost"),
      running,
      successRate: finished > 0 ? succeeded / finished : null,
      p50Ms,
      p95Ms,
      recentMs: fetched.filter(timed).slice(0, recent).map((r) => r.durationMs)
        .reverse(),
    };
  });
}

/** The stable JSON shape of {@linkcode RefStats} (snake_case, ISO-8601). */
export function refStatsToJson(s: RefStats): Record<string, unknown> {
  return {
    ref: s.ref,
    runs: s.runs,
    last_started_at: new Date(s.lastStartedAt).toISOString(),
    last_status: s.lastStatus,
    window: s.window,
    succeeded: s.succeeded,
    failed: s.failed,
    killed: s.killed,
    lost: s.lost,
    running: s.running,
    success_rate: s.successRate,
    p50_ms: s.p50Ms,
    p95_ms: s.p95Ms,
    recent_ms: s.recentMs,
  };
}

/**
 * The shortest prefix of `id` (at least `min` characters, never ending on a
 * hyphen) that no other execution id in the store starts with: one past the
 * longest prefix it shares with its neighbours in id order (two index probes).
 */
export function uniqueIdPrefix(db: Database, id: string, min = 8): string {
  const before = db.prepare(
    "SELECT id FROM executions WHERE id < ? ORDER BY id DESC LIMIT 1",
  ).get(id);
  const after = db.prepare(
    "SELECT id FROM executions WHERE id > ? ORDER BY id LIMIT 1",
  ).get(id);
  let shared = 0;
  for (const other of [before?.id, after?.id]) {
    if (typeof other === "string") {
      shared = Math.max(shared, commonPrefixLength(id, other));
    }
  }
  let len = Math.max(min, shared + 1);
  while (len < id.length && id[len - 1] === "-") len++;
  return id.slice(0, Math.min(len, id.length));
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
