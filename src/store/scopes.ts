/**
 * Creating and dropping scopes: what a run's start and end do to the vars
 * side (vars.ts holds the rest). Kept apart so the run's record loads no
 * var lookups or validation.
 * @module
 */
import { ROOT_SCOPE, uuidv7 } from "./ids.ts";
import { transaction } from "./open.ts";
import type { Database } from "./sqlite.ts";

/** Create a scope under `parent` (default root); returns its id. */
export function createScope(
  db: Database,
  options?: { parent?: string | null; runId?: string | null; id?: string },
): string {
  const id = options?.id ?? uuidv7();
  transaction(db, () => {
    db.prepare(
      "INSERT INTO scopes (id, parent_id, run_id, created_at) VALUES (?, ?, ?, ?)",
    ).run(
      id,
      options?.parent ?? ROOT_SCOPE,
      options?.runId ?? null,
      Date.now(),
    );
  });
  return id;
}

/** Delete a scope and its vars. Root cannot be deleted. */
export function deleteScope(db: Database, id: string): boolean {
  if (id === ROOT_SCOPE) return false;
  return transaction(db, () => {
    db.prepare("DELETE FROM vars WHERE scope_id = ?").run(id);
    return Number(
      db.prepare("DELETE FROM scopes WHERE id = ?").run(id).changes,
    ) > 0;
  });
}
