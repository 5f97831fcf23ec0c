/**
 * The key-value cache: bytes with an optional expiry. Expired entries are
 * never returned and are pruned on writes, each leaving a tombstone so the
 * older value it replaced cannot come back from another host. Expiry is in
 * bucket time (see `replication/clock.ts`), like every stamp, so hosts whose
 * clocks disagree agree on when an entry expires.
 * @module
 */
import { hostId, nextSeq } from "./meta.ts";
import { transaction } from "./open.ts";
import { bucketNow } from "./replication/clock.ts";
import {
  clearTombstone,
  stampWrite,
  writeTombstone,
} from "./replication/tombstones.ts";
import { readOnly } from "./read.ts";
import type { Database } from "./sqlite.ts";
import { MAX_CACHE_BYTES, validateKey, validateSize } from "./validate.ts";
import { cacheGet } from "./cache_lookup.ts";

export { cacheGet };

/**
 * The live bytes under `key` (one read-only open, migrating or refusing the
 * store as every open does), or undefined when the entry was never set,
 * was deleted or has expired, or there is no store. Throws a UsageError
 * for an invalid key.
 */
export function lookupCache(
  dbPath: string,
  key: string,
): Uint8Array | undefined {
  validateKey(key);
  return readOnly(dbPath, (db) => cacheGet(db, key), () => undefined);
}

/** A cache entry without its value. */
export interface CacheInfo {
  key: string;
  size: number;
  updatedAt: number;
  expiresAt: number | null;
}

/**
 * Store `value` under `key`, optionally expiring `ttlMs` after it was
 * written. `now` is bucket time (default: now).
 */
export function cacheSet(
  db: Database,
  key: string,
  value: Uint8Array,
  options?: { ttlMs?: number; now?: number },
): void {
  validateKey(key);
  validateSize(value.length, MAX_CACHE_BYTES, "cache value");
  transaction(db, () => {
    const now = options?.now ?? bucketNow(db);
    pruneExpired(db, now);
    const stamp = stampWrite(db, {
      kind: "cache",
      key,
      previous: db.prepare("SELECT updated_at FROM cache WHERE key = ?").get(
        key,
      )?.updated_at,
      now,
    });
    const expires = options?.ttlMs === undefined ? null : now + options.ttlMs;
    db.prepare(
      `INSERT INTO cache (key, value, updated_at, expires_at, origin, seq) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
         expires_at = excluded.expires_at, origin = excluded.origin, seq = excluded.seq`,
    ).run(key, value, stamp, expires, hostId(db), nextSeq(db));
    clearTombstone(db, "cache", key);
  });
}

/** Delete `key`; returns whether a live entry existed. */
export function cacheDelete(db: Database, key: string): boolean {
  validateKey(key);
  return transaction(db, () => {
    const gone = db.prepare(
      "DELETE FROM cache WHERE key = ? RETURNING updated_at, expires_at",
    ).get(key);
    if (!gone) return false;
    writeTombstone(db, { kind: "cache", key, previous: gone.updated_at });
    return gone.expires_at === null ||
      Number(gone.expires_at) > bucketNow(db);
  });
}

/** Live entries, sorted by key (`now`: bucket time). */
export function cacheList(
  db: Database,
  options?: { now?: number },
): CacheInfo[] {
  return db.prepare(
    `SELECT key, length(value) AS size, updated_at, expires_at FROM cache
     WHERE expires_at IS NULL OR expires_at > ? ORDER BY key`,
  ).all(options?.now ?? bucketNow(db)).map((r) => ({
    key: String(r.key),
    size: Number(r.size),
    updatedAt: Number(r.updated_at),
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
  }));
}

/** Delete every entry; returns how many were live. */
export function cacheClear(db: Database): number {
  return transaction(db, () => {
    const now = bucketNow(db);
    const rows = db.prepare(
      "DELETE FROM cache RETURNING key, expires_at, updated_at",
    ).all();
    for (const r of rows) {
      writeTombstone(db, {
        kind: "cache",
        key: String(r.key),
        previous: r.updated_at,
      });
    }
    return rows.filter((r) =>
      r.expires_at === null || Number(r.expires_at) > now
    ).length;
  });
}

/**
 * Remove expired entries (inside the caller's transaction). Each leaves a
 * tombstone stamped just after the value it removes: it beats that value and
 * anything older (which the expired value had replaced), and loses to any
 * later write. Every host that prunes the same entry writes the same stamp.
 * Returns how many were removed.
 */
export function pruneExpired(
  db: Database,
  now: number = bucketNow(db),
): number {
  const rows = db.prepare(
    "DELETE FROM cache WHERE expires_at IS NOT NULL AND expires_at <= ? RETURNING key, updated_at",
  ).all(now);
  for (const r of rows) {
    writeTombstone(db, {
      kind: "cache",
      key: String(r.key),
      at: Number(r.updated_at) + 1,
    });
  }
  return rows.length;
}

/**
 * Prune expired entries outside any transaction of the caller: a read first,
 * so a store with nothing expired never takes the write lock. Returns how many.
 */
export function pruneExpiredEntries(
  db: Database,
  options?: { now?: number },
): number {
  const now = options?.now ?? bucketNow(db);
  const any = db.prepare(
    "SELECT 1 AS x FROM cache WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT 1",
  ).get(now);
  return any ? transaction(db, () => pruneExpired(db, now)) : 0;
}
