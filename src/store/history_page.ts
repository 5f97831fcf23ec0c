/**
 * Paged, filtered reads of execution history for listings that must stay
 * fast on a store of any size (the dashboard; `stint history` can use them
 * too). Pages are keyset-paged on `(started_at, rowid)`, newest first, so page
 * 10,000 costs what page 1 costs. Each query walks one index in start order:
 * `(ref, started_at)` when a ref is given, else `(host_id, started_at)`,
 * else `(status, started_at)`, else `(started_at)`. Filters that index does
 * not answer (text, or a second equality) are checked row by row over at
 * most `scanLimit` rows per page; when that runs out before the page fills,
 * the page says where the scan stopped and the next page goes on from there.
 * @module
 */
import {
  type Execution,
  type ExecutionStatus,
  rowToExecution,
} from "./executions.ts";
import { type BackgroundRun, rowToBackgroundRun } from "./background.ts";
import { showSilentHostsLost } from "./replication/liveness.ts";
import type { Database, SqlValue } from "./sqlite.ts";

/** Filters of a history listing. Times are Unix ms. */
export interface HistoryFilter {
  /** Exactly this ref. */
  ref?: string;
  /** Only runs with this status. */
  status?: ExecutionStatus;
  /** Only runs recorded on this host id. */
  host?: string;
  /** Started at or after this time. */
  since?: number;
  /** Started before this time. */
  until?: number;
  /**
   * Case-insensitive (ASCII) substring of the ref, the command line or the
   * error, or a prefix of the id.
   */
  text?: string;
}

/**
 * A position in start order: a run's start time and its rowid (which
 * orders runs that started in the same millisecond). A rowid means nothing
 * outside this file's copy of the store, so a cursor is for paging only.
 */
export interface HistoryCursor {
  startedAt: number;
  rowid: number;
}

/** A page request: filters, size and where to start. */
export interface HistoryPageQuery extends HistoryFilter {
  /** Runs per page (default 50). */
  limit?: number;
  /** Only runs older than this (the next page down). */
  before?: HistoryCursor;
  /** Only runs newer than this (the page above); ignored with `before`. */
  after?: HistoryCursor;
  /** Rows examined at most for filters the index does not answer (default 50,000). */
  scanLimit?: number;
}

/** One page of history, newest first. */
export interface HistoryPage {
  runs: Execution[];
  /** Pass as `before` for the next older page; null when nothing is older. */
  older: HistoryCursor | null;
  /** Pass as `after` for the newer page; null on the newest page. */
  newer: HistoryCursor | null;
  /**
   * Set when the row budget ran out before the page filled: the scan
   * stopped at `older`, and runs older than it were not looked at yet.
   */
  partial: boolean;
  /** Rows the budgeted scan looked at when it ran out (else 0). */
  scanned: number;
}

/** The default page size. */
export const DEFAULT_PAGE_SIZE = 50;
/** The default row budget for filters the index does not answer. */
export const DEFAULT_SCAN_LIMIT = 50_000;

/** One page of history matching `query` (see the module doc for the cost). */
export function queryHistory(
  db: Database,
  query: HistoryPageQuery = {},
): HistoryPage {
  const limit = Math.max(1, Math.min(query.limit ?? DEFAULT_PAGE_SIZE, 1000));
  const scanLimit = Math.max(limit, query.scanLimit ?? DEFAULT_SCAN_LIMIT);
  const up = query.before === undefined && query.after !== undefined;
  const plan = planQuery(query, up ? query.after! : query.before, up);
  const order = up ? "ASC" : "DESC";
  // Ties in start time are broken by rowid, which every index holds in
  // order: no sort step, whatever the page.
  const where = plan.indexed.join(" AND ");
  const inner = `SELECT rowid AS row_id, * FROM executions WHERE ${where}
    ORDER BY started_at ${order}, rowid ${order}`;
  let rows;
  let stop: HistoryCursor | null = null;
  if (plan.residual.length === 0) {
    rows = db.prepare(`${inner} LIMIT ?`).all(...plan.params, limit + 1);
  } else {
    rows = db.prepare(
      `SELECT * FROM (${inner} LIMIT ?) WHERE ${
        plan.residual.join(" AND ")
      } LIMIT ?`,
    ).all(...plan.params, scanLimit, ...plan.residualParams, limit + 1);
    if (rows.length <= limit) {
      // A short page: the scan ran out of rows, or of budget at its last
      // row (when there is a row after it).
      const edge = db.prepare(
        `SELECT started_at, rowid AS row_id FROM executions WHERE ${where}
         ORDER BY started_at ${order}, rowid ${order} LIMIT 2 OFFSET ?`,
      ).all(...plan.params, scanLimit - 1);
      if (edge.length === 2) stop = cursorOf(edge[0]);
    }
  }
  const more = rows.length > limit;
  // The page's extras (rerun of, wildcard matches, caller cwd): key lookups.
  const extras = db.prepare(
    "SELECT rerun_of, matched_tasks FROM execution_extras WHERE execution_id = ?",
  );
  const cwds = db.prepare(
    "SELECT caller_cwd FROM execution_cwd WHERE execution_id = ?",
  );
  const page = rows.slice(0, limit).map((r) => ({
    run: rowToExecution({ ...r, ...extras.get(r.id), ...cwds.get(r.id) }),
    at: cursorOf(r),
  }));
  page.sort((a, b) =>
    b.at.startedAt - a.at.startedAt || b.at.rowid - a.at.rowid
  );
  const first = page[0]?.at ?? null;
  const last = page.at(-1)?.at ?? null;
  const partial = stop !== null;
  // Runs of hosts that went silent are shown lost, as everywhere.
  const runs = showSilentHostsLost(db, page.map((p) => p.run));
  const scanned = partial ? scanLimit : 0;
  if (up) {
    return {
      runs,
      newer: more ? first : stop,
      older: last ?? query.after ?? null,
      partial,
      scanned,
    };
  }
  return {
    runs,
    older: more ? last : stop,
    newer: query.before ? first ?? query.before : null,
    partial,
    scanned,
  };
}

function cursorOf(row: Record<string, SqlValue>): HistoryCursor {
  return { startedAt: Number(row.started_at), rowid: Number(row.row_id) };
}

interface Plan {
  /** Conditions the chosen index answers (equality prefix + start range). */
  indexed: string[];
  params: SqlValue[];
  /** Conditions checked row by row. */
  residual: string[];
  residualParams: SqlValue[];
}

/**
 * Pick the index (the first of ref, host, status given) and split the
 * filters. A unary `+` keeps SQLite from using another index for the
 * residual equalities, so the scan order is the chosen index's.
 */
function planQuery(
  q: HistoryPageQuery,
  cursor: HistoryCursor | undefined,
  up: boolean,
): Plan {
  const plan: Plan = {
    indexed: [],
    params: [],
    residual: [],
    residualParams: [],
  };
  const equalities: [string, SqlValue | undefined][] = [
    ["ref", q.ref],
    ["host_id", q.host],
    ["status", q.status],
  ];
  let primary = false;
  for (const [col, value] of equalities) {
    if (value === undefined) continue;
    if (!primary) {
      plan.indexed.push(`${col} = ?`);
      plan.params.push(value);
      primary = true;
    } else {
      plan.residual.push(`+${col} = ?`);
      plan.residualParams.push(value);
    }
  }
  if (q.since !== undefined) {
    plan.indexed.push("started_at >= ?");
    plan.params.push(q.since);
  }
  if (q.until !== undefined) {
    plan.indexed.push("started_at < ?");
    plan.params.push(q.until);
  }
  if (cursor !== undefined) {
    // The first conjunct is an index range; the second breaks ties by id.
    plan.indexed.push(
      up
        ? "started_at >= ? AND (started_at > ? OR rowid > ?)"
        : "started_at <= ? AND (started_at < ? OR rowid < ?)",
    );
    plan.params.push(cursor.startedAt, cursor.startedAt, cursor.rowid);
  }
  if (plan.indexed.length === 0) plan.indexed.push("1");
  const text = q.text?.trim();
  if (text) {
    const like = `%${escapeLike(text)}%`;
    plan.residual.push(
      "(ref LIKE ? ESCAPE '\\' OR command LIKE ? ESCAPE '\\' OR error LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\')",
    );
    plan.residualParams.push(like, like, like, `${escapeLike(text)}%`);
  }
  return plan;
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A ref and when it last ran. */
export interface RefLastRun {
  ref: string;
  lastStartedAt: number;
}

/**
 * Every distinct ref with its latest start, most recently run first: one
 * index seek per ref (a skip-scan of `(ref, started_at)`), not a scan of the
 * runs. `text` keeps refs containing it (case-insensitive).
 */
export function refsByLastRun(
  db: Database,
  options: { text?: string } = {},
): RefLastRun[] {
  const rows = db.prepare(
    `WITH RECURSIVE r(ref) AS (
       SELECT MIN(ref) FROM executions
       UNION ALL
       SELECT (SELECT MIN(ref) FROM executions WHERE ref > r.ref) FROM r WHERE r.ref IS NOT NULL
     )
     SELECT ref, (SELECT MAX(started_at) FROM executions e WHERE e.ref = r.ref) AS last
     FROM r WHERE ref IS NOT NULL`,
  ).all();
  const needle = options.text?.trim().toLowerCase();
  return rows
    .map((r) => ({ ref: String(r.ref), lastStartedAt: Number(r.last) }))
    .filter((r) => !needle || r.ref.toLowerCase().includes(needle))
    .sort((a, b) =>
      b.lastStartedAt - a.lastStartedAt || (a.ref < b.ref ? -1 : 1)
    );
}

/** What the store knows of one host's runs. */
export interface HostRuns {
  hostId: string;
  /** Every run recorded for the host. */
  runs: number;
  /** Its runs recorded as running right now. */
  running: number;
  lastStartedAt: number | null;
}

/**
 * Every host that has recorded runs here, with its run count, running runs
 * and latest start: a skip-scan of `(host_id, started_at)`, then one count
 * of each host's index range, except for this host (`self`, usually the
 * biggest), whose count is the total (a count of the smallest index) less
 * the others'.
 */
export function hostRuns(db: Database, self: string | null = null): HostRuns[] {
  const hosts = db.prepare(
    `WITH RECURSIVE h(host) AS (
       SELECT MIN(host_id) FROM executions
       UNION ALL
       SELECT (SELECT MIN(host_id) FROM executions WHERE host_id > h.host) FROM h WHERE h.host IS NOT NULL
     )
     SELECT host,
       (SELECT COUNT(*) FROM executions e WHERE e.status = 'running' AND +e.host_id = h.host) AS running,
       (SELECT MAX(started_at) FROM executions e WHERE e.host_id = h.host) AS last
     FROM h WHERE host IS NOT NULL`,
  ).all();
  const count = db.prepare(
    "SELECT COUNT(*) AS n FROM executions WHERE host_id = ?",
  );
  const out: HostRuns[] = hosts.map((r) => ({
    hostId: String(r.host),
    runs: String(r.host) === self ? 0 : Number(count.get(r.host)?.n ?? 0),
    running: Number(r.running),
    lastStartedAt: r.last === null ? null : Number(r.last),
  }));
  const mine = out.find((h) => h.hostId === self);
  if (mine) {
    const total = Number(
      db.prepare("SELECT COUNT(*) AS n FROM executions").get()?.n ?? 0,
    );
    mine.runs = total - out.reduce((n, h) => n + h.runs, 0);
  }
  return out.sort((a, b) => (b.lastStartedAt ?? 0) - (a.lastStartedAt ?? 0));
}

/**
 * Finished background runs, newest first, `limit` at a time; `before` (the
 * last run of the previous page) gives the next page. Running ones come
 * from `listBackgroundRuns`.
 */
export function finishedBackgroundPage(
  db: Database,
  options: { before?: HistoryCursor; limit?: number } = {},
): { runs: BackgroundRun[]; older: HistoryCursor | null } {
  const limit = options.limit ?? DEFAULT_PAGE_SIZE;
  const b = options.before;
  const rows = db.prepare(
    `SELECT rowid AS row_id, * FROM background_runs WHERE +status != 'running'${
      b ? " AND started_at <= ? AND (started_at < ? OR rowid < ?)" : ""
    } ORDER BY started_at DESC, rowid DESC LIMIT ?`,
  ).all(...(b ? [b.startedAt, b.startedAt, b.rowid] : []), limit + 1);
  const runs = rows.slice(0, limit).map(rowToBackgroundRun);
  return {
    runs,
    older: rows.length > limit ? cursorOf(rows[limit - 1]) : null,
  };
}

/** The background run whose execution is `executionId`, if any. */
export function backgroundOfExecution(
  db: Database,
  executionId: string,
): BackgroundRun | undefined {
  const row = db.prepare(
    "SELECT * FROM background_runs WHERE execution_id = ? LIMIT 1",
  ).get(executionId);
  return row ? rowToBackgroundRun(row) : undefined;
}
