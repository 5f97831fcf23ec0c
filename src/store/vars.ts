/**
 * Scopes and scoped variables. Each run gets a scope whose parent is its
 * caller's scope; lookups walk the chain to `root`. Only root vars sync.
 * @module
 */
import { NotFoundError } from "../errors.ts";
import { reconcileExecutions } from "./executions.ts";
import {
  clearTombstone,
  stampWrite,
  writeTombstone,
} from "./replication/tombstones.ts";
import { hostId, nextSeq } from "./meta.ts";
import { transaction } from "./open.ts";
import type { Database } from "./sqlite.ts";
import {
  MAX_VAR_BYTES,
  validateKey,
  validateSize,
  validateText,
} from "./validate.ts";
import { getAllVars, ROOT_SCOPE, scopeExists } from "./var_lookup.ts";

export {
  getAllVars,
  getVar,
  ROOT_SCOPE,
  scopeExists,
  type VarEntry,
} from "./var_lookup.ts";

export { createScope, deleteScope } from "./scopes.ts";

/** Set a var in `scope`. The scope must exist. */
export function setVar(
  db: Database,
  key: string,
  value: string,
  options?: { scope?: string },
): void {
  validateKey(key);
  validateSize(new TextEncoder().encode(value).length, MAX_VAR_BYTES, "value");
  validateText(value, "value");
  const scope = options?.scope ?? ROOT_SCOPE;
  transaction(db, () => {
    if (!scopeExists(db, scope)) {
      throw new NotFoundError(
        `Scope ${scope} no longer exists (its run has ended); use --global to set a root var`,
      );
    }
    const host = hostId(db);
    const synced = scope === ROOT_SCOPE;
    const stamp = synced
      ? stampWrite(db, {
        kind: "var",
        key,
        previous: db.prepare(
          "SELECT updated_at FROM vars WHERE scope_id = ? AND key = ?",
        ).get(scope, key)?.updated_at,
      })
      : Date.now();
    db.prepare(
      `INSERT INTO vars (scope_id, key, value, updated_at, origin, seq) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(scope_id, key) DO UPDATE SET value = excluded.value,
         updated_at = excluded.updated_at, origin = excluded.origin, seq = excluded.seq`,
    ).run(scope, key, value, stamp, host, synced ? nextSeq(db) : 0);
    if (synced) clearTombstone(db, "var", key);
  });
}

/** The keys visible from `scope`. */
export function varKeys(db: Database, options?: { scope?: string }): string[] {
  return getAllVars(db, options).map((v) => v.key);
}

/** Delete `key` from exactly `scope` (no fallback). Returns whether it existed there. */
export function deleteVar(
  db: Database,
  key: string,
  options?: { scope?: string },
): boolean {
  validateKey(key);
  const scope = options?.scope ?? ROOT_SCOPE;
  return transaction(db, () => {
    const gone = db.prepare(
      "DELETE FROM vars WHERE scope_id = ? AND key = ? RETURNING updated_at",
    ).get(scope, key);
    if (gone && scope === ROOT_SCOPE) {
      writeTombstone(db, { kind: "var", key, previous: gone.updated_at });
    }
    return gone !== undefined;
  });
}

/**
 * How old a scope without any execution must be before it is reclaimed. A
 * run's scope and its record are written in one transaction, so a scope
 * without its run is left over from a crash (or from an older stint, which
 * wrote them one after the other: the minute spares one that is starting).
 */
export const ORPHAN_SCOPE_AGE_MS = 60_000;

// Scopes whose run has ended, or whose run was never recorded.
const ENDED_SCOPES =
  `SELECT s.id FROM scopes s LEFT JOIN executions e ON e.id = s.run_id
  WHERE s.id != 'root' AND s.run_id IS NOT NULL
    AND (e.status != 'running' OR (e.id IS NULL AND s.created_at < ?))`;

/** Delete the scopes (and vars) of runs that are no longer running or never existed. */
export function reclaimOrphanScopes(db: Database): number {
  return transaction(db, () => {
    const orphans = db.prepare(ENDED_SCOPES).all(
      Date.now() - ORPHAN_SCOPE_AGE_MS,
    );
    for (const o of orphans) {
      db.prepare("DELETE FROM vars WHERE scope_id = ?").run(o.id);
      db.prepare("DELETE FROM scopes WHERE id = ?").run(o.id);
    }
    return orphans.length;
  });
}

/** One scope of a chain and the run that owns it. */
export interface ScopeInfo {
  id: string;
  parentId: string | null;
  /** The execution that owns the scope (null for root and run-less scopes). */
  runId: string | null;
  /** That execution's ref, when it is still recorded. */
  ref: string | null;
  /** 0 for the starting scope, counting up towards root. */
  depth: number;
}

/**
 * The scopes from `scope` up to root that still exist, nearest first; root
 * is always last. When `scope` itself is gone the chain is just root.
 */
export function scopeChain(
  db: Database,
  options?: { scope?: string },
): ScopeInfo[] {
  const rows = db.prepare(
    `WITH RECURSIVE chain(id, depth) AS (
       SELECT id, 0 FROM scopes WHERE id = ?
       UNION ALL
       SELECT s.parent_id, c.depth + 1 FROM scopes s JOIN chain c ON s.id = c.id
       WHERE s.parent_id IS NOT NULL AND c.depth < 64
     )
     SELECT c.id, c.depth, s.parent_id, s.run_id, e.ref FROM chain c
       JOIN scopes s ON s.id = c.id LEFT JOIN executions e ON e.id = s.run_id
     ORDER BY c.depth`,
  ).all(options?.scope ?? ROOT_SCOPE);
  const chain: ScopeInfo[] = [];
  for (const r of rows) {
    const id = String(r.id);
    if (id === ROOT_SCOPE) break;
    chain.push({
      id,
      parentId: r.parent_id === null ? null : String(r.parent_id),
      runId: r.run_id === null ? null : String(r.run_id),
      ref: r.ref === null ? null : String(r.ref),
      depth: Number(r.depth),
    });
  }
  chain.push({
    id: ROOT_SCOPE,
    parentId: null,
    runId: null,
    ref: null,
    depth: chain.length,
  });
  return chain;
}

/**
 * Reclaim the scopes of runs that have ended: runs with nobody behind them
 * are marked lost first (which drops their scopes), then scopes whose run is
 * no longer running, or was never recorded, are deleted. Takes a write lock only when there is work.
 * Returns how many scopes were reclaimed or runs marked lost.
 */
export function reclaimEndedScopes(db: Database): number {
  const lost = reconcileExecutions(db).length;
  const ended = db.prepare(`${ENDED_SCOPES} LIMIT 1`).get(
    Date.now() - ORPHAN_SCOPE_AGE_MS,
  );
  return lost + (ended ? reclaimOrphanScopes(db) : 0);
}
