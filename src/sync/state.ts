/**
 * What sync remembers in the store's `meta` table: the push cursor, the
 * cursors of other hosts, snapshot etags, compaction counters, the last
 * errors. All of it is about one bucket location (endpoint + bucket +
 * prefix), so every key lives under that location's prefix
 * (`sync.<location id>.`, see {@linkcode SyncMeta}): pointing a store at
 * another bucket or prefix starts from nothing there, and coming back finds
 * the old cursors.
 * @module
 */
import { createHash } from "node:crypto";
import { absorbRange, parseRanges, type SeqRange } from "./seq_ranges.ts";
import { getMeta, setMeta } from "../store/meta.ts";
import { transaction } from "../store/open.ts";
import type { Database } from "../store/sqlite.ts";
import {
  countChangesAfter,
  hasChangesAfter,
} from "../store/replication/changelog.ts";

/** One recorded sync failure. */
export interface SyncErrorRecord {
  /** When (ms since the epoch). */
  at: number;
  /** The error's kind (`unreachable`, `corrupt`, ...). */
  kind: string;
  /** One line. */
  message: string;
}

/** Where a bucket location is: what names it. */
export interface LocationParts {
  /** The bucket. */
  bucket: string;
  /** A custom endpoint; unset means AWS. */
  endpoint?: string;
  /** The root prefix. */
  prefix: string;
}

/** An object pull refused, remembered so it is not fetched again. */
export interface RejectedObject {
  /** Its key. */
  key: string;
  /** Its etag (or `size:<n>` when the server sent none): a changed object is tried again. */
  etag: string;
  /** Why, one line. */
  reason: string;
  /** When it was refused. */
  at: number;
}

export type { SeqRange };

/** The prefix of the keys written before cursors were kept per location. */
export const LEGACY_PREFIX = "sync.";

/** A short stable id of a location (12 hex digits). */
export function locationId(loc: LocationParts): string {
  return createHash("sha256")
    .update(JSON.stringify([loc.endpoint ?? "aws", loc.bucket, loc.prefix]))
    .digest("hex").slice(0, 12);
}

/** The meta rows of one bucket location. */
export class SyncMeta {
  /** The prefix of every key (`sync.<location id>.`). */
  readonly prefix: string;

  /** Keys under `prefix` (the legacy prefix by default, for tests). */
  constructor(prefix = LEGACY_PREFIX) {
    this.prefix = prefix;
  }

  /** The meta rows of `loc`. */
  static of(loc: LocationParts): SyncMeta {
    return new SyncMeta(`sync.${locationId(loc)}.`);
  }

  /** Whether any key of this location exists. */
  hasAny(db: Database): boolean {
    return db.prepare(
      "SELECT 1 AS x FROM meta WHERE key > ? AND key < ? LIMIT 1",
    )
      .get(this.prefix, this.prefix + "\uffff") !== undefined;
  }

  /**
   * The location's rows, or the legacy ones when this location has none yet
   * (a store last synced before cursors were kept per location): for
   * read-only callers, which cannot {@linkcode adoptLegacy}.
   */
  readable(db: Database): SyncMeta {
    if (this.prefix === LEGACY_PREFIX || this.hasAny(db)) return this;
    const legacy = new SyncMeta(LEGACY_PREFIX);
    return getMeta(db, legacy.key("pushed_seq")) !== undefined ||
        getMeta(db, legacy.key("last_pull_at")) !== undefined
      ? legacy
      : this;
  }

  /**
   * Move the keys a stint from before per-location cursors wrote (all about
   * the one bucket it knew) to this location, once: the first location used
   * after the upgrade is taken to be that bucket.
   */
  adoptLegacy(db: Database): void {
    if (this.prefix === LEGACY_PREFIX) return;
    transaction(db, () => {
      if (this.hasAny(db)) return;
      const legacy = db.prepare(
        `SELECT key, value FROM meta WHERE key > 'sync.' AND key < 'sync.\uffff'
           AND key NOT GLOB 'sync.[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].*'`,
      ).all();
      for (const row of legacy) {
        const name = String(row.key).slice(LEGACY_PREFIX.length);
        setMeta(db, this.key(name), String(row.value));
        db.prepare("DELETE FROM meta WHERE key = ?").run(row.key);
      }
    });
  }

  /** The full meta key of `name`. */
  key(name: string): string {
    return this.prefix + name;
  }

  /** The highest own seq known to be in the bucket (0 before the first push). */
  pushedSeq(db: Database): number {
    return Number(getMeta(db, this.key("pushed_seq")) ?? 0);
  }

  /** When this host last pushed, and up to which seq; null if it never did. */
  lastPush(db: Database): { at: number; seq: number } | null {
    const at = getMeta(db, this.key("last_push_at"));
    if (at === undefined) return null;
    return { at: Number(at), seq: this.pushedSeq(db) };
  }

  /**
   * Whether this host has changes the bucket lacks: two meta rows read by
   * primary key, so an idle flush costs no scan and no bucket request.
   */
  isDirty(db: Database): boolean {
    return hasChangesAfter(db, this.pushedSeq(db));
  }

  /** How many of this host's changes are not in the bucket yet. */
  unpushedCount(db: Database): number {
    return countChangesAfter(db, this.pushedSeq(db));
  }

  /** Record a successful push up to `seq` (never lowers the cursor). Inside a transaction. */
  markPushed(db: Database, seq: number, at: number = Date.now()): void {
    if (seq > this.pushedSeq(db)) {
      setMeta(db, this.key("pushed_seq"), String(seq));
    }
    setMeta(db, this.key("last_push_at"), String(at));
  }

  /** Set the push cursor as it is (a restored file takes what the bucket holds). */
  setPushedSeq(db: Database, seq: number): void {
    setMeta(db, this.key("pushed_seq"), String(seq));
  }

  /** The highest seq of `host` applied here. */
  remoteCursor(db: Database, host: string): number {
    return Number(getMeta(db, this.key(`cursor.${host}`)) ?? 0);
  }

  /** Raise `host`'s cursor (never lowers it). Inside a write transaction. */
  advanceRemoteCursor(db: Database, host: string, seq: number): void {
    if (seq > this.remoteCursor(db, host)) {
      setMeta(db, this.key(`cursor.${host}`), String(seq));
    }
  }

  /** Forget `host`'s cursor (a restored file's own host). */
  dropRemoteCursor(db: Database, host: string): void {
    db.prepare("DELETE FROM meta WHERE key = ?").run(
      this.key(`cursor.${host}`),
    );
  }

  /** Every remote cursor, by host id. */
  remoteCursors(db: Database): Record<string, number> {
    const p = this.key("cursor.");
    const out: Record<string, number> = {};
    for (
      const row of db.prepare(
        "SELECT key, value FROM meta WHERE key > ? AND key < ? ORDER BY key",
      ).all(p, p + "\uffff")
    ) {
      out[String(row.key).slice(p.length)] = Number(row.value);
    }
    return out;
  }

  /**
   * The ranges of `host`'s seqs above its cursor that were applied already
   * (segments after a missing one), so they are not fetched again.
   */
  appliedAhead(db: Database, host: string): SeqRange[] {
    return parseRanges(getMeta(db, this.key(`ahead.${host}`)));
  }

  /**
   * Note that `range` of `host` was applied: the cursor moves over every
   * range that now joins it, the rest is kept as applied-ahead. Returns the
   * new cursor. Inside a write transaction.
   */
  markApplied(db: Database, host: string, range: SeqRange): number {
    const { cursor, ahead } = absorbRange(
      this.remoteCursor(db, host),
      this.appliedAhead(db, host),
      range,
    );
    this.advanceRemoteCursor(db, host, cursor);
    const key = this.key(`ahead.${host}`);
    if (ahead.length) setMeta(db, key, JSON.stringify(ahead));
    else db.prepare("DELETE FROM meta WHERE key = ?").run(key);
    return cursor;
  }

  /** Objects pull refused and still remembers, by key. */
  rejected(db: Database): Map<string, RejectedObject> {
    const p = this.key("rejected.");
    const out = new Map<string, RejectedObject>();
    for (
      const row of db.prepare(
        "SELECT key, value FROM meta WHERE key > ? AND key < ?",
      ).all(p, p + "\uffff")
    ) {
      try {
        const v = JSON.parse(String(row.value));
        const key = String(row.key).slice(p.length);
        out.set(key, {
          key,
          etag: String(v.etag),
          reason: String(v.reason),
          at: Number(v.at),
        });
      } catch {
        // A damaged row: forget it, the object is simply tried again.
      }
    }
    return out;
  }

  /** Remember that the object `key` (as `etag`) was refused. */
  reject(db: Database, r: RejectedObject): void {
    setMeta(
      db,
      this.key(`rejected.${r.key}`),
      JSON.stringify({ etag: r.etag, reason: r.reason, at: r.at }),
    );
  }

  /** Forget a refused object (it changed or went away). */
  forgetRejected(db: Database, key: string): void {
    db.prepare("DELETE FROM meta WHERE key = ?").run(
      this.key(`rejected.${key}`),
    );
  }

  /** The etag of `host`'s snapshot last applied (or found to hold nothing new). */
  snapshotEtag(db: Database, host: string): string | undefined {
    return getMeta(db, this.key(`snap_etag.${host}`));
  }

  /** Remember `host`'s snapshot etag. */
  setSnapshotEtag(db: Database, host: string, etag: string): void {
    setMeta(db, this.key(`snap_etag.${host}`), etag);
  }

  /** Segments and their bytes pushed since the last snapshot. */
  segmentsSinceSnapshot(db: Database): { count: number; bytes: number } {
    return {
      count: Number(getMeta(db, this.key("segments_since_snapshot")) ?? 0),
      bytes: Number(
        getMeta(db, this.key("segment_bytes_since_snapshot")) ?? 0,
      ),
    };
  }

  /** Set the counters of {@linkcode segmentsSinceSnapshot}. */
  setSegmentsSinceSnapshot(
    db: Database,
    v: { count: number; bytes: number },
  ): void {
    setMeta(db, this.key("segments_since_snapshot"), String(v.count));
    setMeta(db, this.key("segment_bytes_since_snapshot"), String(v.bytes));
  }

  /**
   * Take the compaction lease for `owner` unless another live one holds it
   * (so two local processes never compact at once). Returns whether taken.
   */
  takeCompactionLease(db: Database, owner: string, ttlMs: number): boolean {
    return transaction(db, () => {
      const held = getMeta(db, this.key("compact_lease"));
      if (held && Number(held.split("@")[1] ?? 0) > Date.now()) return false;
      setMeta(db, this.key("compact_lease"), `${owner}@${Date.now() + ttlMs}`);
      return true;
    });
  }

  /** Give the lease back if `owner` still holds it. */
  releaseCompactionLease(db: Database, owner: string): void {
    transaction(db, () => {
      if (getMeta(db, this.key("compact_lease"))?.startsWith(`${owner}@`)) {
        db.prepare("DELETE FROM meta WHERE key = ?").run(
          this.key("compact_lease"),
        );
      }
    });
  }

  /** When this host last finished a `sync gc` of this location. */
  lastGcAt(db: Database): number | null {
    const v = getMeta(db, this.key("gc_done_at"));
    return v === undefined ? null : Number(v);
  }

  /** Record a finished gc. */
  markGcDone(db: Database, at: number = Date.now()): void {
    setMeta(db, this.key("gc_done_at"), String(at));
  }

  /**
   * Take the turn of an automatic gc: due when none finished in `everyMs`
   * and none was tried in the last `retryMs` (one that was cut short, by a
   * deadline, waits that long). Returns whether this process takes it.
   */
  takeGcTurn(
    db: Database,
    options: { everyMs: number; retryMs: number; now?: number },
  ): boolean {
    const now = options.now ?? Date.now();
    return transaction(db, () => {
      const done = Number(getMeta(db, this.key("gc_done_at")) ?? 0);
      const tried = Number(getMeta(db, this.key("gc_tried_at")) ?? 0);
      if (now - done < options.everyMs || now - tried < options.retryMs) {
        return false;
      }
      setMeta(db, this.key("gc_tried_at"), String(now));
      return true;
    });
  }

  /** When the last successful pull finished. */
  lastPullAt(db: Database): number | null {
    const v = getMeta(db, this.key("last_pull_at"));
    return v === undefined ? null : Number(v);
  }

  /** Record a successful pull. */
  markPulled(db: Database, at: number = Date.now()): void {
    setMeta(db, this.key("last_pull_at"), String(at));
  }

  /** When this file was built by a restore, if it was. */
  restoredAt(db: Database): number | null {
    const v = getMeta(db, this.key("restored_at"));
    return v === undefined ? null : Number(v);
  }

  /** Record that this file was built by a restore. */
  markRestored(db: Database, at: number = Date.now()): void {
    setMeta(db, this.key("restored_at"), String(at));
    setMeta(db, this.key("last_pull_at"), String(at));
  }

  /**
   * The last failure of each operation that has not succeeded since: kept
   * until a later success of the same kind, so a failed pull stays visible
   * after pushes succeed.
   */
  failures(db: Database): Partial<Record<SyncOperation, SyncErrorRecord>> {
    const out: Partial<Record<SyncOperation, SyncErrorRecord>> = {};
    for (const op of SYNC_OPERATIONS) {
      const e = parseError(getMeta(db, this.key(`last_error.${op}`)));
      if (e) out[op] = e;
    }
    return out;
  }

  /** The most recent of {@linkcode failures}, if any. */
  lastError(db: Database): SyncErrorRecord | null {
    const all = Object.values(this.failures(db));
    return all.length ? all.reduce((a, b) => (b.at > a.at ? b : a)) : null;
  }

  /** Record that `op` failed. */
  recordFailure(db: Database, op: SyncOperation, e: SyncErrorRecord): void {
    setMeta(db, this.key(`last_error.${op}`), JSON.stringify(e));
  }

  /** `op` succeeded: forget its last failure. */
  clearFailure(db: Database, op: SyncOperation): void {
    db.prepare("DELETE FROM meta WHERE key = ?").run(
      this.key(`last_error.${op}`),
    );
  }
}

/** The sync operations whose failures are kept. */
export const SYNC_OPERATIONS = ["push", "pull", "restore"] as const;

/** One of {@linkcode SYNC_OPERATIONS}. */
export type SyncOperation = typeof SYNC_OPERATIONS[number];

function parseError(raw: string | undefined): SyncErrorRecord | null {
  if (raw === undefined) return null;
  try {
    const v = JSON.parse(raw);
    return typeof v?.at === "number" && typeof v?.message === "string"
      ? { at: v.at, kind: String(v.kind ?? "other"), message: v.message }
      : null;
  } catch {
    return null;
  }
}
