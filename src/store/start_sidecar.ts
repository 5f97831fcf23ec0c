/**
 * A run's start on disk until its record is. `stint run` starts its task
 * before the store is even loaded and records the run while `deno task`
 * boots (runner/execute.ts); a SIGKILL of stint in between would leave the
 * task running with no record at all. So just before the spawn the run's
 * start facts go into a tiny private file, `logs/.starting/<id>.json`
 * (0600, created new, never through a link), and it is removed once the
 * start is recorded, or the whole run journalled. A reader that reconciles
 * the records (`reconcileExecutions`) adopts the sidecars whose recorder is
 * gone and whose run has no record: as `running` while a process of the
 * run lives, else `lost`. The sidecar also tells the run's own `stint vars`
 * its caller's scope while the start is not recorded (var_lookup.ts).
 *
 * File system only (no SQLite), so the run path writes it before loading
 * the store. A directory of their own, so a reader looks at the few runs
 * starting now, never at every log.
 * @module
 */
import { isValidLogId, logsDir, refuseForeignEntry } from "./paths.ts";
import { processGoneReason, type ProcessId } from "./process.ts";

/** The start facts of a run whose record is not written yet. */
export interface StartFacts {
  /** The format's version. */
  v: 1;
  /** The store the run records into (a logs dir may be shared by stores). */
  db: string;
  /** The execution id (also the file's name). */
  id: string;
  ref: string;
  command: string;
  args: string[];
  projectDir: string | null;
  task: string | null;
  /** The directory stint was started in. */
  callerCwd: string | null;
  /** The caller's scope, under which the run's own scope hangs. */
  parentScope: string;
  /** The run's own scope id, as its task was told. */
  scopeId: string;
  parentId: string | null;
  backgroundId: string | null;
  rerunOf: string | null;
  matchedTasks: string[] | null;
  startedAt: number;
  /** The run's log id, or null when no log could be made. */
  logId: string | null;
  /** The stint process (or supervisor) that will record the run. */
  recorder: ProcessId;
}

/** The directory that holds the sidecars of runs starting now. */
export function startsDir(dbPath: string): string {
  return `${logsDir(dbPath)}/.starting`;
}

/** The sidecar of run `id`. */
export function startSidecarPath(dbPath: string, id: string): string {
  if (!isValidLogId(id)) throw new Error(`Invalid run id "${id}"`);
  return `${startsDir(dbPath)}/${id}.json`;
}

/**
 * Write the sidecar of a run about to start (the logs dir exists). Best
 * effort: a full or read-only disk leaves no sidecar and the run goes on;
 * returns whether it was written. A link or a foreign entry at
 * `.starting` is refused with one line (NotOursError), like every entry
 * stint writes in its state dir.
 */
export function writeStartSidecar(dbPath: string, facts: StartFacts): boolean {
  const dir = startsDir(dbPath);
  refuseForeignEntry(dir, "directory");
  const path = startSidecarPath(dbPath, facts.id);
  const bytes = new TextEncoder().encode(JSON.stringify(facts));
  let f: Deno.FsFile;
  try {
    f = open(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) return false;
    try {
      Deno.mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) return false;
    }
    // Made just now (0700 as umask allows: it holds only 0600 files).
    refuseForeignEntry(dir, "directory");
    try {
      f = open(path);
    } catch {
      return false;
    }
  }
  let written = false;
  try {
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
    written = true;
  } catch {
    // a full disk: no sidecar (a part of one would only be skipped)
  } finally {
    f.close();
  }
  if (!written) removeStartSidecar(dbPath, facts.id);
  return written;
}

function open(path: string): Deno.FsFile {
  // createNew: O_EXCL, which never follows (or reuses) what is there.
  return Deno.openSync(path, { write: true, createNew: true, mode: 0o600 });
}

/** Remove run `id`'s sidecar (its start is recorded or journalled). */
export function removeStartSidecar(dbPath: string, id: string): void {
  try {
    Deno.removeSync(startSidecarPath(dbPath, id));
  } catch {
    // already gone (adopted by a reader), or never written
  }
}

/** Run `id`'s sidecar, if it has one that names the store at `dbPath`. */
export function readStartSidecar(
  dbPath: string,
  id: string,
): StartFacts | null {
  if (!isValidLogId(id)) return null;
  return readFacts(dbPath, startSidecarPath(dbPath, id), id);
}

function readFacts(
  dbPath: string,
  path: string,
  id: string,
): StartFacts | null {
  try {
    if (!Deno.lstatSync(path).isFile) return null;
    const f = JSON.parse(Deno.readTextFileSync(path)) as StartFacts;
    return isFacts(f) && f.id === id && f.db === dbPath ? f : null;
  } catch {
    return null; // gone meanwhile, or cut short: nothing to adopt
  }
}

/** The shape a sidecar must have (it is read back from disk). */
function isFacts(f: StartFacts): boolean {
  const str = (v: unknown) => typeof v === "string";
  const strOrNull = (v: unknown) => v === null || typeof v === "string";
  return f?.v === 1 && str(f.db) && str(f.id) && isValidLogId(f.id) &&
    str(f.ref) && str(f.command) && Array.isArray(f.args) &&
    f.args.every(str) && strOrNull(f.projectDir) && strOrNull(f.task) &&
    strOrNull(f.callerCwd) && str(f.parentScope) && str(f.scopeId) &&
    strOrNull(f.parentId) && strOrNull(f.backgroundId) &&
    strOrNull(f.rerunOf) &&
    (f.matchedTasks === null ||
      (Array.isArray(f.matchedTasks) && f.matchedTasks.every(str))) &&
    Number.isFinite(f.startedAt) &&
    (f.logId === null || (str(f.logId) && isValidLogId(f.logId))) &&
    Number.isInteger(f.recorder?.pid) && strOrNull(f.recorder.pidStart);
}

/**
 * The sidecars of this store's runs whose recorder is gone: stint was
 * killed after writing one and before recording (or journalling) its run.
 * One `readdir` of a directory that holds only the runs starting now
 * (usually missing or empty).
 */
export function staleStarts(dbPath: string): StartFacts[] {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(startsDir(dbPath))];
  } catch {
    return [];
  }
  const stale: StartFacts[] = [];
  for (const e of entries) {
    if (!e.isFile || !e.name.endsWith(".json")) continue;
    const id = e.name.slice(0, -5);
    if (!isValidLogId(id)) continue;
    const facts = readFacts(dbPath, `${startsDir(dbPath)}/${e.name}`, id);
    if (!facts) continue;
    const { pid, pidStart } = facts.recorder;
    if (processGoneReason(pid, pidStart) !== null) stale.push(facts);
  }
  return stale;
}
