/**
 * Which files are stint's stores (spec section 3, "Ownership"): a store
 * carries `PRAGMA application_id`; a SQLite file of another program, a
 * directory, a zero-byte file stint did not make or a symbolic link is
 * refused before anything is written, and the file is left byte-identical.
 * @module
 */
import { busyTimeoutMs, transaction } from "./lock.ts";
import { schemaVersion } from "./schema.ts";
import { translateSqliteError } from "./sqlite_errors.ts";
import { type Database, openSqlite } from "./sqlite.ts";
import { foreignStore, STINT_APPLICATION_ID } from "./store_file.ts";

export {
  inspectStoreFile,
  refuseUnusable,
  STINT_APPLICATION_ID,
  type StoreFile,
} from "./store_file.ts";

// The tables every stint store has had since schema version 1.
const STINT_TABLES = ["meta", "executions", "scopes", "vars", "cache"];

/**
 * A SQLite file without an application id is stint's only when it has no
 * tables yet or is a store written before stores carried the id (stint's
 * tables and a schema version stint knows). Returns whether to mark it as
 * stint's; throws for a database of another program. Read-only, so the
 * file is not changed by looking.
 */
export function classifyUnmarked(dbPath: string): boolean {
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
    const version = schemaVersion(probe);
    // A blank database is a new store; one without tables that carries a
    // schema version was stamped by a program of its own (stint's stores
    // always have tables), and migrating it from "its" version would fail.
    if (tables.size === 0) {
      if (version !== 0) throw foreignStore(dbPath);
      return true;
    }
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
export function markOwned(db: Database): void {
  transaction(db, () => {
    const app = Number(
      db.prepare("PRAGMA application_id").get()
        ?.application_id ?? 0,
    );
    if (app === 0) db.exec(`PRAGMA application_id = ${STINT_APPLICATION_ID}`);
  });
}
