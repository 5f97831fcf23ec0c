/**
 * The whole var lookup, for what the point read (var_lookup.ts) cannot
 * answer: a store only the full open can read (to migrate, to adopt, to
 * refuse), and a run whose scope is not recorded yet. `stint run` records
 * its run's scope while `deno task` boots, so the task's first `stint vars
 * get` can arrive first: it waits for the run-start lock and reads again,
 * and if the store could not take the start at all, the run's start
 * sidecar names the caller's scope, which the run's own (empty) scope
 * would fall back to. The typed API calls this; the CLI loads it only
 * when the point read says so.
 * @module
 */
import { readOnly } from "./read.ts";
import { waitForRunStart } from "./run_start.ts";
import { readStartSidecar } from "./start_sidecar.ts";
import {
  currentScope,
  type EnvSource,
  getVar,
  readChain,
  type VarEntry,
  type VarRead,
} from "./var_lookup.ts";
import { validateKey } from "./validate.ts";

/**
 * Look `key` up as this process sees it (its run's scope, the runs that
 * started it, root). Undefined when it is set nowhere in the chain or the
 * store does not exist; a scope that no longer exists (its run ended)
 * falls back to root. Throws a UsageError for an invalid key.
 */
export function lookupVar(
  dbPath: string,
  key: string,
  options?: { global?: boolean; env?: EnvSource },
): VarEntry | undefined {
  validateKey(key);
  const scope = currentScope(options);
  const first = read(dbPath, key, scope);
  if (!first.pending) return first.entry;
  const env = options?.env ?? Deno.env;
  if (!waitForRunStart(dbPath, env)) return first.entry;
  const again = read(dbPath, key, scope);
  if (!again.pending) return again.entry;
  // A run whose start the store could not take yet: its sidecar names the
  // caller's scope, which the run's own (empty) scope would fall back to.
  const facts = readStartSidecar(dbPath, env.get("STINT_RUN_ID")?.trim() ?? "");
  if (facts?.scopeId !== scope) return again.entry;
  const parent = facts.parentScope;
  return readOnly(
    dbPath,
    (db) => getVar(db, key, { scope: parent }),
    () => undefined,
  );
}

function read(dbPath: string, key: string, scope: string): VarRead {
  return readOnly(
    dbPath,
    (db) => readChain(db, key, scope),
    () => ({ entry: undefined, scope, pending: false }),
  );
}
