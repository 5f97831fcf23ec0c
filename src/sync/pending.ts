/**
 * A restore still owed. When a command must write (a run, `vars set`, ...)
 * on a machine with no store and the bucket cannot be restored from right
 * now, it goes on with a new store and leaves this marker beside it; the
 * next command that sees the marker pulls everything from the bucket (which
 * is what a restore would have brought) and removes it. No sync code is
 * loaded to check it: one `stat`.
 * @module
 */
import type { StoreEntries } from "../store/store_entries.ts";

/** What the marker's name adds to the store's. */
export const PENDING_RESTORE_SUFFIX = ".restore-pending";

/** The marker beside `dbPath`. */
export function pendingRestorePath(dbPath: string): string {
  return dbPath + PENDING_RESTORE_SUFFIX;
}

/**
 * Whether a restore is owed for `dbPath`: one `stat`, or a look at
 * `entries` (a listing of the state dir the caller made).
 */
export function restorePending(
  dbPath: string,
  options?: { entries?: StoreEntries },
): boolean {
  if (options?.entries) {
    return options.entries.kind(PENDING_RESTORE_SUFFIX) !== undefined;
  }
  try {
    Deno.statSync(pendingRestorePath(dbPath));
    return true;
  } catch {
    return false;
  }
}

/** Leave the marker (0600, empty). */
export function markRestorePending(dbPath: string): void {
  try {
    // createNew: never through a link someone left at that name.
    Deno.writeFileSync(pendingRestorePath(dbPath), new Uint8Array(), {
      mode: 0o600,
      createNew: true,
    });
  } catch {
    // No state dir yet or read-only: the store (if the command makes one)
    // still pulls everything on its first run, only later.
  }
}

/** The restore happened: remove the marker. */
export function clearRestorePending(dbPath: string): void {
  try {
    Deno.removeSync(pendingRestorePath(dbPath));
  } catch {
    // Not there.
  }
}
