/**
 * Reading vars through the scope chain, as one process sees them: its run's
 * scope (`STINT_SCOPE`), the scopes of the runs that started it, then root.
 * `stint vars get` runs this on scripts' hot path (`$(stint vars get k)`),
 * so it imports nothing beyond the SQLite seam, the point read and key
 * validation. What the point read cannot answer (a store to migrate, a run
 * whose scope is not recorded yet) is full_var_lookup.ts's, loaded only
 * then; the write side is in vars.ts.
 * @module
 */
import { NotFoundError } from "../errors.ts";
import { type FULL_OPEN, pointRead } from "./point_read.ts";
import type { Database, Row } from "./sqlite.ts";
import { validateKey } from "./validate.ts";
import { ROOT_SCOPE } from "./ids.ts";

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

/** What one read of the chain found. */
export interface VarRead {
  /** The nearest entry, if any. */
  entry: VarEntry | undefined;
  /** The scope the read started from. */
  scope: string;
  /**
   * The entry is not from `scope` and `scope` is not recorded (yet): the
   * run may still be recording its start (full_var_lookup.ts waits).
   */
  pending: boolean;
}

/**
 * Read `key` once as this process sees it, with the point read: the entry
 * is undefined when it is set nowhere in the chain or there is no store; a
 * scope that no longer exists (its run ended) falls back to root.
 * {@linkcode FULL_OPEN} when only the full open can read the store; when
 * that or `pending`, full_var_lookup.ts's `lookupVar` answers. Throws a
 * UsageError for an invalid key.
 */
export function readVar(
  dbPath: string,
  key: string,
  options?: { global?: boolean; env?: EnvSource },
): VarRead | typeof FULL_OPEN {
  validateKey(key);
  const scope = currentScope(options);
  return pointRead(
    dbPath,
    (db) => readChain(db, key, scope),
    () => ({ entry: undefined, scope, pending: false }),
  );
}

/**
 * Look `key` up from `scope` on an open connection (see
 * {@linkcode VarRead}): one statement, which also says whether `scope` is
 * recorded.
 */
export function readChain(db: Database, key: string, scope: string): VarRead {
  const row = db.prepare(
    `${CHAIN} SELECT EXISTS(SELECT 1 FROM scopes WHERE id = ?1) AS known,
       v.key, v.value, v.scope_id, v.updated_at
     FROM (SELECT 1) LEFT JOIN (
       SELECT v.key, v.value, v.scope_id, v.updated_at FROM full_chain c
       JOIN vars v ON v.scope_id = c.id AND v.key = ?2
       ORDER BY c.depth LIMIT 1
     ) v ON 1`,
  ).get(scope, key);
  const entry = row?.key === null || row?.key === undefined
    ? undefined
    : toEntry(row);
  // Not found in the run's own scope, which is not recorded: a run records
  // it while its task boots (run_start.ts).
  const pending = scope !== ROOT_SCOPE && entry?.scopeId !== scope &&
    !row?.known;
  return { entry, scope, pending };
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
  return row ? toEntry(row) : undefined;
}

function toEntry(row: Row): VarEntry {
  return {
    key: String(row.key),
    value: String(row.value),
    scopeId: String(row.scope_id),
    updatedAt: Number(row.updated_at),
  };
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
  ).all(options?.scope ?? ROOT_SCOPE).map(toEntry);
}
