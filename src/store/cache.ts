/**
 * The key-value cache: bytes with an optional expiry. Expired entries are
 * never returned and are pruned on writes.
 * @module
 */
import { lwwStamp, writeTombstone } from "./replication/tombstones.ts";
import { hostId, nextSeq } from "./meta.ts";
import { transaction } from "./open.ts";
import type { Database } from "./sqlite.ts";
import { MAX_CACHE_BYTES, validateKey, validateSize } from "./validate.ts";

/** A cache entry without its value. */
export interface CacheInfo {
  key: string;
  size: number;
  updatedAt: number;
  expiresAt: number | null;
}

/** Store `value` under `key`, optionally expiring after `ttlMs`. */
export function cacheSet(
  db: Database,
  key: string,
  value: Uint8Array,
  options?: { ttlMs?: number; now?: number },
): void {
  validateKey(key);
  validateSize(value.length, MAX_CACHE_BYTES, "cache value");
  const now = options?.now ?? Date.now();
  const expires = options?.ttlMs === undefined ? null : now + options.ttlMs;
  transaction(db, () => {
    pruneExpired(db, now);
    const stamp = lwwStamp(db, {
      kind: "cache",
      key,
      previous: db.prepare("SELECT updated_at FROM cache WHERE key = ?").get(
        key,
      )?.updated_at,
      now,
    });
    db.prepare(
      `INSERT INTO cache (key, value, updated_at, expires_at, origin, seq) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
         expires_at = excluded.expires_at, origin = excluded.origin, seq = excluded.seq`,
    ).run(key, value, stamp, expires, hostId(db), nextSeq(db));
    db.prepare("DELETE FROM tombstones WHERE kind = 'cache' AND key = ?").run(
      key,
    );
  });
}

/** The bytes under `key`, or undefined when missing or expired. */
export function cacheGet(
  db: Database,
  key: string,
  options?: { now?: number },
): Uint8Array | undefined {
  validateKey(key);
  const row = db.prepare(
    "SELECT value FROM cache WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
  ).get(key, options?.now ?? Date.now());
  if (!row) return undefined;
  const v = row.value;
  return v instanceof Uint8Array ? v : new TextEncoder().encode(String(v));
}

/** Delete `key`; returns whether a live entry existed. */
export function cacheDelete(db: Database, key: string): boolean {
  validateKey(key);
  return transaction(db, () => {
    const live = db.prepare(
      "SELECT 1 AS x FROM cache WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
    ).get(key, Date.now()) !== undefined;
    const gone = db.prepare(
      "DELETE FROM cache WHERE key = ? RETURNING updated_at",
    ).get(key);
    if (gone) {
      writeTombstone(db, {
        kind: "cache",
        key,
        host: hostId(db),
        now: lwwStamp(db, { kind: "cache", key, previous: gone.updated_at }),
      });
    }
    return live;
  });
}

/** Live entries, sorted by key. */
export function cacheList(
  db: Database,
  options?: { now?: number },
): CacheInfo[] {
  return db.prepare(
    `SELECT key, length(value) AS size, updated_at, expires_at FROM cache
     WHERE expires_at IS NULL OR expires_at > ? ORDER BY key`,
  ).all(options?.now ?? Date.now()).map((r) => ({
    key: String(r.key),
    size: Number(r.size),
    updatedAt: Number(r.updated_at),
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
  }));
}

/** Delete every entry; returns how many were live. */
export function cacheClear(db: Database): number {
  return transaction(db, () => {
    const now = Date.now();
    const keys = db.prepare("SELECT key, expires_at, updated_at FROM cache")
      .all();
    const host = hostId(db);
    db.exec("DELETE FROM cache");
    for (const k of keys) {
      const key = String(k.key);
      writeTombstone(db, {
        kind: "cache",
        key,
        host,
        now: lwwStamp(db, { kind: "cache", key, previous: k.updated_at, now }),
      });
    }
    return keys.filter((k) =>
      k.expires_at === null || Number(k.expires_at) > now
    ).length;
  });
}

/** Remove expired entries (inside the caller's transaction). Returns how many. */
export function pruneExpired(db: Database, now: number = Date.now()): number {
  return Number(
    db.prepare(
      "DELETE FROM cache WHERE expires_at IS NOT NULL AND expires_at <= ?",
    ).run(now)
      .changes,
  );
}

/**
 * Prune expired entries outside any transaction of the caller: a read first,
 * so a store with nothing expired never takes the write lock. Returns how many.
 */
export function pruneExpiredEntries(
  db: Database,
  options?: { now?: number },
): number {
  const now = options?.now ?? Date.now();
  const any = db.prepare(
    "SELECT 1 AS x FROM cache WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT 1",
  ).get(now);
  return any ? transaction(db, () => pruneExpired(db, now)) : 0;
}
