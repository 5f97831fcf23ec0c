/**
 * Where stint keeps its state: the database file, its directory and logs.
 * @module
 */
import { StintError } from "../errors.ts";

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

// What stint itself keeps in its state and logs directories.
const OWN_ENTRY =
  /^(logs|\.(pull|snap)-.*|.*\.db(-wal|-shm|-journal|\.restore-.*)?|.*\.log(\.fetch-.*)?|.*\.payload)$/;

/**
 * Create `dir` (and parents) with mode 0700, and tighten it if it exists and
 * holds only stint's files. A directory shared with other things (`--db
 * /tmp/x.db`, a project directory) keeps its mode: the store and the logs
 * are private on their own (0600 files, a 0700 logs directory).
 */
export function ensurePrivateDir(dir: string): void {
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const mode = Deno.statSync(dir).mode ?? 0;
    if ((mode & 0o7777) === 0o700 || (mode & 0o1000) !== 0) return;
    for (const entry of Deno.readDirSync(dir)) {
      if (!OWN_ENTRY.test(entry.name)) return;
    }
    Deno.chmodSync(dir, 0o700);
  } catch (err) {
    throw new StintError(
      `Cannot create the state directory ${dir}: ${describeFsError(err)}`,
      { cause: err },
    );
  }
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
