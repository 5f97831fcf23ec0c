/**
 * Which files are stint's stores (spec section 3, "Ownership"): a store
 * carries `PRAGMA application_id`; a SQLite file of another program, a
 * directory, a zero-byte file stint did not make or a symbolic link is
 * refused before anything is written, and the file is left byte-identical.
 * @module
 */
import { StintError } from "../errors.ts";
import { describeFsError } from "./paths.ts";
import { busyTimeoutMs, transaction } from "./lock.ts";
import { schemaVersion } from "./schema.ts";
import { translateSqliteError } from "./sqlite_errors.ts";
import { type Database, openSqlite } from "./sqlite.ts";

/** `PRAGMA application_id` of a stint store: "STNT". */
export const STINT_APPLICATION_ID = 0x53544e54;

/** What is at a store path, judged from `lstat` and the 100-byte header. */
export type StoreFile =
  | { kind: "missing"; error: unknown }
  | { kind: "directory" | "symlink" | "empty" | "special" | "not-sqlite" }
  | { kind: "sqlite"; applicationId: number; userVersion: number };

/** Look at what is at `dbPath` without opening it with SQLite. */
export function inspectStoreFile(dbPath: string): StoreFile {
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

/** Throw the one-line reason when `file` cannot be used as a store. */
export function refuseUnusable(dbPath: string, file: StoreFile): void {
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
