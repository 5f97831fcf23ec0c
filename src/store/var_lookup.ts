/**
 * Reading vars through the scope chain, as one process sees them: its run's
 * scope (`STINT_SCOPE`), the scopes of the runs that started it, then root.
 * `stint vars get` runs this on scripts' hot path (`$(stint vars get k)`),
 * so it imports nothing beyond the SQLite seam, the read-only open, key
 * validation, the run-start lock and the start sidecar (a run whose start
 * is not recorded yet); the write side is in vars.ts.
 * @module
 */
import { NotFoundError } from "../errors.ts";
import { readOnly } from "./read.ts";
import type { Database } from "./sqlite.ts";
import { validateKey } from "./validate.ts";
import { ROOT_SCOPE } from "./ids.ts";
import { waitForRunStart } from "./run_start.ts";
import { readStartSidecar } from "./start_sidecar.ts";

export { ROOT_SCOPE };

/** A variable and the scope it was found in. */
export interface VarEntry {
  key: string;
  value: string;
  scopeId: string;
  updatedAt: number;
}

/** Where a process reads its environment (`Deno.env` by default). */
export interface EnvSource {
  /** The value of `key`, or undefined. */
  get(key: string): string | undefined;
}

/**
 * The scope a process works in: `STINT_SCOPE` (set by `stint run` for its
 * task) else root; always root with `global`.
 */
export function currentScope(
  options?: { global?: boolean; env?: EnvSource },
): string {
  if (options?.global) return ROOT_SCOPE;
  const scope = (options?.env ?? Deno.env).get("STINT_SCOPE");
  return scope ? scope : ROOT_SCOPE;
}

/** The error for a var that is not visible from `scope`. */
export function missingVar(key: string, scope: string): NotFoundError {
  return new NotFoundError(
    `No var ${JSON.stringify(key)} ${
      scope === ROOT_SCOPE
        ? "in the root scope"
        : "in this run, the runs that started it or root"
    }; set it with stint vars set`,
  );
}

/**
 * Look `key` up as this process sees it (one read-only open). Undefined
 * when it is set nowhere in the chain or the store does not exist; a scope
 * that no longer exists (its run ended) falls back to root. Throws a
 * UsageError for an invalid key.
 */
export function lookupVar(
  dbPath: string,
  key: string,
  options?: { global?: boolean; env?: EnvSource },
): VarEntry | undefined {
  validateKey(key);
  const scope = currentScope(options);
  const read = () =>
    readOnly(dbPath, (db) => {
      const entry = getVar(db, key, { scope });
      // Not found in the run's own scope: is that scope there at all? A
      // run records it while its task boots (run_start.ts).
      const pending = scope !== ROOT_SCOPE && entry?.scopeId !== scope &&
        !scopeExists(db, scope);
      return { entry, pending };
    }, () => ({ entry: undefined, pending: false }));
  const first = read();
  if (!first.pending) return first.entry;
  const env = options?.env ?? Deno.env;
  if (!waitForRunStart(dbPath, env)) return first.entry;
  const again = read();
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

/** Whether a scope exists. */
export function scopeExists(db: Database, id: string): boolean {
  return db.prepare("SELECT 1 AS x FROM scopes WHERE id = ?").get(id) !==
    undefined;
}

// The chain from `scope` up through its parents, then root (even if the chain
// is broken because an outer run already ended).
const CHAIN = `WITH RECURSIVE chain(id, depth) AS (
    SELECT ?, 0
    UNION ALL
    SELECT s.parent_id, c.depth + 1 FROM scopes s JOIN chain c ON s.id = c.id
    WHERE s.parent_id IS NOT NULL AND c.depth < 64
  ), full_chain(id, depth) AS (
    SELECT id, depth FROM chain UNION ALL SELECT 'root', 1000
  )`;

/** Look `key` up through the scope chain, nearest scope first, then root. */
export function getVar(
  db: Database,
  key: string,
  options?: { scope?: string },
): VarEntry | undefined {
  const row = db.prepare(
    `${CHAIN} SELECT v.key, v.value, v.scope_id, v.updated_at FROM full_chain c
       JOIN vars v ON v.scope_id = c.id AND v.key = ? ORDER BY c.depth LIMIT 1`,
  ).get(options?.scope ?? ROOT_SCOPE, key);
  return row
    ? {
      key: String(row.key),
      value: String(row.value),
      scopeId: String(row.scope_id),
      updatedAt: Number(row.updated_at),
    }
    : undefined;
}

/** Every var visible from `scope`, merged: the nearest scope wins. Sorted by key. */
export function getAllVars(
  db: Database,
  options?: { scope?: string },
): VarEntry[] {
  return db.prepare(
    `${CHAIN}, ranked AS (
       SELECT v.key, v.value, v.scope_id, v.updated_at,
         ROW_NUMBER() OVER (PARTITION BY v.key ORDER BY c.depth) AS rn
       FROM full_chain c JOIN vars v ON v.scope_id = c.id)
     SELECT key, value, scope_id, updated_at FROM ranked WHERE rn = 1 ORDER BY key`,
  ).all(options?.scope ?? ROOT_SCOPE).map((row) => ({
    key: String(row.key),
    value: String(row.value),
    scopeId: String(row.scope_id),
    updatedAt: Number(row.updated_at),
  }));
}
