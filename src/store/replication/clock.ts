/**
 * Stamps that order writes as people see them: bucket time plus a hybrid
 * logical clock.
 *
 * - **Bucket time.** Each host learns the offset between its clock and the
 *   bucket's from the `Date` headers of S3 responses (sync keeps it in
 *   `meta` as bounds, see {@linkcode recordClockBounds}), and stamps writes
 *   with `local now + offset`, the offset being the smallest correction the
 *   bounds allow. Two hosts whose clocks disagree by an hour still stamp a
 *   write made a second later with a later stamp.
 * - **Hybrid logical clock.** `clock.hlc` is the highest stamp this host has
 *   written or seen in a pulled var, cache entry or tombstone; a new stamp is
 *   always above it. A stamp is one integer of milliseconds: the logical part
 *   is a step of 1 ms, so stamps stay readable as times.
 * @module
 */
import { getMeta, setMeta } from "../meta.ts";
import type { Database } from "../sqlite.ts";

/** Meta keys of the clock. */
export const CLOCK_META = {
  /** The best estimate of bucket time minus local time, in ms. */
  offset: "clock.offset_ms",
  /** The bounds the offset is known to lie in: `lo,hi,measured_at`. */
  bounds: "clock.offset_bounds",
  /** The highest stamp written or seen. */
  hlc: "clock.hlc",
} as const;

/** A pulled stamp further ahead of bucket time than this does not drag the clock. */
export const MAX_FUTURE_MS = 24 * 3_600_000;

/** How fast a stored offset bound widens with age (clock drift), per ms. */
const DRIFT = 1e-4;

/** Bucket time now: local time plus the measured offset (0 before any). */
export function bucketNow(db: Database, local: number = Date.now()): number {
  return local + clockOffset(db);
}

/** The measured offset (bucket minus local, ms); 0 before any measurement. */
export function clockOffset(db: Database): number {
  const raw = getMeta(db, CLOCK_META.offset);
  const n = raw === undefined ? 0 : Number(raw);
  return Number.isFinite(n) ? n : 0;
}

/**
 * The next stamp of a local write: bucket time now (or `now`, in bucket
 * time), but above every stamp this host has written or seen, and above
 * `after` (the value or tombstone it replaces). Call inside the write's
 * transaction.
 */
export function nextStamp(
  db: Database,
  options?: { after?: unknown; now?: number },
): number {
  const floor = Number(options?.after ?? -Infinity);
  const now = options?.now ?? bucketNow(db);
  const want = Math.max(now, Number.isFinite(floor) ? floor + 1 : now);
  const row = db.prepare(
    `INSERT INTO meta (key, value) VALUES (?, ?)
     ON CONFLICT(key) DO UPDATE SET value = MAX(CAST(value AS INTEGER) + 1, CAST(excluded.value AS INTEGER))
     RETURNING CAST(value AS INTEGER) AS v`,
  ).get(CLOCK_META.hlc, String(want));
  return Number(row?.v ?? want);
}

/**
 * Raise the clock to `stamp` (the newest stamp of pulled vars, cache entries
 * or tombstones), so the next local write is stamped after it. A stamp more
 * than {@linkcode MAX_FUTURE_MS} ahead of bucket time moves it no further
 * than that. Call inside a write transaction.
 */
export function observeStamp(db: Database, stamp: number): void {
  if (!Number.isFinite(stamp)) return;
  const capped = Math.min(stamp, bucketNow(db) + MAX_FUTURE_MS);
  db.prepare(
    `INSERT INTO meta (key, value) VALUES (?, ?)
     ON CONFLICT(key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))`,
  ).run(CLOCK_META.hlc, String(Math.floor(capped)));
}

/** Bounds on the offset (bucket minus local time, ms), as a bucket measured them. */
export interface OffsetBounds {
  /** The offset is at least this. */
  lo: number;
  /** The offset is at most this. */
  hi: number;
}

/**
 * Narrow the stored offset bounds with a new measurement and store the
 * estimate: the smallest correction the bounds allow — 0 when they contain
 * it (this clock agrees with the bucket's as far as can be told, so hosts
 * kept on time by NTP order their writes by their own clocks, exactly),
 * else the bound nearest 0. Old bounds widen with their age (drift); bounds
 * that no longer overlap the new ones (the local clock was set) are dropped.
 * Returns the estimate. Call inside a write transaction.
 */
export function recordClockBounds(
  db: Database,
  measured: OffsetBounds,
  now: number = Date.now(),
): number {
  let { lo, hi } = measured;
  const stored = storedBounds(db);
  if (stored) {
    const widen = Math.max(0, now - stored.at) * DRIFT;
    const slo = stored.lo - widen, shi = stored.hi + widen;
    if (slo <= hi && lo <= shi) {
      lo = Math.max(lo, slo);
      hi = Math.min(hi, shi);
    }
  }
  const offset = lo <= 0 && 0 <= hi ? 0 : Math.round(lo > 0 ? lo : hi);
  setMeta(db, CLOCK_META.bounds, `${lo},${hi},${now}`);
  setMeta(db, CLOCK_META.offset, String(offset));
  return offset;
}

/** The stored offset bounds, if any were measured. */
export function storedBounds(
  db: Database,
): { lo: number; hi: number; at: number } | null {
  const raw = getMeta(db, CLOCK_META.bounds);
  if (raw === undefined) return null;
  const [lo, hi, at] = raw.split(",").map(Number);
  return [lo, hi, at].every(Number.isFinite) && lo <= hi
    ? { lo, hi, at }
    : null;
}
