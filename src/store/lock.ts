/**
 * Waiting for the write lock: the busy timeout (`STINT_BUSY_TIMEOUT`), the
 * error when it runs out, and `BEGIN IMMEDIATE ... COMMIT` with a wait that
 * favours the longest waiter.
 * @module
 */
import { StintError, UsageError } from "../errors.ts";
import type { Database } from "./sqlite.ts";

/**
 * The default busy timeout: how long a connection waits for another
 * process's write lock. Longer than spec section 3's 5 s because 48 writers
 * of 16 MiB values queue for well over 5 s (issue 11); `STINT_BUSY_TIMEOUT`
 * changes it.
 */
export const BUSY_TIMEOUT_MS = 30_000;

let busyTimeout: number | undefined;

/**
 * The busy timeout in milliseconds: `STINT_BUSY_TIMEOUT` (`30s`, `500ms`,
 * `2m`, or plain seconds) or {@linkcode BUSY_TIMEOUT_MS}. A bad value is a
 * usage error (exit 2), reported before the store is touched.
 */
export function busyTimeoutMs(): number {
  if (busyTimeout !== undefined) return busyTimeout;
  let raw: string | undefined;
  try {
    raw = Deno.env.get("STINT_BUSY_TIMEOUT");
  } catch {
    raw = undefined;
  }
  busyTimeout = raw === undefined || raw === ""
    ? BUSY_TIMEOUT_MS
    : parseBusyTimeout(raw);
  return busyTimeout;
}

/** Parse a `STINT_BUSY_TIMEOUT` value into milliseconds. */
export function parseBusyTimeout(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(raw);
  const ms = m
    ? Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "m" ? 60_000 : 1000)
    : NaN;
  if (!Number.isFinite(ms) || ms > 3_600_000) {
    throw new UsageError(
      `STINT_BUSY_TIMEOUT must be a wait such as 30s, 500ms or 2m (at most 1h), not "${raw}"`,
    );
  }
  return Math.round(ms);
}

/** The store stayed locked by another process for the whole busy timeout. */
export class StoreBusyError extends StintError {
  /** Build a busy error (exit 1). */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreBusyError";
  }
}

/** Whether `err` (raw or translated) means the store stayed locked. */
export function isBusyError(err: unknown): boolean {
  if (err instanceof StoreBusyError) return true;
  if (err instanceof StintError) return false;
  const errcode = (err as { errcode?: number })?.errcode;
  return (typeof errcode === "number" && (errcode & 0xff) === 5) ||
    /database is locked/i.test(String((err as Error)?.message ?? ""));
}

/**
 * Run `fn` inside `BEGIN IMMEDIATE ... COMMIT`, rolling back on error. Inside
 * a transaction already open on `db`, `fn` joins it, so record functions
 * compose into one atomic write. `waitMs` bounds the wait for another
 * process's write lock (default: the busy timeout); with 0 a locked store
 * fails at once with the busy error, for a caller that waits its own way
 * (a run polls without blocking its event loop, recorder.ts).
 */
export function transaction<T>(
  db: Database,
  fn: () => T,
  options?: { waitMs?: number },
): T {
  if (db.inTransaction?.()) return fn();
  beginImmediate(db, options?.waitMs ?? busyTimeoutMs());
  try {
    const result = fn();
    db.exec("COMMIT");
    return result;
  } catch (err) {
    try {
      db.exec("ROLLBACK");
    } catch {
      // The transaction may already be gone (e.g. SQLITE_FULL rolls back).
    }
    throw err;
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * `BEGIN IMMEDIATE`, waiting up to the busy timeout for another process's
 * write lock. SQLite's own busy handler makes every waiter poll every 100 ms
 * alike, so under heavy contention the lock goes to whoever happens to poll
 * first: with 48 writers of 16 MiB values one waited 24 s while later
 * arrivals got through. Here a waiter polls more often the longer it has
 * waited (every ~100 ms at first, every ~10 ms after 2 s, with jitter), so
 * the lock tends to go to the longest waiter, at a few thousand cheap lock
 * attempts a second in all even with 48 waiting.
 */
function beginImmediate(db: Database, timeout: number): void {
  db.exec("PRAGMA busy_timeout = 0");
  try {
    const started = Date.now();
    for (;;) {
      try {
        db.exec("BEGIN IMMEDIATE");
        return;
      } catch (err) {
        const waited = Date.now() - started;
        if (!isBusyError(err) || waited >= timeout) throw err;
        Atomics.wait(
          sleepCell,
          0,
          0,
          Math.min(lockRetryDelay(waited), timeout - waited),
        );
      }
    }
  } finally {
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs()}`);
  }
}

/**
 * How long a writer that has waited `waitedMs` for the lock sleeps before
 * its next try: ~100 ms at first, ~10 ms after 2 s, with jitter, so the
 * lock tends to go to the longest waiter.
 */
export function lockRetryDelay(waitedMs: number): number {
  return Math.max(10, 100 - waitedMs / 25) * (0.75 + Math.random() / 2);
}
