/**
 * Which of the store's own names exist beside it (the file, its `-wal`,
 * `-shm` and `-journal`, the journal, the restore marker), read from one
 * listing of the state directory. The point reads on scripts' hot path
 * (`stint vars get`, `stint cache get`) ask this instead of `stat`ing each
 * name: a `stat` of a name that is not there throws, and the first throw
 * and the first file date of a process cost ~0.4 ms each, more than the
 * SQLite read the command is for.
 * @module
 */

/** What a name is, as the directory entry says (links are not followed). */
export type EntryKind = "file" | "directory" | "symlink" | "other";

/** The names beginning with the store's file name, by what follows it. */
export interface StoreEntries {
  /** What `<store><suffix>` is, or undefined when it does not exist. */
  kind(suffix: string): EntryKind | undefined;
}

/**
 * Past this many entries the listing stops: a store kept in a large
 * directory (a project root, a home directory) is asked name by name.
 */
export const MAX_LISTED = 256;

/**
 * List the store's names at `dbPath` (absolute). Undefined when the
 * directory cannot be listed (missing, or not readable) or holds more than
 * {@linkcode MAX_LISTED} entries: the caller asks the file system name by
 * name instead.
 */
export function listStoreEntries(dbPath: string): StoreEntries | undefined {
  const slash = dbPath.lastIndexOf("/");
  const dir = slash <= 0 ? "/" : dbPath.slice(0, slash);
  const base = dbPath.slice(slash + 1);
  const kinds = new Map<string, EntryKind>();
  let seen = 0;
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (++seen > MAX_LISTED) return undefined;
      if (!e.name.startsWith(base)) continue;
      kinds.set(
        e.name.slice(base.length),
        e.isSymlink
          ? "symlink"
          : e.isFile
          ? "file"
          : e.isDirectory
          ? "directory"
          : "other",
      );
    }
  } catch {
    return undefined;
  }
  return { kind: (suffix) => kinds.get(suffix) };
}
