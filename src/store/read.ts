/**
 * Opening the store to read it. A read never creates the store: when the
 * file does not exist the caller's `missing()` answers instead.
 * @module
 */
import { openStore, translateSqliteError, withStore } from "./open.ts";
import { SCHEMA_VERSION, schemaVersion } from "./schema.ts";
import type { Database } from "./sqlite.ts";

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
  return storeExists(dbPath) ? withStore(dbPath, fn) : missing();
}

/**
 * A point read that never writes (`vars get`, `cache get`, the API's
 * getters): a read-only connection with the busy timeout, no pragmas, no
 * directory checks. Closing it never checkpoints the WAL, so a read costs
 * no fsync however much a run left in the WAL. A file on an older schema
 * is first migrated by the ordinary writable open, and if the read-only
 * connection cannot be set up at all (say SQLite cannot create the `-shm`
 * file it needs) the read goes through that open too, as before.
 */
export function readOnly<T>(
  dbPath: string,
  fn: (db: Database) => T,
  missing: () => T,
): T {
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
  if (db === undefined) return withStore(dbPath, fn);
  try {
    return fn(db);
  } catch (err) {
    throw translateSqliteError(err, dbPath);
  } finally {
    db.close();
  }
}
