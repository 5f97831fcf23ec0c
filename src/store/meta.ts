/**
 * The meta table: host id, this host's change counter, sync cursors.
 * @module
 */
import type { Database } from "./sqlite.ts";

/** Read a meta value. */
export function getMeta(db: Database, key: string): string | undefined {
  const row = db.prepare("SELECT value FROM meta WHERE key = ?").get(key);
  return row ? String(row.value) : undefined;
}

/** Write a meta value (inside the caller's transaction, if any). */
export function setMeta(db: Database, key: string, value: string): void {
  db.prepare(
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
  ).run(key, value);
}

/** This store's host id (generated once, when the file is created). */
export function hostId(db: Database): string {
  const id = getMeta(db, "host_id");
  if (!id) throw new Error("store has no host id");
  return id;
}

/**
 * Take the next value of this host's change counter. Call inside a write
 * transaction; every synced row written gets one, so "what changed since the
 * last push" is one indexed read.
 */
export function nextSeq(db: Database): number {
  const row = db.prepare(
    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'seq' RETURNING value",
  ).get();
  return Number(row?.value);
}

/** The last change counter value handed out. */
export function currentSeq(db: Database): number {
  return Number(getMeta(db, "seq") ?? 0);
}
