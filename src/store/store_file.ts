/**
 * What is at a store path, judged without SQLite (spec section 3,
 * "Ownership"): `lstat` and the file's 100-byte header say whether it is a
 * stint store, a database of another program, or something that cannot be a
 * store at all. No SQLite here, so a run can check its store path before it
 * starts its task and loads the store (ownership.ts judges the unmarked
 * files that need SQLite to tell).
 * @module
 */
import { NotOursError, StintError } from "../errors.ts";
import { describeFsError, refuseForeignEntry } from "./paths.ts";

/** The files SQLite opens or makes beside a database, by suffix. */
export const SQLITE_SIDE_FILES: readonly string[] = [
  "-wal",
  "-shm",
  "-journal",
];

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
  return readStoreHeader(dbPath);
}

/**
 * Judge a regular file at `dbPath` by its 100-byte header alone (no
 * `lstat`: for a caller that already knows it is a regular file). A file
 * shorter than a header, or without SQLite's magic, is `not-sqlite`.
 */
export function readStoreHeader(dbPath: string): StoreFile {
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
  if (n === 0) return { kind: "empty" };
  if (n < 100 || !SQLITE_MAGIC.every((b, i) => header[i] === b)) {
    return { kind: "not-sqlite" };
  }
  const view = new DataView(header.buffer);
  return {
    kind: "sqlite",
    userVersion: view.getUint32(60),
    applicationId: view.getUint32(68),
  };
}

// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC = new TextEncoder().encode("SQLite format 3\0");

/** Throw the one-line reason when `file` cannot be used as a store. */
export function refuseUnusable(dbPath: string, file: StoreFile): void {
  switch (file.kind) {
    case "directory":
      throw new NotOursError(
        `The store path ${dbPath} is a directory; give STINT_DB/--db a file path such as ${dbPath}/stint.db`,
      );
    case "symlink":
      throw new NotOursError(
        `The store ${dbPath} is a symbolic link; stint writes nothing through links in its state dir: point STINT_DB/--db at the real file`,
      );
    case "special":
      throw new NotOursError(
        `The store ${dbPath} is not a regular file; point STINT_DB/--db at a file`,
      );
    case "empty":
      throw new NotOursError(
        `The store ${dbPath} is an empty file that stint did not create; remove it or point STINT_DB/--db at a new path, and stint will create its store there`,
      );
    case "not-sqlite":
      throw new NotOursError(
        `The store ${dbPath} is not a SQLite database; move it aside or point STINT_DB/--db at another file`,
      );
    case "sqlite":
      if (
        file.applicationId !== 0 &&
        file.applicationId !== STINT_APPLICATION_ID
      ) throw foreignStore(dbPath);
  }
}

/** The refusal of a SQLite database of another program. */
export function foreignStore(dbPath: string): NotOursError {
  return new NotOursError(
    `${dbPath} is a SQLite database of another program, not a stint store; stint leaves it untouched: point STINT_DB/--db at another file`,
  );
}

/**
 * Check the store path before a run starts its task, without SQLite: what
 * cannot be a store is refused here with the line the open would give, and
 * so is a link or a foreign file at its `-wal`, `-shm` or `-journal`.
 * Returns true when the file is marked as a stint store, so the run may
 * start its task first and write its record while the task boots; false
 * for a missing file (the first run creates the store) or an unmarked
 * SQLite file (only SQLite can judge it): those are opened before the task
 * starts, as ever.
 */
export function precheckStore(dbPath: string): boolean {
  const file = inspectStoreFile(dbPath);
  if (file.kind === "missing") return false;
  refuseUnusable(dbPath, file);
  for (const side of SQLITE_SIDE_FILES) {
    refuseForeignEntry(dbPath + side, "file");
  }
  return file.kind === "sqlite" && file.applicationId === STINT_APPLICATION_ID;
}
