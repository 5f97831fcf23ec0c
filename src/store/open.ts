/**
 * Open-per-operation access to the store. Every operation opens the file,
 * sets the busy timeout first, switches to WAL, migrates if needed, runs, and
 * closes, so any number of stint processes share one file safely.
 * @module
 */
import { StintError } from "../errors.ts";
import { describeFsError, ensurePrivateDir, stateDir } from "./paths.ts";
import { initMeta, newHostId } from "./meta.ts";
import { migrate, SCHEMA_VERSION, schemaVersion } from "./schema.ts";
import { type Database, openSqlite } from "./sqlite.ts";

/** Busy timeout for every connection (spec section 3). */
export const BUSY_TIMEOUT_MS = 5000;

/** Options for {@linkcode withStore}. */
export interface OpenOptions {
  /** Open read-only: never creates, migrates or writes (for probes). */
  readOnly?: boolean;
}

/**
 * Open the store at `dbPath`, run `fn` with the connection, and close it.
 * Creates the file (0600, in a 0700 directory) and migrates it on first use.
 */
export function withStore<T>(
  dbPath: string,
  fn: (db: Database) => T,
  options?: OpenOptions,
): T {
  const db = openStore(dbPath, options);
  try {
    return fn(db);
  } catch (err) {
    throw translateSqliteError(err, dbPath);
  } finally {
    db.close();
  }
}

/** Open (and prepare) a connection; the caller must close it. */
export function openStore(dbPath: string, options?: OpenOptions): Database {
  const readOnly = options?.readOnly ?? false;
  if (readOnly) {
    try {
      Deno.statSync(dbPath);
    } catch (err) {
      throw new StintError(
        `Cannot read the store ${dbPath}: ${describeFsError(err)}`,
        { cause: err },
      );
    }
  } else {
    createPrivateFile(dbPath);
  }
  let db: Database;
  try {
    db = openSqlite(dbPath, { timeoutMs: BUSY_TIMEOUT_MS, readOnly });
  } catch (err) {
    throw translateSqliteError(err, dbPath);
  }
  try {
    if (!readOnly) {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
    }
    const version = schemaVersion(db);
    if (version > SCHEMA_VERSION) {
      throw new StintError(
        `The store ${dbPath} has schema version ${version}, newer than this stint understands (${SCHEMA_VERSION}); upgrade stint`,
      );
    }
    if (version < SCHEMA_VERSION && !readOnly) {
      migrate(db);
      initMeta(db);
    }
    return db;
  } catch (err) {
    db.close();
    throw translateSqliteError(err, dbPath);
  }
}

/** Run `fn` inside `BEGIN IMMEDIATE ... COMMIT`, rolling back on error. */
export function transaction<T>(db: Database, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
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

function createPrivateFile(dbPath: string): void {
  ensurePrivateDir(stateDir(dbPath));
  if (exists(dbPath)) return;
  try {
    createInitialized(dbPath);
  } catch (err) {
    if (err instanceof Deno.errors.PermissionDenied && exists(dbPath)) {
      // A read-only directory: let SQLite open what it can and fail with a
      // clear message on the first write.
      return;
    }
    throw new StintError(
      `Cannot create the store ${dbPath}: ${describeFsError(err)}`,
      { cause: err },
    );
  }
}

/**
 * Build a new store in a private temp file (0600, already in WAL mode,
 * migrated, with its meta rows) and hard-link it into place, so no process
 * ever sees a half-made store. Two processes that both switched one fresh
 * file from rollback to WAL mode could block each other for the whole busy
 * timeout; with this the switch happens where nobody else looks. If another
 * process linked its file first, that one is kept and ours is dropped.
 */
function createInitialized(dbPath: string): void {
  const tmp = `${dbPath}.new-${crypto.randomUUID()}`;
  try {
    Deno.openSync(tmp, { write: true, createNew: true, mode: 0o600 }).close();
    const db = openSqlite(tmp, { timeoutMs: BUSY_TIMEOUT_MS });
    try {
      db.exec("PRAGMA journal_mode = WAL");
      migrate(db);
      initMeta(db);
    } finally {
      db.close(); // the last connection: checkpoints and removes the WAL
    }
    try {
      Deno.linkSync(tmp, dbPath);
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
  } finally {
    for (const suffix of ["", "-wal", "-shm", "-journal"]) {
      try {
        Deno.removeSync(tmp + suffix);
      } catch {
        // not there
      }
    }
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

export { newHostId };

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
  if (errcode === 5 || /database is locked/i.test(msg)) {
    return new StintError(
      `The store ${dbPath} stayed locked for ${
        BUSY_TIMEOUT_MS / 1000
      } s; another stint may be stuck`,
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
