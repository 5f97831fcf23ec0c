/**
 * The local log budget: a cap on the logs folder. When the log files the
 * store's records name add up to more than the budget, the logs of the
 * oldest finished runs are removed until they are back under 90% of it
 * (so the next run does not start the work again), and each removal is
 * recorded (`pruned_logs`), so `stint logs` says the log was pruned rather
 * than "no log". Only files the records name are counted or removed (a
 * file stint's records do not name is not stint's); logs of running runs
 * never go. The run records stay, and a log that went to the bucket can be
 * fetched again from there.
 * @module
 */
import { transaction } from "./open.ts";
import { isValidLogId, logPath, logsDir } from "./paths.ts";
import type { Database } from "./sqlite.ts";

/** The default budget: 2 GiB. */
export const DEFAULT_LOG_BUDGET = 2 * 1024 ** 3;

/** What {@linkcode enforceLogBudget} found and did. */
export interface BudgetResult {
  /** Bytes of the log files the records name, before. */
  total: number;
  /** Log files removed. */
  files: number;
  /** Bytes they held. */
  freed: number;
}

/** A pruned log, as `stint logs` reports it. */
export interface PrunedLog {
  /** When it was removed. */
  prunedAt: number;
  /** Its size. */
  size: number;
  /** The budget it was removed for. */
  budget: number;
}

/**
 * Keep the log files under `budget` bytes: measure the folder (the files
 * named `<log id>.log` that are regular files), and when it is over, remove
 * the oldest finished runs' logs until it is under 90% of the budget.
 */
export function enforceLogBudget(
  db: Database,
  dbPath: string,
  budget: number,
  options: { now?: number } = {},
): BudgetResult {
  const result: BudgetResult = { total: 0, files: 0, freed: 0 };
  const sizes = logFileSizes(dbPath);
  // Only the logs of runs this store records count: a file no record
  // names is not stint's to measure or to remove.
  const named = db.prepare("SELECT 1 AS x FROM executions WHERE id = ?");
  for (const [logId, size] of sizes) {
    if (named.get(logId) === undefined) sizes.delete(logId);
    else result.total += size;
  }
  if (result.total <= budget) return result;
  const target = Math.floor(budget * 0.9);
  // Oldest first, by the start-time index; reading stops as soon as enough
  // is found, so a long history costs what the removal needs.
  const chosen: { logId: string; size: number }[] = [];
  let left = result.total;
  for (
    const row of db.prepare(
      `SELECT log_id FROM executions
       WHERE log_id IS NOT NULL AND +status != 'running' ORDER BY started_at`,
    ).iterate()
  ) {
    const logId = String(row.log_id);
    const size = sizes.get(logId);
    if (size === undefined) continue;
    sizes.delete(logId); // a log named twice counts once
    chosen.push({ logId, size });
    left -= size;
    if (left <= target) break;
  }
  if (chosen.length === 0) return result;
  const now = options.now ?? Date.now();
  // Recorded first: a crash in between leaves a record of a removal that
  // did not happen (the file is still read), never a missing log unexplained.
  transaction(db, () => {
    for (const c of chosen) {
      db.prepare(
        `INSERT INTO pruned_logs (log_id, pruned_at, size, budget) VALUES (?, ?, ?, ?)
         ON CONFLICT(log_id) DO UPDATE SET pruned_at = excluded.pruned_at,
           size = excluded.size, budget = excluded.budget`,
      ).run(c.logId, now, c.size, budget);
    }
  });
  for (const c of chosen) {
    try {
      const path = logPath(dbPath, c.logId);
      if (!Deno.lstatSync(path).isFile) continue;
      Deno.removeSync(path);
      result.files++;
      result.freed += c.size;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return result;
}

/** The size of every `<log id>.log` regular file in the logs folder, by log id. */
export function logFileSizes(dbPath: string): Map<string, number> {
  const sizes = new Map<string, number>();
  const dir = logsDir(dbPath);
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return sizes;
  }
  for (const e of entries) {
    if (!e.isFile || !e.name.endsWith(".log")) continue;
    const id = e.name.slice(0, -4);
    if (!isValidLogId(id)) continue;
    try {
      sizes.set(id, Deno.lstatSync(`${dir}/${e.name}`).size);
    } catch {
      // gone meanwhile
    }
  }
  return sizes;
}

/** Whether the log of `logId` was removed for the budget, and when. */
export function prunedLog(db: Database, logId: string): PrunedLog | null {
  const row = db.prepare(
    "SELECT pruned_at, size, budget FROM pruned_logs WHERE log_id = ?",
  ).get(logId);
  return row
    ? {
      prunedAt: Number(row.pruned_at),
      size: Number(row.size),
      budget: Number(row.budget),
    }
    : null;
}
