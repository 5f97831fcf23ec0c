/**
 * Opening the store to read it. A read never creates the store: when the
 * file does not exist the caller's `missing()` answers instead.
 * @module
 */
import { StintError } from "../errors.ts";
import { busyTimeoutMs } from "./lock.ts";
import { openStore, useConnection, withStore } from "./open.ts";
import { FULL_OPEN, pointRead } from "./point_read.ts";
import { inspectStoreFile, STINT_APPLICATION_ID } from "./ownership.ts";
import { SCHEMA_VERSION, schemaVersion } from "./schema.ts";
import { type Database, openSqlite } from "./sqlite.ts";

/** Whether the store file exists (any other stat failure is left to the open). */
export function storeExists(dbPath: string): boolean {
  try {
    Deno.statSync(dbPath);
    return true;
  } catch (err) {
    return !(err instanceof Deno.errors.NotFound);
  }
}

/**
 * Run `fn` on the store, or return `missing()` when the file does not
 * exist. The connection is writable because reading runs may mark dead
 * `running` records `lost` (history, logs, tasks, stats, vars list).
 */
export function readExisting<T>(
  dbPath: string,
  fn: (db: Database) => T,
  missing: () => T,
): T {
  if (!storeExists(dbPath)) return missing();
  try {
    return withStore(dbPath, fn);
  } catch (err) {
    return readUnwritable(dbPath, fn, err);
  }
}

/**
 * Read a store whose directory cannot be written (a read-only mount, a
 * backup kept read-only): SQLite cannot create the WAL index (-shm) that
 * even a read-only connection needs, so the store is opened `immutable`.
 * That is exact when no -wal file holds changes (as the last writer leaves
 * it): nothing can write there meanwhile, since a writer needs that -wal.
 * Only a current stint store is read this way; otherwise, and for any
 * other failure, `err` (the ordinary open's error) is thrown. Writes `fn`
 * may try (marking a dead run lost) fail as they do on any read-only
 * store, and marking lost is best effort.
 */
function readUnwritable<T>(
  dbPath: string,
  fn: (db: Database) => T,
  err: unknown,
): T {
  const cause = (err instanceof StintError ? err.cause : err) as
    | { errcode?: number; message?: string }
    | undefined;
  const cantOpen = cause?.errcode === 14 /* SQLITE_CANTOPEN */ ||
    /unable to open database/i.test(cause?.message ?? "");
  if (!cantOpen || walHoldsChanges(dbPath)) throw err;
  const file = inspectStoreFile(dbPath);
  if (
    file.kind !== "sqlite" || file.applicationId !== STINT_APPLICATION_ID ||
    file.userVersion !== SCHEMA_VERSION
  ) throw err;
  const url = new URL("file:///");
  url.pathname = dbPath;
  let db: Database;
  try {
    db = openSqlite(`${url.href}?immutable=1`, {
      timeoutMs: busyTimeoutMs(),
      readOnly: true,
    });
  } catch {
    throw err;
  }
  return useConnection(db, dbPath, fn);
}

function walHoldsChanges(dbPath: string): boolean {
  try {
    return Deno.statSync(`${dbPath}-wal`).size > 0;
  } catch {
    return false;
  }
}

/**
 * A point read that never writes (`vars get`, `cache get`, the API's
 * getters): point_read.ts's one read-only open when the store is in its
 * plain state. A file on an older schema (or not yet marked as stint's) is
 * first migrated by the ordinary writable open, and if the read-only
 * connection cannot be set up at all (say SQLite cannot create the `-shm`
 * file it needs) the read goes through that open too, as before.
 */
export function readOnly<T>(
  dbPath: string,
  fn: (db: Database) => T,
  missing: () => T,
): T {
  const plain = pointRead(dbPath, fn, missing);
  if (plain !== FULL_OPEN) return plain;
  if (!storeExists(dbPath)) return missing();
  let db: Database | undefined;
  try {
    db = openStore(dbPath, { readOnly: true });
    if (schemaVersion(db) !== SCHEMA_VERSION) {
      db.close();
      db = undefined;
    }
  } catch {
    db?.close();
    db = undefined;
  }
  if (db === undefined) {
    try {
      return withStore(dbPath, fn);
    } catch (err) {
      return readUnwritable(dbPath, fn, err);
    }
  }
  return useConnection(db, dbPath, fn);
}
