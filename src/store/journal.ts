/**
 * The end-record journal: a small private file beside the store
 * (`<store>.spool`, 0600) where a run's end goes when the store cannot take
 * it (locked, full, read-only, corrupt, deleted), so the task's exit code
 * never depends on the store. The next stint process replays it.
 *
 * The file keeps 64 KiB of zeros reserved (written when it is made, at a
 * run's start), and entries are written into that space in place, so an end
 * can be saved even when the disk filled up during the run. Entries are
 * JSON lines; the data ends at the first NUL byte. Writers and the replayer
 * serialise on an exclusive `flock`. The file is never opened through a
 * symbolic link.
 * @module
 */
import { StintError } from "../errors.ts";
import { describeFsError, refuseForeignEntry } from "./paths.ts";
import type { StoreEntries } from "./store_entries.ts";

/** Bytes kept reserved (as zeros) in the journal for entries. */
export const JOURNAL_RESERVE = 64 * 1024;

/** What the journal's name adds to the store's. */
export const JOURNAL_SUFFIX = ".spool";

/** The journal file of the store at `dbPath`. */
export function journalPath(dbPath: string): string {
  return dbPath + JOURNAL_SUFFIX;
}

/**
 * Make sure the journal exists with its reserved space. Cheap when it does
 * (one `lstat`); best effort otherwise (a full or read-only disk is found out
 * again, and reported, only if an end ever needs it). A symbolic link or a
 * file of someone else there is refused.
 */
export function reserveJournal(dbPath: string): void {
  const path = journalPath(dbPath);
  refuseForeignEntry(path, "file");
  try {
    Deno.lstatSync(path);
    return;
  } catch {
    // missing: make it
  }
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { write: true, createNew: true, mode: 0o600 });
  } catch {
    return; // another process made it, or the disk cannot: both fine here
  }
  try {
    writeFully(f, new Uint8Array(JOURNAL_RESERVE));
  } catch {
    // Reserved less than hoped; entries still append.
  } finally {
    f.close();
  }
}

/** Open the journal read-write without following links; null when missing. */
function openJournal(
  dbPath: string,
  options: { create: boolean },
): Deno.FsFile | null {
  const path = journalPath(dbPath);
  refuseForeignEntry(path, "file");
  let before: Deno.FileInfo | null = null;
  try {
    before = Deno.lstatSync(path);
  } catch {
    before = null;
  }
  let f: Deno.FsFile;
  if (before === null) {
    if (!options.create) return null;
    f = Deno.openSync(path, {
      read: true,
      write: true,
      createNew: true,
      mode: 0o600,
    });
  } else {
    f = Deno.openSync(path, { read: true, write: true });
    // Replaced by a link between the lstat and the open: refuse.
    const now = f.statSync();
    if (now.ino !== before.ino || now.dev !== before.dev) {
      f.close();
      throw new StintError(
        `${path} changed while it was opened; stint writes nothing through links in its state dir`,
      );
    }
  }
  return f;
}

function readAll(f: Deno.FsFile): Uint8Array {
  const size = f.statSync().size;
  const buf = new Uint8Array(size);
  f.seekSync(0, Deno.SeekMode.Start);
  let n = 0;
  while (n < size) {
    const got = f.readSync(buf.subarray(n));
    if (got === null) break;
    n += got;
  }
  return buf.subarray(0, n);
}

function writeFully(f: Deno.FsFile, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
}

/** Where the entries end: the first NUL byte, or the end of the file. */
function dataEnd(content: Uint8Array): number {
  const i = content.indexOf(0);
  return i === -1 ? content.length : i;
}

function parseEntries<T>(content: Uint8Array): T[] {
  const text = new TextDecoder().decode(content.subarray(0, dataEnd(content)));
  const out: T[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      // A line cut short by a crash mid-write: nothing to replay.
    }
  }
  return out;
}

/**
 * Append `entry` to the journal (creating it if missing) and flush it to
 * disk. Throws when it cannot be saved.
 */
export function appendJournal(dbPath: string, entry: unknown): void {
  const path = journalPath(dbPath);
  try {
    const f = openJournal(dbPath, { create: true })!;
    try {
      f.lockSync(true);
      const content = readAll(f);
      const end = dataEnd(content);
      // After a line cut short by a crash, start on a fresh line.
      const sep = end > 0 && content[end - 1] !== 0x0a ? "\n" : "";
      f.seekSync(end, Deno.SeekMode.Start);
      writeFully(
        f,
        new TextEncoder().encode(`${sep}${JSON.stringify(entry)}\n`),
      );
      f.syncDataSync();
    } finally {
      f.close(); // also releases the lock
    }
  } catch (err) {
    if (err instanceof StintError) throw err;
    throw new StintError(
      `Cannot write the journal ${path}: ${describeFsError(err)}`,
      { cause: err },
    );
  }
}

/**
 * Whether the journal holds entries: one `lstat` (or a look at `entries`,
 * a listing of the state dir the caller made) and a one-byte read, so
 * every command can ask before it touches the store.
 */
export function journalHasEntries(
  dbPath: string,
  options?: { entries?: StoreEntries },
): boolean {
  const path = journalPath(dbPath);
  try {
    const listed = options?.entries?.kind(JOURNAL_SUFFIX);
    if (options?.entries && listed !== "file") return false;
    if (listed === undefined) {
      const st = Deno.lstatSync(path);
      if (!st.isFile || st.size === 0) return false;
    }
    const f = Deno.openSync(path, { read: true });
    try {
      const b = new Uint8Array(1);
      return f.readSync(b) === 1 && b[0] !== 0;
    } finally {
      f.close();
    }
  } catch {
    return false;
  }
}

/** The journal's entries, without taking them (a reader's look). */
export function peekJournal<T>(dbPath: string): T[] {
  if (!journalHasEntries(dbPath)) return [];
  try {
    const f = Deno.openSync(journalPath(dbPath), { read: true });
    try {
      return parseEntries<T>(readAll(f));
    } finally {
      f.close();
    }
  } catch {
    return [];
  }
}

/**
 * Hand the journal's entries to `apply` under the lock; when it returns
 * true they are cleared (zeroed in place, so the reserve stays), otherwise
 * they stay for the next process. Returns how many entries were applied.
 */
export function takeJournal<T>(
  dbPath: string,
  apply: (entries: T[]) => boolean,
): number {
  const f = openJournal(dbPath, { create: false });
  if (f === null) return 0;
  try {
    f.lockSync(true);
    const content = readAll(f);
    const end = dataEnd(content);
    if (end === 0) return 0;
    const entries = parseEntries<T>(content);
    if (!apply(entries)) return 0;
    f.seekSync(0, Deno.SeekMode.Start);
    writeFully(f, new Uint8Array(end));
    if (content.length > JOURNAL_RESERVE) f.truncateSync(JOURNAL_RESERVE);
    f.syncDataSync();
    return entries.length;
  } finally {
    f.close();
  }
}
