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
  const id = getMeta(db, "host_id") ?? initMeta(db);
  if (!id) throw new Error("store has no host id");
  return id;
}

/**
 * Write the meta rows a new store starts with (host id, change counter),
 * keeping any that exist; returns the host id. The creator writes them right
 * after migrating, but another process can open the file in between.
 */
export function initMeta(db: Database): string | undefined {
  db.prepare(
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('host_id', ?), ('seq', '0'), ('created_at', ?)",
  ).run(newHostId(), String(Date.now()));
  return getMeta(db, "host_id");
}

/** A host id: the sanitised hostname plus 8 random hex digits. Safe in object keys. */
export function newHostId(): string {
  let name = "host";
  try {
    name = Deno.hostname().toLowerCase().replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "").slice(0, 32) || "host";
  } catch {
    // No permission or no hostname: keep the default.
  }
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `${name}-${
    [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/**
 * Take the next value of this host's change counter. Call inside a write
 * transaction; every synced row written gets one, so "what changed since the
 * last push" is one indexed read.
 */
export function nextSeq(db: Database): number {
  const sql =
    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'seq' RETURNING value";
  let row = db.prepare(sql).get();
  if (!row) {
    initMeta(db);
    row = db.prepare(sql).get();
  }
  return Number(row?.value);
}

/** The last change counter value handed out. */
export function currentSeq(db: Database): number {
  return Number(getMeta(db, "seq") ?? 0);
}
