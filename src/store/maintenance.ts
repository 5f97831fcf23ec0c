/**
 * Whole-store operations: backup and destroy.
 * @module
 */
import { NotFoundError, StintError } from "../errors.ts";
import { describeFsError, logsDir } from "./paths.ts";
import { withStore } from "./open.ts";

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
    withStore(dbPath, (db) => {
      db.prepare("VACUUM INTO ?").run(target);
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

/** Remove the store file, its WAL/SHM side files and its logs. Returns what was removed. */
export function destroyStore(dbPath: string): string[] {
  const removed: string[] = [];
  for (
    const p of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`, `${dbPath}-journal`]
  ) {
    try {
      Deno.removeSync(p);
      removed.push(p);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw new StintError(`Cannot remove ${p}: ${describeFsError(err)}`);
      }
    }
  }
  try {
    Deno.removeSync(logsDir(dbPath), { recursive: true });
    removed.push(logsDir(dbPath));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new StintError(
        `Cannot remove ${logsDir(dbPath)}: ${describeFsError(err)}`,
      );
    }
  }
  return removed;
}
