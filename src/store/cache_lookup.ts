/**
 * Reading one cache entry. `stint cache get` runs this on scripts' hot path,
 * so it imports nothing beyond the SQLite seam, the read-only open and key
 * validation; writes, listing and expiry pruning are in cache.ts.
 * @module
 */
import { NotFoundError } from "../errors.ts";
import { readOnly } from "./read.ts";
import { bucketNow } from "./replication/clock.ts";
import type { Database } from "./sqlite.ts";
import { validateKey } from "./validate.ts";

/** The bytes under `key`, or undefined when missing or expired (`now`: bucket time). */
export function cacheGet(
  db: Database,
  key: string,
  options?: { now?: number },
): Uint8Array | undefined {
  validateKey(key);
  const row = db.prepare(
    "SELECT value FROM cache WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
  ).get(key, options?.now ?? bucketNow(db));
  if (!row) return undefined;
  const v = row.value;
  return v instanceof Uint8Array ? v : new TextEncoder().encode(String(v));
}

/**
 * The live bytes under `key` (one read-only open), or undefined when the
 * entry was never set, was deleted or has expired, or there is no store.
 * Throws a UsageError for an invalid key.
 */
export function lookupCache(
  dbPath: string,
  key: string,
): Uint8Array | undefined {
  validateKey(key);
  return readOnly(dbPath, (db) => cacheGet(db, key), () => undefined);
}

/** The error for a cache key with no live entry. */
export function missingCacheEntry(key: string): NotFoundError {
  return new NotFoundError(
    `No cache entry ${
      JSON.stringify(key)
    } (never set, deleted or expired); see stint cache list`,
  );
}
