/**
 * The run-start lock. `stint run` starts its task first and records the
 * run (its scope and `running` record, one transaction) while `deno task`
 * boots, so a process inside the run (the task's `stint vars`, the typed
 * API) could in principle look for the run's scope before it exists. The
 * recorder holds an exclusive `flock` on the run's log file from before it
 * spawns the task until that transaction is committed (or has failed);
 * whoever finds its `STINT_SCOPE` missing takes a shared lock on the file,
 * which waits for exactly that, and looks again. The lock is the
 * recorder's open file, so a killed stint never leaves anyone waiting.
 * @module
 */
import { logPath } from "./paths.ts";

/** Where a process reads its environment (`Deno.env` by default). */
interface Env {
  get(key: string): string | undefined;
}

/**
 * Wait until the run this process belongs to (`STINT_RUN_ID`) has recorded
 * its start, if it is still doing so. Returns false when there is nothing
 * to wait for (no run id, no log file): looking again would see the same.
 */
export function waitForRunStart(dbPath: string, env: Env): boolean {
  const runId = env.get("STINT_RUN_ID")?.trim();
  if (!runId) return false;
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(logPath(dbPath, runId), { read: true });
  } catch {
    return false; // no such log (or an id that is not one): no start pending
  }
  try {
    f.lockSync(false);
    return true;
  } catch {
    return false;
  } finally {
    f.close(); // also releases the shared lock
  }
}
