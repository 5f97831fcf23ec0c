/**
 * Reading one cache entry. `stint cache get` runs this on scripts' hot path,
 * so it imports nothing beyond the SQLite seam, the point read and key
 * validation; what the point read cannot answer goes to `lookupCache` in
 * cache.ts, with writes, listing and expiry pruning.
 * @module
 */
import { NotFoundError } from "../errors.ts";
import { type FULL_OPEN, pointRead } from "./point_read.ts";
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
 * The live bytes under `key` with the point read, or undefined when the
 * entry was never set, was deleted or has expired, or there is no store;
 * {@linkcode FULL_OPEN} when only the full open can read the store (then
 * `lookupCache` in cache.ts answers). Throws a UsageError for an invalid key.
 */
export function readCache(
  dbPath: string,
  key: string,
): Uint8Array | undefined | typeof FULL_OPEN {
  validateKey(key);
  return pointRead(dbPath, (db) => cacheGet(db, key), () => undefined);
}

/** The error for a cache key with no live entry. */
export function missingCacheEntry(key: string): NotFoundError {
  return new NotFoundError(
    `No cache entry ${
      JSON.stringify(key)
    } (never set, deleted or expired); see stint cache list`,
  );
}
