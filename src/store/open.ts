/**
 * Open-per-operation access to the store. Every operation opens the file,
 * sets the busy timeout first, switches to WAL, migrates if needed, runs, and
 * closes, so any number of stint processes share one file safely. Before
 * anything is written, the file is checked to be stint's own (spec section
 * 3, "Ownership"): a store carries `PRAGMA application_id`, and a SQLite file
 * of another program is refused and left byte-identical.
 * @module
 */
import { StintError } from "../errors.ts";
import {
  describeFsError,
  ensurePrivateDir,
  entryExists,
  refuseForeignEntry,
  stateDir,
} from "./paths.ts";
import { initMeta, newHostId } from "./meta.ts";
import { busyTimeoutMs } from "./lock.ts";
import {
  classifyUnmarked,
  inspectStoreFile,
  markOwned,
  refuseUnusable,
  STINT_APPLICATION_ID,
} from "./ownership.ts";
import { migrate, SCHEMA_VERSION, schemaVersion } from "./schema.ts";
import { translateSqliteError, useConnection } from "./sqlite_errors.ts";
import { type Database, openSqlite } from "./sqlite.ts";
import { SQLITE_SIDE_FILES } from "./store_file.ts";

export {
  BUSY_TIMEOUT_MS,
  busyTimeoutMs,
  isBusyError,
  parseBusyTimeout,
  StoreBusyError,
  transaction,
} from "./lock.ts";
export { STINT_APPLICATION_ID } from "./ownership.ts";
export { translateSqliteError, useConnection } from "./sqlite_errors.ts";

/** Options for {@linkcode withStore}. */
export interface OpenOptions {
  /** Open read-only: never creates, migrates or writes (for probes). */
  readOnly?: boolean;
  /** Create the store when it is missing (default: unless read-only). */
  create?: boolean;
  /**
   * How long the open waits for another process's lock (a migration):
   * default the busy timeout; 0 for a caller that polls instead.
   */
  waitMs?: number;
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
  return useConnection(openStore(dbPath, options), dbPath, fn);
}

/** Open (and prepare) a connection; the caller must close it. */
export function openStore(dbPath: string, options?: OpenOptions): Database {
  const readOnly = options?.readOnly ?? false;
  const timeoutMs = options?.waitMs ?? busyTimeoutMs();
  let file = inspectStoreFile(dbPath);
  if (file.kind === "missing") {
    if (readOnly || options?.create === false) {
      throw new StintError(
        `Cannot read the store ${dbPath}: not found`,
        { cause: file.error },
      );
    }
    createPrivateFile(dbPath);
    file = inspectStoreFile(dbPath);
  }
  refuseUnusable(dbPath, file);
  for (const side of SQLITE_SIDE_FILES) {
    refuseForeignEntry(dbPath + side, "file");
  }
  const ours = file.kind === "sqlite" &&
    file.applicationId === STINT_APPLICATION_ID;
  // A file without stint's id is looked at read-only first, so a database
  // of another program is never switched to WAL or migrated.
  const adopt = ours ? false : classifyUnmarked(dbPath);
  let db: Database;
  try {
    db = openSqlite(dbPath, { timeoutMs, readOnly });
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
    if (adopt && !readOnly) markOwned(db);
    return db;
  } catch (err) {
    db.close();
    throw translateSqliteError(err, dbPath);
  }
}

function createPrivateFile(dbPath: string): void {
  ensurePrivateDir(stateDir(dbPath));
  try {
    createInitialized(dbPath);
  } catch (err) {
    if (err instanceof Deno.errors.PermissionDenied && entryExists(dbPath)) {
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
 * migrated, with its meta rows and application id) and hard-link it into
 * place, so no process ever sees a half-made store. Two processes that both
 * switched one fresh file from rollback to WAL mode could block each other
 * for the whole busy timeout; with this the switch happens where nobody else
 * looks. If another process linked its file first, that one is kept and
 * ours is dropped. A link never replaces anything already at the path.
 */
function createInitialized(dbPath: string): void {
  const tmp = `${dbPath}.new-${crypto.randomUUID()}`;
  try {
    Deno.openSync(tmp, { write: true, createNew: true, mode: 0o600 }).close();
    const db = openSqlite(tmp, { timeoutMs: busyTimeoutMs() });
    try {
      db.exec(`PRAGMA application_id = ${STINT_APPLICATION_ID}`);
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
    for (const suffix of ["", ...SQLITE_SIDE_FILES]) {
      try {
        Deno.removeSync(tmp + suffix);
      } catch {
        // not there
      }
    }
  }
}

export { newHostId };
