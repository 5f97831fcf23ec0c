/**
 * Opening the store for the read commands (history, logs, tasks, stats).
 * @module
 */
import { readExisting } from "../store/read.ts";
import type { Database } from "../store/sqlite.ts";

/**
 * Run `fn` on the store, or return `missing()` when the store file does not
 * exist: reading history must not create state as a side effect. The store
 * is opened writable because a read may mark dead `running` records `lost`.
 */
export function readStore<T>(
  dbPath: string,
  fn: (db: Database) => T,
  missing: () => T,
): T {
  return readExisting(dbPath, fn, missing);
}
