/**
 * Open-per-operation access to the store. Every operation opens the file,
 * sets the busy timeout first, switches to WAL, migrates if needed, runs, and
 * closes, so any number of stint processes share one file safely. Before
 * anything is written, the file is checked to be stint's own (spec section
 * 3, "Ownership"): a store carries `PRAGMA application_id`, and a SQLite file
 * of another program is refused and left byte-identical.
 * @module
 */
import { StintError, UsageError } from "../errors.ts";
import {
  describeFsError,
  ensurePrivateDir,
  refuseForeignEntry,
  stateDir,
} from "./paths.ts";
import { initMeta, newHostId } from "./meta.ts";
import { migrate, SCHEMA_VERSION, schemaVersion } from "./schema.ts";
import { type Database, openSqlite } from "./sqlite.ts";

/**
 * The default busy timeout: how long a connection waits for another
 * process's write lock. Longer than spec section 3's 5 s because 48 writers
 * of 16 MiB values queue for well over 5 s (issue 11); `STINT_BUSY_TIMEOUT`
 * changes it.
 */
export const BUSY_TIMEOUT_MS = 30_000;

/** `PRAGMA application_id` of a stint store: "STNT". */
export const STINT_APPLICATION_ID = 0x53544e54;

/** Options for {@linkcode withStore}. */
export interface OpenOptions {
  /** Open read-only: never creates, migrates or writes (for probes). */
  readOnly?: boolean;
  /** Create the store when it is missing (default: unless read-only). */
  create?: boolean;
}

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
  const timeoutMs = busyTimeoutMs();
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
  for (const side of ["-wal", "-shm", "-journal"]) {
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

/** What is at a store path, judged from `lstat` and the 100-byte header. */
type StoreFile =
  | { kind: "missing"; error: unknown }
  | { kind: "directory" | "symlink" | "empty" | "special" | "not-sqlite" }
  | { kind: "sqlite"; applicationId: number; userVersion: number };

function inspectStoreFile(dbPath: string): StoreFile {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(dbPath);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      return { kind: "missing", error: err };
    }
    throw new StintError(
      `Cannot read the store ${dbPath}: ${describeFsError(err)}`,
      { cause: err },
    );
  }
  if (st.isSymlink) return { kind: "symlink" };
  if (st.isDirectory) return { kind: "directory" };
  if (!st.isFile) return { kind: "special" };
  if (st.size === 0) return { kind: "empty" };
  const header = new Uint8Array(100);
  let n = 0;
  try {
    const f = Deno.openSync(dbPath, { read: true });
    try {
      while (n < header.length) {
        const got = f.readSync(header.subarray(n));
        if (got === null) break;
        n += got;
      }
    } finally {
      f.close();
    }
  } catch (err) {
    throw new StintError(
      `Cannot read the store ${dbPath}: ${describeFsError(err)}`,
      { cause: err },
    );
  }
  const magic = new TextDecoder().decode(header.subarray(0, 16));
  if (n < 100 || magic !== "SQLite format 3\0") return { kind: "not-sqlite" };
  const view = new DataView(header.buffer);
  return {
    kind: "sqlite",
    userVersion: view.getUint32(60),
    applicationId: view.getUint32(68),
  };
}

function refuseUnusable(dbPath: string, file: StoreFile): void {
  switch (file.kind) {
    case "directory":
      throw new StintError(
        `The store path ${dbPath} is a directory; give STINT_DB/--db a file path such as ${dbPath}/stint.db`,
      );
    case "symlink":
      throw new StintError(
        `The store ${dbPath} is a symbolic link; stint writes nothing through links in its state dir: point STINT_DB/--db at the real file`,
      );
    case "special":
      throw new StintError(
        `The store ${dbPath} is not a regular file; point STINT_DB/--db at a file`,
      );
    case "empty":
      throw new StintError(
        `The store ${dbPath} is an empty file that stint did not create; remove it or point STINT_DB/--db at a new path, and stint will create its store there`,
      );
    case "not-sqlite":
      throw new StintError(
        `The store ${dbPath} is not a SQLite database; move it aside or point STINT_DB/--db at another file`,
      );
    case "sqlite":
      if (
        file.applicationId !== 0 &&
        file.applicationId !== STINT_APPLICATION_ID
      ) throw foreignStore(dbPath);
  }
}

function foreignStore(dbPath: string): StintError {
  return new StintError(
    `${dbPath} is a SQLite database of another program, not a stint store; stint leaves it untouched: point STINT_DB/--db at another file`,
  );
}

// The tables every stint store has had since schema version 1.
const STINT_TABLES = ["meta", "executions", "scopes", "vars", "cache"];

/**
 * A SQLite file without an application id is stint's only when it has no
 * tables yet or is a store written before stores carried the id (stint's
 * tables and a schema version stint knows). Returns whether to mark it as
 * stint's; throws for a database of another program. Read-only, so the
 * file is not changed by looking.
 */
function classifyUnmarked(dbPath: string): boolean {
  let probe: Database;
  try {
    probe = openSqlite(dbPath, { timeoutMs: busyTimeoutMs(), readOnly: true });
  } catch (err) {
    throw translateSqliteError(err, dbPath);
  }
  try {
    const app = Number(
      probe.prepare("PRAGMA application_id").get()
        ?.application_id ?? 0,
    );
    if (app === STINT_APPLICATION_ID) return false;
    if (app !== 0) throw foreignStore(dbPath);
    const tables = new Set(
      probe.prepare(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view', 'trigger')",
      ).all().map((r) => String(r.name)),
    );
    if (tables.size === 0) return true;
    const version = schemaVersion(probe);
    const looksLikeStint = version >= 1 &&
      STINT_TABLES.every((t) => tables.has(t)) &&
      ["host_id", "origin", "seq", "scope_id"].every((c) =>
        probe.prepare(
          "SELECT 1 AS x FROM pragma_table_info('executions') WHERE name = ?",
        ).get(c) !== undefined
      );
    if (!looksLikeStint) throw foreignStore(dbPath);
    return true;
  } catch (err) {
    throw translateSqliteError(err, dbPath);
  } finally {
    probe.close();
  }
}

/** Stamp stint's application id on a store that lacks it (under the write lock). */
function markOwned(db: Database): void {
  transaction(db, () => {
    const app = Number(
      db.prepare("PRAGMA application_id").get()
        ?.application_id ?? 0,
    );
    if (app === 0) db.exec(`PRAGMA application_id = ${STINT_APPLICATION_ID}`);
  });
}

/**
 * Run `fn` inside `BEGIN IMMEDIATE ... COMMIT`, rolling back on error. Inside
 * a transaction already open on `db`, `fn` joins it, so record functions
 * compose into one atomic write.
 */
export function transaction<T>(db: Database, fn: () => T): T {
  if (db.inTransaction?.()) return fn();
  beginImmediate(db);
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
function beginImmediate(db: Database): void {
  const timeout = busyTimeoutMs();
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
        const delay = Math.max(10, 100 - waited / 25) *
          (0.75 + Math.random() / 2);
        Atomics.wait(sleepCell, 0, 0, Math.min(delay, timeout - waited));
      }
    }
  } finally {
    db.exec(`PRAGMA busy_timeout = ${timeout}`);
  }
}

function createPrivateFile(dbPath: string): void {
  ensurePrivateDir(stateDir(dbPath));
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
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

export { newHostId };

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
