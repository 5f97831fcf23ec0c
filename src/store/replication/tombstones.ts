/**
 * Tombstones: a delete of a replicated row is itself a replicated record
 * (`kind`, `key`, stamp, origin, seq), so the delete reaches other hosts and
 * an older copy of the row arriving later stays deleted.
 * @module
 */
import { nextSeq } from "../meta.ts";
import type { Database, SqlValue } from "../sqlite.ts";

/**
 * The timestamp of a local write or delete of a synced key under
 * last-writer-wins: now, but always after the value it replaces
 * (`previous`) and after the key's tombstone. A host whose clock runs behind
 * another's then still wins with a later write, so every host converges on
 * the value that was written last in fact, not just by its clock.
 */
export function lwwStamp(
  db: Database,
  t: { kind: string; key: string; previous?: SqlValue; now?: number },
): number {
  let stamp = t.now ?? Date.now();
  const tomb = db.prepare(
    "SELECT deleted_at FROM tombstones WHERE kind = ? AND key = ?",
  ).get(t.kind, t.key)?.deleted_at;
  for (const p of [t.previous, tomb]) {
    if (p !== null && p !== undefined && Number(p) >= stamp) {
      stamp = Number(p) + 1;
    }
  }
  return stamp;
}

/** Record that a synced row was deleted (inside the caller's transaction). */
export function writeTombstone(
  db: Database,
  t: { kind: string; key: string; host: string; now: number },
): void {
  db.prepare(
    `INSERT INTO tombstones (kind, key, deleted_at, origin, seq) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(kind, key) DO UPDATE SET deleted_at = excluded.deleted_at,
       origin = excluded.origin, seq = excluded.seq`,
  ).run(t.kind, t.key, t.now, t.host, nextSeq(db));
}

/** Forget the tombstone of `key` (a local write brought it back). */
export function clearTombstone(db: Database, kind: string, key: string): void {
  db.prepare("DELETE FROM tombstones WHERE kind = ? AND key = ?").run(
    kind,
    key,
  );
}
