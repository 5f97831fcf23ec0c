/**
 * The point read: one read-only look at a current stint store, for the
 * reads scripts make in loops (`stint vars get`, `stint cache get`, the
 * typed API's getters). It answers only the plain case (the file is a
 * regular file marked as stint's, on this build's schema, with no link or
 * foreign file at its `-wal`, `-shm` or `-journal`) and says
 * {@linkcode FULL_OPEN} for anything else: migrating an older store,
 * adopting an unmarked one, refusing what is not a store, a directory that
 * cannot be written. That is read.ts's `readOnly`, which the CLI loads only
 * then; this module keeps the open, ownership and migration code off the
 * hot path.
 *
 * A read-only connection never writes the store and closing it never
 * checkpoints the WAL, so a read costs no fsync however much a run left in
 * the WAL.
 * @module
 */
import { StintError } from "../errors.ts";
import { busyTimeoutMs } from "./lock.ts";
import { refuseForeignEntry } from "./paths.ts";
import { SCHEMA_VERSION, schemaVersion } from "./schema.ts";
import { type Database, openSqlite } from "./sqlite.ts";
import { listStoreEntries } from "./store_entries.ts";
import {
  readStoreHeader,
  SQLITE_SIDE_FILES,
  STINT_APPLICATION_ID,
} from "./store_file.ts";

/** The answer when only the full open (read.ts's `readOnly`) can read the store. */
export const FULL_OPEN: unique symbol = Symbol("full open");

/**
 * Run `fn` on a read-only connection to the store at `dbPath`, or return
 * `missing()` when there is no store, or {@linkcode FULL_OPEN} when the
 * store is not in the plain state this read handles, or SQLite fails to
 * read it (the full open then reads it or words the error). A side file
 * of another user is refused as the full open would refuse it.
 */
export function pointRead<T>(
  dbPath: string,
  fn: (db: Database) => T,
  missing: () => T,
): T | typeof FULL_OPEN {
  const entries = listStoreEntries(dbPath);
  if (entries === undefined) return FULL_OPEN;
  const kind = entries.kind("");
  if (kind === undefined) return missing();
  if (kind !== "file") return FULL_OPEN;
  let walBytes = 0;
  for (const side of SQLITE_SIDE_FILES) {
    const sideKind = entries.kind(side);
    if (sideKind === undefined) continue;
    if (sideKind !== "file") return FULL_OPEN;
    const info = refuseForeignEntry(dbPath + side, "file");
    if (side === "-wal") walBytes = info?.size ?? 0;
  }
  const file = readStoreHeader(dbPath);
  if (
    file.kind !== "sqlite" || file.applicationId !== STINT_APPLICATION_ID ||
    file.userVersion !== SCHEMA_VERSION
  ) return FULL_OPEN;
  let db: Database;
  try {
    db = openSqlite(dbPath, { timeoutMs: busyTimeoutMs(), readOnly: true });
  } catch {
    return FULL_OPEN;
  }
  // The header is the schema version unless the WAL holds a newer page 1
  // (a migration not yet checkpointed). Neither check holds a migration
  // off until `fn` runs: each statement reads its own snapshot.
  let current = walBytes === 0;
  try {
    current ||= schemaVersion(db) === SCHEMA_VERSION;
  } catch {
    // judged by the full open
  }
  if (!current) {
    db.close();
    return FULL_OPEN;
  }
  try {
    return fn(db);
  } catch (err) {
    // A read-only connection fails at its first statement when SQLite
    // cannot set up the WAL index (a read-only directory), and a store
    // that went bad fails here too: the full open reads what can be read
    // and words the error. Errors of stint's own are fn's answer.
    if (err instanceof StintError) throw err;
    return FULL_OPEN;
  } finally {
    db.close();
  }
}
