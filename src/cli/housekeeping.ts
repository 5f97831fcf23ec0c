/**
 * The automatic pass that keeps a store bounded: the retention policy
 * (finished runs beyond it go, with tombstones, and their logs) and the log
 * budget (the oldest finished runs' log files go once the folder is over
 * it). Writing commands call {@linkcode housekeepIfDue} after their work
 * (a run: after its task ended, before the final push, so the tombstones
 * go with it); it costs one `lstat` of `<store>.retention` unless an hour
 * has passed since the last pass, and this module is loaded only then.
 * Never on a reading command, never before a task starts, never inside a
 * run (the outermost stint does it). A failure is silent and retried at the
 * next pass: housekeeping must never change a command's result.
 * @module
 */
import type { Context } from "./context.ts";

/** How often the pass runs (at most). */
export const HOUSEKEEPING_INTERVAL_MS = 3_600_000;

/** Runs removed per pass at most; the rest go at the next pass, a minute later. */
export const PRUNE_PER_PASS = 5_000;

/** What a pass did (for tests and `--verbose`). */
export interface HousekeepingResult {
  /** Runs removed by the retention policy. */
  pruned: number;
  /** Log files removed with them. */
  prunedLogs: number;
  /** Log files removed for the budget. */
  budgetLogs: number;
  /** Bytes those held. */
  budgetBytes: number;
  /** Whether runs are left for the next pass. */
  more: boolean;
}

/** The marker whose mtime is the last pass. */
export function markerPath(dbPath: string): string {
  return `${dbPath}.retention`;
}

/**
 * Whether a pass is due: the store exists and the marker is missing or an
 * hour old. A marker that is not a regular file (a link) means never: stint
 * writes nothing through a link.
 */
export function housekeepingDue(dbPath: string, now = Date.now()): boolean {
  try {
    Deno.lstatSync(dbPath);
  } catch {
    return false;
  }
  try {
    const st = Deno.lstatSync(markerPath(dbPath));
    if (!st.isFile) return false;
    return (st.mtime?.getTime() ?? 0) <= now - HOUSEKEEPING_INTERVAL_MS;
  } catch (err) {
    return err instanceof Deno.errors.NotFound;
  }
}

/** Run the pass now, whether due or not. Throws on a store failure. */
export async function housekeep(ctx: Context): Promise<HousekeepingResult> {
  const [{ loadRetentionConfig }, retention, budget, { withStore }] =
    await Promise.all([
      import("./retention_config.ts"),
      import("../store/retention.ts"),
      import("../store/log_budget.ts"),
      import("../store/open.ts"),
    ]);
  const config = loadRetentionConfig();
  const result: HousekeepingResult = {
    pruned: 0,
    prunedLogs: 0,
    budgetLogs: 0,
    budgetBytes: 0,
    more: false,
  };
  // Marked first: a pass that fails is not retried by every command.
  touchMarker(ctx.dbPath, Date.now());
  if (config.policy !== null) {
    const policy = config.policy;
    const r = withStore(ctx.dbPath, (db) => {
      const plan = retention.planPrune(db, policy, { limit: PRUNE_PER_PASS });
      return { ...retention.pruneRuns(db, plan.runs), more: plan.more };
    });
    result.pruned = r.runs;
    result.more = r.more;
    result.prunedLogs = retention.removeLogFiles(ctx.dbPath, r.logIds).files;
  }
  if (config.logBudget !== null) {
    const cap = config.logBudget;
    const b = withStore(
      ctx.dbPath,
      (db) => budget.enforceLogBudget(db, ctx.dbPath, cap),
    );
    result.budgetLogs = b.files;
    result.budgetBytes = b.freed;
  }
  if (result.more) {
    // Due again in a minute: a long history is worked off in steps.
    touchMarker(ctx.dbPath, Date.now() - HOUSEKEEPING_INTERVAL_MS + 60_000);
  }
  return result;
}

/** Run the pass when it is due; never throws, never prints. */
export async function housekeepIfDue(ctx: Context): Promise<void> {
  if (!housekeepingDue(ctx.dbPath)) return;
  try {
    await housekeep(ctx);
  } catch (err) {
    if (Deno.env.get("STINT_DEBUG")) console.error(err);
  }
}

/** Create the marker (0600, never through a link) or set its mtime. */
function touchMarker(dbPath: string, at: number): void {
  const path = markerPath(dbPath);
  try {
    Deno.writeFileSync(path, new Uint8Array(0), {
      createNew: true,
      mode: 0o600,
    });
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) return;
    if (!Deno.lstatSync(path).isFile) return;
  }
  const when = new Date(at);
  try {
    Deno.utimeSync(path, when, when);
  } catch {
    // Not ours to touch (another user's file): the next pass tries again.
  }
}
