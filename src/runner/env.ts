/**
 * The environment a run's child gets (contract 2): its execution id, a fresh
 * scope under the caller's, the caller's run id when nested, and the store
 * path so nested stint commands use the same file.
 * @module
 */
// ids.ts, not vars.ts: this is on the path before a run's task starts,
// which loads none of the store.
import { ROOT_SCOPE } from "../store/ids.ts";

/** Where a new run sits: its caller's run and scope, read from stint's own env. */
export interface RunParent {
  /** The calling run's execution id (stint is NESTED when STINT_RUN_ID is set). */
  runId: string | null;
  /** The scope the new run's scope hangs under (the caller's, else root). */
  scope: string;
}

/** Read the caller's run and scope from `env`. */
export function runParent(env: Record<string, string>): RunParent {
  const runId = env.STINT_RUN_ID?.trim() || null;
  const scope = env.STINT_SCOPE?.trim() || ROOT_SCOPE;
  return { runId, scope };
}

/** The ids a child is told about. */
export interface ChildIds {
  runId: string;
  scopeId: string;
  parentRunId: string | null;
  dbPath: string;
}

/**
 * Build the child's environment from `base` (stint's own). Nothing else of
 * stint's state is passed on, so a background supervisor's child looks
 * exactly like a foreground run's.
 */
export function childEnv(
  base: Record<string, string>,
  ids: ChildIds,
  extra?: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = { ...base, ...extra };
  delete env.STINT_PARENT_RUN_ID;
  env.STINT_RUN_ID = ids.runId;
  env.STINT_SCOPE = ids.scopeId;
  if (ids.parentRunId) env.STINT_PARENT_RUN_ID = ids.parentRunId;
  env.STINT_DB = ids.dbPath;
  return env;
}
