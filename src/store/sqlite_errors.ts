/**
 * SQLite failures as one-line errors that name the store and what to do.
 * @module
 */
import { StintError } from "../errors.ts";
import { busyTimeoutMs, isBusyError, StoreBusyError } from "./lock.ts";
import type { Database } from "./sqlite.ts";

/**
 * Run `fn` on an open connection to the store at `dbPath`, turn SQLite's
 * failures into stint's one-line errors, and close the connection.
 */
export function useConnection<T>(
  db: Database,
  dbPath: string,
  fn: (db: Database) => T,
): T {
  try {
    return fn(db);
  } catch (err) {
    throw translateSqliteError(err, dbPath);
  } finally {
    db.close();
  }
}

/** Turn SQLite failures into one-line errors that name the file and what to do. */
export function translateSqliteError(err: unknown, dbPath: string): unknown {
  if (err instanceof StintError || !(err instanceof Error)) return err;
  const msg = err.message;
  const errcode = (err as { errcode?: number }).errcode;
  if (errcode === 26 || /file is not a database/i.test(msg)) {
    return new StintError(
      `The store ${dbPath} is not a SQLite database; move it aside or point STINT_DB/--db at another file`,
      { cause: err },
    );
  }
  if (errcode === 11 || /malformed/i.test(msg)) {
    return new StintError(
      `The store ${dbPath} is corrupt (${msg}); restore it from a backup or the bucket`,
      { cause: err },
    );
  }
  if (isBusyError(err)) {
    return new StoreBusyError(
      `The store ${dbPath} is busy: another process held its write lock for ${
        formatSeconds(busyTimeoutMs())
      }; nothing was written: try again, or wait longer with STINT_BUSY_TIMEOUT`,
      { cause: err },
    );
  }
  if (errcode === 8 || /readonly database|read-only/i.test(msg)) {
    return new StintError(
      `The store ${dbPath} is read-only; check the permissions of the file and its directory`,
      { cause: err },
    );
  }
  if (errcode === 13 || /database or disk is full/i.test(msg)) {
    return new StintError(
      `The disk holding ${dbPath} is full; free some space and try again`,
      { cause: err },
    );
  }
  // SQLITE_IOERR (any extended code): on a full disk SQLite often reports
  // the failed WAL or -shm write rather than SQLITE_FULL.
  if (
    (typeof errcode === "number" && (errcode & 0xff) === 10) ||
    /disk I\/O error/i.test(msg)
  ) {
    return new StintError(
      `Cannot write the store ${dbPath}: disk I/O error (is the disk full or failing?); free some space or check the disk, then try again`,
      { cause: err },
    );
  }
  if (errcode === 14 || /unable to open database/i.test(msg)) {
    return new StintError(
      `Cannot open the store ${dbPath}; check that its directory exists and is writable`,
      { cause: err },
    );
  }
  return err;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
