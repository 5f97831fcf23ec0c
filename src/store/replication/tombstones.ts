/**
 * Stamps for local writes and tombstones for deletes. A delete of a
 * replicated row is itself a replicated record (`kind`, `key`, stamp,
 * origin, seq), so the delete reaches other hosts and an older copy of the
 * row arriving later stays deleted. Every delete leaves one: by a command,
 * by expiry (a pruned cache entry), by `history clear` or `bg clean`.
 * @module
 */
import { hostId, nextSeq } from "../meta.ts";
import type { Database, SqlValue } from "../sqlite.ts";
import { bucketNow, nextStamp } from "./clock.ts";
import { tableOf } from "./tables.ts";

/**
 * The stamp of a local write of a var or cache key: the next stamp of the
 * hybrid logical clock (bucket time, after everything this host has seen),
 * and after the value it replaces (`previous`) and the key's tombstone. A
 * host whose clock runs behind another's then still wins with a later
 * write, and every host converges on the value written last in fact.
 */
export function stampWrite(
  db: Database,
  t: { kind: string; key: string; previous?: SqlValue; now?: number },
): number {
  const tomb = db.prepare(
    "SELECT deleted_at FROM tombstones WHERE kind = ? AND key = ?",
  ).get(t.kind, t.key)?.deleted_at;
  const after = Math.max(numberOr(t.previous), numberOr(tomb));
  return nextStamp(db, {
    after: Number.isFinite(after) ? after : undefined,
    now: t.now,
  });
}

/**
 * Record that a replicated row was deleted (inside the caller's
 * transaction), stamped after the row it deletes (`previous`, its stamp).
 * A run's stamps come from its recorder's clock alone, so a run's tombstone
 * is bucket time or just after the run, whichever is later, without moving
 * this host's clock. `at` gives the stamp outright (expiry). Returns the stamp.
 */
export function writeTombstone(
  db: Database,
  t: { kind: string; key: string; previous?: SqlValue; at?: number },
): number {
  const previous = numberOr(t.previous);
  const stamp = t.at ??
    (tableOf(t.kind)?.ownedByRecorder
      ? Math.max(bucketNow(db), Number.isFinite(previous) ? previous + 1 : 0)
      : stampWrite(db, t));
  db.prepare(
    `INSERT INTO tombstones (kind, key, deleted_at, origin, seq) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(kind, key) DO UPDATE SET deleted_at = excluded.deleted_at,
       origin = excluded.origin, seq = excluded.seq`,
  ).run(t.kind, t.key, stamp, hostId(db), nextSeq(db));
  return stamp;
}

/** Forget the tombstone of `key` (a local write brought it back). */
export function clearTombstone(db: Database, kind: string, key: string): void {
  db.prepare("DELETE FROM tombstones WHERE kind = ? AND key = ?").run(
    kind,
    key,
  );
}

function numberOr(v: SqlValue | undefined): number {
  return v === null || v === undefined ? -Infinity : Number(v);
}
