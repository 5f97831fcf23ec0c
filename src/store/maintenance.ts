/**
 * Whole-store operations: backup, destroy, and sweeping up temp files a
 * killed stint left behind.
 * @module
 */
import { NotFoundError, StintError } from "../errors.ts";
import {
  describeFsError,
  isValidLogId,
  logPath,
  logsDir,
  stateDir,
} from "./paths.ts";
import { withStore } from "./open.ts";
import { readExisting } from "./read.ts";
import type { Database } from "./sqlite.ts";

/** Write a consistent copy of the store to `target` (`VACUUM INTO`), mode 0600. */
export function backupStore(dbPath: string, target: string): void {
  try {
    Deno.statSync(dbPath);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      // Opening it would create an empty store and "back up" that.
      throw new NotFoundError(
        `No store at ${dbPath}; nothing to back up (check --db / STINT_DB)`,
      );
    }
  }
  // Create the target first, empty and 0600 (VACUUM INTO fills an empty
  // file), so the copy is never readable by others, not even for a moment.
  try {
    Deno.writeFileSync(target, new Uint8Array(), {
      createNew: true,
      mode: 0o600,
    });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      throw new StintError(
        `The backup target ${target} already exists; choose a new file name`,
      );
    }
    throw new StintError(
      `Cannot write the backup ${target}: ${describeFsError(err)}${
        err instanceof Deno.errors.NotFound
          ? " (does its directory exist?)"
          : ""
      }`,
      { cause: err },
    );
  }
  try {
    // A read: a store in a read-only directory is backed up too.
    readExisting(dbPath, (db) => {
      db.prepare("VACUUM INTO ?").run(target);
    }, () => {
      throw new NotFoundError(`No store at ${dbPath}; nothing to back up`);
    });
  } catch (err) {
    try {
      Deno.removeSync(target);
    } catch {
      // Best effort: the error below is what matters.
    }
    throw err;
  }
}

/** What {@linkcode destroyStore} removed and what it left alone. */
export interface DestroyResult {
  /** The store file and its side files (WAL, SHM, journal, temp files). */
  files: string[];
  /** How many log files (named by the store's records) were removed. */
  logs: number;
  /** The logs directory, when it was removed (it was then empty). */
  logsDir: string | null;
  /** Why something was kept, one line each. */
  kept: string[];
}

/**
 * Remove a stint store: the file, its WAL/SHM side files, its journal, the
 * log files its records name, and the logs directory only if that leaves it
 * empty. A file that is not a stint store is refused (nothing is deleted);
 * nothing else in the state dir is touched.
 */
export function destroyStore(dbPath: string): DestroyResult {
  const result: DestroyResult = {
    files: [],
    logs: 0,
    logsDir: null,
    kept: [],
  };
  let logIds: string[] | null = [];
  let present = true;
  try {
    Deno.lstatSync(dbPath);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new StintError(`Cannot remove ${dbPath}: ${describeFsError(err)}`);
    }
    present = false;
  }
  if (present) {
    try {
      // Read-only: refuses a file that is not a stint store, changes nothing.
      logIds = withStore(dbPath, ownLogIds, { readOnly: true });
    } catch (err) {
      if (!isCorruptStore(err)) throw err;
      logIds = null;
      result.kept.push(
        `kept the logs: the store is unreadable, so which of them are its own is unknown`,
      );
    }
  }
  const sideFiles = [
    "",
    "-wal",
    "-shm",
    "-journal",
    ".spool",
    ".restore-pending",
    ".retention",
  ].map((s) => dbPath + s);
  for (const p of [...sideFiles, ...ownTempFiles(dbPath)]) {
    if (removeFile(p)) result.files.push(p);
  }
  const dir = logsDir(dbPath);
  if (logIds !== null && isRealDir(dir)) {
    for (const id of logIds) {
      if (removeFile(logPath(dbPath, id))) result.logs++;
      removeFile(`${dir}/${id}.payload`);
    }
    // The start sidecars' dir (start_sidecar.ts), when it is empty.
    if (isRealDir(`${dir}/.starting`)) {
      try {
        Deno.removeSync(`${dir}/.starting`); // only when empty
      } catch {
        // a run starting now: its sidecar stays, and so does the dir
      }
    }
    try {
      Deno.removeSync(dir); // only when empty
      result.logsDir = dir;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        result.kept.push(
          `kept ${dir}: it holds files this store does not name`,
        );
      }
    }
  }
  return result;
}

/** Every valid log id the store's records name (executions and background runs). */
function ownLogIds(db: Database): string[] {
  return db.prepare(
    `SELECT log_id FROM executions WHERE log_id IS NOT NULL
     UNION SELECT log_id FROM background_runs WHERE log_id IS NOT NULL
     UNION SELECT execution_id FROM background_runs WHERE execution_id IS NOT NULL`,
  ).all().map((r) => String(r.log_id)).filter(isValidLogId);
}

/** A store stint recognises as its own but cannot read. */
function isCorruptStore(err: unknown): boolean {
  return err instanceof StintError && / is corrupt /.test(err.message);
}

function isRealDir(path: string): boolean {
  try {
    return Deno.lstatSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Remove one file (never a directory; a link itself, not its target). */
function removeFile(path: string): boolean {
  try {
    if (Deno.lstatSync(path).isDirectory) return false;
    Deno.removeSync(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw new StintError(`Cannot remove ${path}: ${describeFsError(err)}`);
  }
}

/** This store's own temp files (a new store or a restore being built). */
function ownTempFiles(dbPath: string): string[] {
  const base = dbPath.slice(stateDir(dbPath).length + 1);
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(stateDir(dbPath))) {
      if (e.isFile && tempOwner(e.name) === base) {
        out.push(`${stateDir(dbPath)}/${e.name}`);
      }
    }
  } catch {
    // unreadable dir: nothing of ours to find
  }
  return out;
}

// Temp files stint makes beside a store (`<store>.new-<uuid>` while
// creating it, `<store>.restore-<8 hex>` while restoring it), beside any
// store in the dir (`.pull-<uuid>.db`, `.snap-<uuid>.db`, `.up-<uuid>.gz`
// for sync), and in
// the logs dir (`<log>.log.fetch-<8 hex>`, `<run>.payload`), with SQLite's
// side files.
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const SIDE = "(?:-wal|-shm|-journal)?";
const STORE_TEMP = new RegExp(
  `^(.+)\\.(?:new-${UUID}|restore-[0-9a-f]{8})${SIDE}$`,
);
const SYNC_TEMP = new RegExp(
  `^\\.(?:(?:pull|snap)-${UUID}\\.db${SIDE}|up-${UUID}\\.gz)$`,
);
const LOG_TEMP =
  /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}\.(?:log\.fetch-[0-9a-f]{8}|payload)$/;

/** The store a temp file name belongs to, "" for a sync temp file, else null. */
function tempOwner(name: string): string | null {
  const m = STORE_TEMP.exec(name);
  if (m) return m[1];
  return SYNC_TEMP.test(name) ? "" : null;
}

/** Temp files older than this are left over from a killed stint. */
export const STALE_TEMP_MS = 60 * 60 * 1000;

/**
 * Remove stint's temp files that a killed process left behind: only names
 * stint makes (see above), only regular files of this user (never through a
 * link), and only those untouched for `olderThanMs` (default an hour), so a
 * restore or push still working is never disturbed. Returns the paths
 * removed. Sync calls this before it makes temp files of its own.
 */
export function removeStaleTempFiles(
  dbPath: string,
  options?: { olderThanMs?: number; now?: number },
): string[] {
  const cutoff = (options?.now ?? Date.now()) -
    (options?.olderThanMs ?? STALE_TEMP_MS);
  const removed: string[] = [];
  const sweep = (dir: string, isTemp: (name: string) => boolean) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isFile || !isTemp(e.name)) continue;
      const path = `${dir}/${e.name}`;
      try {
        const st = Deno.lstatSync(path);
        if (!st.isFile || (st.uid !== null && st.uid !== Deno.uid())) continue;
        if ((st.mtime?.getTime() ?? Infinity) > cutoff) continue;
        Deno.removeSync(path);
        removed.push(path);
      } catch {
        // gone meanwhile, or not ours to remove
      }
    }
  };
  sweep(stateDir(dbPath), (n) => tempOwner(n) !== null);
  if (isRealDir(logsDir(dbPath))) {
    sweep(logsDir(dbPath), (n) => LOG_TEMP.test(n));
  }
  return removed;
}
