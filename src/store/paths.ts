/**
 * Where stint keeps its state: the database file, its directory and logs.
 * @module
 */
import { NotOursError, StintError } from "../errors.ts";

// Every command resolves the store path at start-up, and loading node:path
// costs ~5 ms there (more than the rest of `stint vars get`), so the two
// POSIX helpers needed are kept here, following node:path's rules exactly.

/** POSIX `path.join`: join the non-empty parts and normalise. */
function join(...parts: string[]): string {
  const joined = parts.filter((p) => p.length > 0).join("/");
  return joined === "" ? "." : normalize(joined);
}

/** POSIX `path.normalize`: resolve `.`/`..`, collapse slashes, keep a trailing one. */
function normalize(path: string): string {
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
      continue;
    }
    out.push(seg);
  }
  let s = out.join("/");
  if (s === "" && !absolute) s = ".";
  if (s !== "" && path.endsWith("/")) s += "/";
  return absolute ? `/${s}` : s;
}

/** POSIX `path.dirname`. */
function dirname(path: string): string {
  if (path.length === 0) return ".";
  const hasRoot = path[0] === "/";
  let end = -1;
  let matchedSlash = true;
  for (let i = path.length - 1; i >= 1; --i) {
    if (path[i] === "/") {
      if (!matchedSlash) {
        end = i;
        break;
      }
    } else {
      matchedSlash = false;
    }
  }
  if (end === -1) return hasRoot ? "/" : ".";
  if (hasRoot && end === 1) return "//";
  return path.slice(0, end);
}

/**
 * Resolve the store path: `--db` flag, else `STINT_DB`, else the XDG state
 * dir. Always absolute: the path is handed on to tasks (which run in their
 * project's directory) and to background supervisors, and a relative one
 * would name another file there.
 */
export function resolveDbPath(
  flag: string | undefined,
  env: { get(key: string): string | undefined } = Deno.env,
): string {
  if (flag) return absolute(flag);
  const fromEnv = env.get("STINT_DB");
  if (fromEnv) return absolute(fromEnv);
  const xdg = env.get("XDG_STATE_HOME");
  if (xdg) return absolute(join(xdg, "stint", "stint.db"));
  const home = env.get("HOME");
  if (!home) {
    throw new StintError(
      "Cannot find a place for the store: HOME is not set; set STINT_DB or pass --db",
    );
  }
  return absolute(join(home, ".local", "state", "stint", "stint.db"));
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : join(Deno.cwd(), path);
}

/** The state directory that holds the database file (and `logs/`). */
export function stateDir(dbPath: string): string {
  return dirname(dbPath);
}

/** The directory that holds captured logs. */
export function logsDir(dbPath: string): string {
  return join(stateDir(dbPath), "logs");
}

const LOG_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Whether `id` is safe to use as a log file name (no path traversal). */
export function isValidLogId(id: string): boolean {
  return LOG_ID.test(id);
}

/** The log file path of a log id; rejects ids that could escape the logs dir. */
export function logPath(dbPath: string, logId: string): string {
  if (!isValidLogId(logId)) {
    throw new StintError(`Invalid log id "${logId}"`);
  }
  return join(logsDir(dbPath), `${logId}.log`);
}

/**
 * Make sure `dir` exists as a directory, creating what is missing with mode
 * 0700. Only a directory this call created is ever chmodded (right after
 * its mkdir, and only when the umask took bits off 0700): a directory that
 * was already there is someone's choice, even a loose one, so its mode is
 * left alone. With `inStateDir` (stint's own entries, such as `logs/`) a
 * symbolic link, a non-directory or another user's directory is refused
 * with one line instead of being written through.
 */
export function ensurePrivateDir(
  dir: string,
  options?: { inStateDir?: boolean },
): void {
  try {
    for (const created of makeMissingDirs(dir)) {
      const st = Deno.lstatSync(created);
      if (
        st.isDirectory && ((st.mode ?? 0o700) & 0o777) !== 0o700 &&
        (st.uid === null || st.uid === Deno.uid())
      ) {
        Deno.chmodSync(created, 0o700);
      }
    }
  } catch (err) {
    if (err instanceof StintError) throw err;
    throw new StintError(
      `Cannot create the directory ${dir}: ${describeFsError(err)}`,
      { cause: err },
    );
  }
  if (options?.inStateDir) refuseForeignEntry(dir, "directory");
  else if (!isDirectory(dir)) {
    throw new NotOursError(
      `${dir} is not a directory; point STINT_DB/--db at a file in a directory`,
    );
  }
}

/** Create the missing directories of `dir`, top-down; returns those this call made. */
function makeMissingDirs(dir: string): string[] {
  const missing: string[] = [];
  for (let p = dir;; p = dirname(p)) {
    try {
      Deno.statSync(p);
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      missing.push(p);
      if (dirname(p) === p) break;
    }
  }
  const created: string[] = [];
  for (const p of missing.reverse()) {
    try {
      Deno.mkdirSync(p, { mode: 0o700 });
      created.push(p);
    } catch (err) {
      // Made by someone else meanwhile: theirs, not ours to chmod.
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
  }
  return created;
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Refuse to use `path` (an entry stint writes in its state dir) when it is
 * a symbolic link, not the expected kind of file, or another user's: stint
 * writes nothing through a link there (a link planted in a shared directory
 * would send its writes, and its chmods, somewhere else). Missing is fine.
 * Returns what `lstat` said (undefined when missing).
 */
export function refuseForeignEntry(
  path: string,
  kind: "file" | "directory",
): Deno.FileInfo | undefined {
  let st: Deno.FileInfo;
  try {
    st = Deno.lstatSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw new StintError(`Cannot use ${path}: ${describeFsError(err)}`, {
      cause: err,
    });
  }
  if (st.isSymlink) {
    throw new NotOursError(
      `${path} is a symbolic link; stint writes nothing through links in its state dir: remove it or point STINT_DB/--db elsewhere`,
    );
  }
  if (kind === "directory" ? !st.isDirectory : !st.isFile) {
    throw new NotOursError(
      `${path} is not a ${kind}; stint expected its own ${kind} there: move it aside or point STINT_DB/--db elsewhere`,
    );
  }
  if (st.uid !== null && st.uid !== Deno.uid()) {
    throw new NotOursError(
      `${path} belongs to another user (uid ${st.uid}); stint writes only into its own files: remove it or point STINT_DB/--db elsewhere`,
    );
  }
  return st;
}

/** The logs directory, created if missing and refused if it is not stint's own. */
export function ensureLogsDir(dbPath: string): string {
  const dir = logsDir(dbPath);
  ensurePrivateDir(dir, { inStateDir: true });
  return dir;
}

/**
 * Create the log file of `logId` (empty, 0600, in a checked logs dir).
 * `createNew` never follows or reuses anything already at that name; with
 * `mayExist` (a background run's log, made by the process that started it)
 * an existing regular file of this user is used as it is.
 */
export function createLogFile(
  dbPath: string,
  logId: string,
  options?: { mayExist?: boolean },
): string {
  const path = logPath(dbPath, logId);
  ensureLogsDir(dbPath);
  try {
    Deno.openSync(path, { write: true, createNew: true, mode: 0o600 })
      .close();
  } catch (err) {
    if (options?.mayExist && err instanceof Deno.errors.AlreadyExists) {
      refuseForeignEntry(path, "file");
      return path;
    }
    throw new StintError(
      `Cannot create the log ${path}: ${describeFsError(err)}`,
      { cause: err },
    );
  }
  return path;
}

/** A short, user-readable reason for a file system error. */
export function describeFsError(err: unknown): string {
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.NotFound) return "not found";
  if (err instanceof Deno.errors.AlreadyExists) return "already exists";
  const msg = err instanceof Error ? err.message : String(err);
  if (/ENOSPC|No space left/i.test(msg)) return "no space left on device";
  if (/EROFS|read-only file system/i.test(msg)) return "read-only file system";
  return msg.split("\n")[0];
}

/** Whether something (a file, a directory, a link, even a dangling one) is at `path`. */
export function entryExists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
