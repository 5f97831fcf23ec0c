/**
 * What sync remembers in the store's `meta` table: the push cursor, the
 * cursors of other hosts, snapshot etags, compaction counters, the last
 * errors. All of it is about one bucket location, so every key lives under
 * that location's prefix ({@linkcode SyncMeta}).
 * @module
 */
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

/** The meta rows of one bucket location. */
export class SyncMeta {
  /** The prefix of every key (`sync.`). */
  readonly prefix: string;

  /** Keys under `prefix`. */
  constructor(prefix = "sync.") {
    this.prefix = prefix;
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

  /** The last sync error recorded, if any. */
  lastError(db: Database): SyncErrorRecord | null {
    const raw = getMeta(db, this.key("last_error"));
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

  /** Record a sync error. */
  recordError(db: Database, e: SyncErrorRecord): void {
    setMeta(db, this.key("last_error"), JSON.stringify(e));
  }
}
