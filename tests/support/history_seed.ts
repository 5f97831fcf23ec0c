/**
 * Seeding execution history straight through the store API (no runner), so
 * the read-side tests control times, statuses and log bytes exactly.
 * @module
 */
import { join } from "node:path";
import {
  ensurePrivateDir,
  type Execution,
  type ExecutionStatus,
  finishExecution,
  logPath,
  logsDir,
  startExecution,
  uuidv7,
  withStore,
} from "../../src/store/mod.ts";

/** One run to seed. Times are Unix ms; `log` is written to the run's log file. */
export interface SeedRun {
  ref: string;
  startedAt: number;
  durationMs?: number;
  status?: ExecutionStatus;
  exitCode?: number | null;
  signal?: string | null;
  log?: string | Uint8Array;
  pid?: number | null;
  pidStart?: string | null;
  id?: string;
  backgroundId?: string | null;
  /** Default `/tmp/project`. */
  projectDir?: string;
  /** Default `deno task <task>`. */
  command?: string;
  args?: string[];
}

/** Insert `runs` into the store at `db`; returns the records in input order. */
export function seedRuns(db: string, runs: SeedRun[]): Execution[] {
  return withStore(db, (conn) =>
    runs.map((r) => {
      const id = r.id ?? uuidv7(r.startedAt);
      const hasLog = r.log !== undefined;
      let e = startExecution(conn, {
        id,
        ref: r.ref,
        command: r.command ?? `deno task ${r.ref.split(":").pop()}`,
        args: r.args,
        task: r.ref.split(":").pop() ?? null,
        projectDir: r.projectDir ?? "/tmp/project",
        startedAt: r.startedAt,
        pid: r.pid ?? null,
        pidStart: r.pidStart ?? null,
        logId: hasLog ? id : null,
        backgroundId: r.backgroundId ?? null,
      });
      if (hasLog) writeLog(db, id, r.log!);
      const status = r.status ?? "succeeded";
      if (status !== "running") {
        e = finishExecution(conn, id, {
          status,
          exitCode: r.exitCode !== undefined
            ? r.exitCode
            : status === "succeeded"
            ? 0
            : status === "failed"
            ? 1
            : null,
          signal: r.signal ?? null,
          completedAt: r.startedAt + (r.durationMs ?? 1000),
        });
      }
      return e;
    }));
}

/** Write (replace) the log file of `logId` in the store's logs dir. */
export function writeLog(
  db: string,
  logId: string,
  content: string | Uint8Array,
): string {
  ensurePrivateDir(logsDir(db));
  const path = logPath(db, logId);
  if (typeof content === "string") Deno.writeTextFileSync(path, content);
  else Deno.writeFileSync(path, content);
  return path;
}

/** Append bytes to the log file of `logId`. */
export function appendLog(db: string, logId: string, content: string): void {
  Deno.writeTextFileSync(logPath(db, logId), content, { append: true });
}

/** A path inside `dir` (re-exported for brevity in tests). */
export function within(dir: string, ...parts: string[]): string {
  return join(dir, ...parts);
}
