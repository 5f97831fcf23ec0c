/**
 * Push, pull, restore and compaction over a {@link Bucket}.
 *
 * Object layout (relative to the configured prefix, spec section 6):
 * - `hosts/<host>/seg/<from>-<to>.ndjson.gz`: an immutable segment of that
 *   host's own changes with `from <= seq <= to` (gzip NDJSON, a header line
 *   first). Seq numbers are zero-padded so keys sort in seq order.
 * - `hosts/<host>/snap.db`: a compaction of every row the host owns, as a
 *   real SQLite file (stint's schema, no secondary indexes); its `stint-seq`
 *   metadata says which seq it covers.
 * - `logs/<sha256>.gz`: log files, content-addressed by the SHA-256 of the
 *   uncompressed log, so a log is uploaded once and never changes.
 *
 * Each host writes only under its own prefix, so writers never overwrite each
 * other and no lock or lease is needed in the bucket. Every object carries
 * its SHA-256 in metadata (see `S3Bucket`), and reads here require it.
 * @module
 */
import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { join } from "node:path";
import { StintError } from "../errors.ts";
import {
  BUSY_TIMEOUT_MS,
  newHostId,
  transaction,
  withStore,
} from "../store/open.ts";
import { currentSeq, getMeta, hostId, setMeta } from "../store/meta.ts";
import {
  ensureLogsDir,
  ensurePrivateDir,
  isValidLogId,
  logPath,
  logsDir,
  stateDir,
} from "../store/paths.ts";
import { removeStaleTempFiles } from "../store/maintenance.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "../store/schema.ts";
import { type Database, openSqlite } from "../store/sqlite.ts";
import { type Bucket, BucketError, type ObjectInfo } from "./bucket.ts";
import {
  advanceRemoteCursor,
  applyRecordsInTransaction,
  type ChangeRecord,
  isDirty,
  pushedSeq,
  readChanges,
  remoteCursor,
  sanitizeSnapshot,
  SYNC_META,
  TABLES,
  unpushedCount,
} from "./changelog.ts";
import { SilentReporter, type SyncReporter } from "./reporter.ts";

const SEQ_WIDTH = 12;
/** The most a segment may inflate to (about V8's longest string). */
const MAX_SEGMENT_BYTES = 512 * 1024 * 1024;
const HOST_ID = /^[a-z0-9][a-z0-9-]{0,79}$/;
const SEGMENT_KEY = /^hosts\/([^/]+)\/seg\/(\d{1,20})-(\d{1,20})\.ndjson\.gz$/;
const SNAPSHOT_KEY = /^hosts\/([^/]+)\/snap\.db$/;
const META_SNAP_ETAG = "sync.snap_etag.";
const META_SEG_COUNT = "sync.segments_since_snapshot";
const META_SEG_BYTES = "sync.segment_bytes_since_snapshot";
const META_COMPACT_LEASE = "sync.compact_lease";

/** The key of a change segment. */
export function segmentKey(host: string, from: number, to: number): string {
  return `hosts/${host}/seg/${pad(from)}-${pad(to)}.ndjson.gz`;
}

/** The key of a host's snapshot. */
export function snapshotKey(host: string): string {
  return `hosts/${host}/snap.db`;
}

/** The key of a log blob. */
export function logBlobKey(sha256: string): string {
  return `logs/${sha256}.gz`;
}

function pad(n: number): string {
  return String(n).padStart(SEQ_WIDTH, "0");
}

/** A segment seen in a listing. */
export interface SegmentInfo {
  /** Object key. */
  key: string;
  /** First seq covered. */
  from: number;
  /** Last seq covered. */
  to: number;
  /** Size in bytes. */
  size: number;
}

/** What a listing says about one host. */
export interface HostListing {
  /** The host id. */
  host: string;
  /** Its segments, by `from`. */
  segments: SegmentInfo[];
  /** Its snapshot, if any. */
  snapshot?: ObjectInfo;
}

/** What a push did. */
export interface PushResult {
  /** Whether anything was uploaded. */
  pushed: boolean;
  /** Records uploaded. */
  records: number;
  /** Bytes uploaded (segments, logs, snapshot). */
  bytes: number;
  /** Log blobs uploaded. */
  logs: number;
  /** Whether a snapshot was written (compaction). */
  snapshot: boolean;
  /** The own seq now safely in the bucket. */
  seq: number;
  /** The segment written, if any. */
  key?: string;
  /** Wall time in ms. */
  durationMs: number;
}

/** What a pull (or restore) did. */
export interface PullResult {
  /** Hosts whose objects were read. */
  hosts: number;
  /** Records that changed the store. */
  applied: number;
  /** Segments read. */
  segments: number;
  /** Snapshots read. */
  snapshots: number;
  /** Objects that failed verification and were skipped. */
  corrupt: string[];
  /** Other problems (missing objects, gaps), one line each. */
  problems: string[];
  /** Wall time in ms. */
  durationMs: number;
}

/** What a restore did. */
export interface RestoreResult extends PullResult {
  /** Whether the local file was (re)built. */
  restored: boolean;
  /** The host id of the restored file. */
  hostId: string;
  /** Another process created the store while this restore ran; nothing was replaced. */
  raced?: boolean;
}

/** Tuning and collaborators for {@linkcode SyncEngine}. */
export interface SyncEngineOptions {
  /** Where objects go. */
  bucket: Bucket;
  /** Where progress and errors go (default: silent). */
  reporter?: SyncReporter;
  /** A push with more records than this writes a snapshot instead (default 20 000). */
  snapshotRecords?: number;
  /** Compact after this many segments since the last snapshot (default 64). */
  compactSegments?: number;
  /** ... or this many segment bytes since the last snapshot (default 16 MiB). */
  compactBytes?: number;
}

/** The sync operations for one store file and one bucket. */
export class SyncEngine {
  /** The store file. */
  readonly dbPath: string;
  /** The bucket. */
  readonly bucket: Bucket;
  /** The reporter. */
  readonly reporter: SyncReporter;
  #snapshotRecords: number;
  #compactSegments: number;
  #compactBytes: number;
  /** Totals for the session summary. */
  readonly totals = { pushes: 0, bytes: 0, records: 0, errors: 0 };

  /** Bind a store file to a bucket. */
  constructor(dbPath: string, options: SyncEngineOptions) {
    this.dbPath = dbPath;
    this.bucket = options.bucket;
    this.reporter = options.reporter ?? new SilentReporter();
    this.#snapshotRecords = options.snapshotRecords ?? 20_000;
    this.#compactSegments = options.compactSegments ?? 64;
    this.#compactBytes = options.compactBytes ?? 16 * 1024 * 1024;
    // Temp files (.restore-*, .pull-*, .snap-*) a killed sync left behind.
    removeStaleTempFiles(dbPath);
  }

  /**
   * Push this host's changes if there are any. The dirty check is one read
   * of `meta`; when nothing changed no request is made.
   */
  async push(options?: { compact?: boolean }): Promise<PushResult> {
    const started = Date.now();
    const result: PushResult = {
      pushed: false,
      records: 0,
      bytes: 0,
      logs: 0,
      snapshot: false,
      seq: 0,
      durationMs: 0,
    };
    const dirty = withStore(this.dbPath, isDirty);
    if (!dirty && !options?.compact) {
      result.seq = withStore(this.dbPath, pushedSeq);
      result.durationMs = Date.now() - started;
      return result;
    }
    // Count first (indexed): a large backlog goes straight into a snapshot
    // without materialising every row as a record.
    const pending = withStore(this.dbPath, (db) => ({
      host: hostId(db),
      after: pushedSeq(db),
      count: unpushedCount(db),
    }));
    if (options?.compact || pending.count > this.#snapshotRecords) {
      const snap = await this.#compact(pending.host, {
        unpushedAfter: pending.after,
      });
      if (snap) {
        result.pushed = true;
        result.snapshot = true;
        result.records = pending.count;
        result.bytes = snap.bytes;
        result.logs = snap.logs;
        result.seq = snap.seq;
        this.#count(result);
        result.durationMs = Date.now() - started;
        this.reporter.flush(result);
        return result;
      }
      // Another process on this host holds the compaction lease: a segment
      // is just as safe.
    }
    const changes = withStore(this.dbPath, (db) => readChanges(db));
    result.seq = changes.from;
    if (changes.to <= changes.from) {
      result.durationMs = Date.now() - started;
      return result;
    }
    // A range whose rows were all overwritten since (a pulled newer write
    // replaced them) still goes up, as an empty segment: pullers read
    // segments as a contiguous run of seqs, and a range the cursor skipped
    // without an object would look like a gap to them until a compaction.
    for (const rec of changes.records) {
      if (
        (rec.k === "execution" || rec.k === "background") &&
        typeof rec.log_id === "string" && rec.status !== "running" &&
        rec.log_sha256 === undefined
      ) {
        const up = await this.#uploadLog(rec.log_id);
        if (up) {
          rec.log_sha256 = up.sha256;
          rec.log_size = up.size;
          result.bytes += up.bytes;
          if (up.bytes > 0) result.logs++;
        }
      }
    }
    const body = encodeSegment(
      changes.host,
      changes.from + 1,
      changes.to,
      changes.records,
    );
    const key = segmentKey(changes.host, changes.from + 1, changes.to);
    await this.bucket.put(key, body, {
      contentType: "application/x-ndjson",
      metadata: {
        "stint-host": changes.host,
        "stint-from": String(changes.from + 1),
        "stint-to": String(changes.to),
        "stint-schema": String(SCHEMA_VERSION),
      },
    });
    result.pushed = true;
    result.key = key;
    result.records = changes.records.length;
    result.bytes += body.byteLength;
    result.seq = changes.to;
    const due = withStore(this.dbPath, (db) =>
      transaction(db, () => {
        if (changes.to > pushedSeq(db)) {
          setMeta(db, SYNC_META.pushedSeq, String(changes.to));
        }
        setMeta(db, SYNC_META.lastPushAt, String(Date.now()));
        const count = Number(getMeta(db, META_SEG_COUNT) ?? 0) + 1;
        const bytes = Number(getMeta(db, META_SEG_BYTES) ?? 0) +
          body.byteLength;
        setMeta(db, META_SEG_COUNT, String(count));
        setMeta(db, META_SEG_BYTES, String(bytes));
        return count > this.#compactSegments || bytes > this.#compactBytes;
      }));
    if (due) {
      try {
        const snap = await this.#compact(changes.host, {
          unpushedAfter: changes.to,
        });
        if (snap) {
          result.snapshot = true;
          result.bytes += snap.bytes;
          result.logs += snap.logs;
          result.seq = Math.max(result.seq, snap.seq);
        }
      } catch (err) {
        // The segment is safely up; compaction is retried on a later push.
        this.#report(err);
      }
    }
    this.#count(result);
    result.durationMs = Date.now() - started;
    this.reporter.flush(result);
    return result;
  }

  #count(r: PushResult): void {
    if (!r.pushed) return;
    this.totals.pushes++;
    this.totals.bytes += r.bytes;
    this.totals.records += r.records;
  }

  #report(err: unknown): void {
    this.totals.errors++;
    this.reporter.error(err);
  }

  /** Upload the log file of `logId` unless its blob is already there. */
  async #uploadLog(
    logId: string,
  ): Promise<{ sha256: string; size: number; bytes: number } | null> {
    if (!isValidLogId(logId)) return null;
    let content: Uint8Array;
    try {
      content = Deno.readFileSync(logPath(this.dbPath, logId));
    } catch {
      return null; // No log captured (or already removed): nothing to sync.
    }
    const sha256 = sha256Hex(content);
    const key = logBlobKey(sha256);
    let bytes = 0;
    if ((await this.bucket.head(key)) === null) {
      const body = gzipSync(content);
      await this.bucket.put(key, body, {
        contentType: "application/gzip",
        metadata: {
          "stint-content-sha256": sha256,
          "stint-size": String(content.byteLength),
        },
      });
      bytes = body.byteLength;
    }
    withStore(this.dbPath, (db) =>
      db.prepare(
        `INSERT INTO log_blobs (log_id, sha256, size, uploaded) VALUES (?, ?, ?, 1)
         ON CONFLICT(log_id) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, uploaded = 1`,
      ).run(logId, sha256, content.byteLength));
    return { sha256, size: content.byteLength, bytes };
  }

  /**
   * Write `hosts/<host>/snap.db` (every row this host owns, read in one
   * snapshot at seq S), then delete the segments it covers (`to <= S`). A
   * change that races with it has a seq > S and stays in its segment (or
   * the next one). Returns null when another process holds the lease.
   */
  async #compact(
    host: string,
    options: { unpushedAfter: number },
  ): Promise<{ seq: number; bytes: number; logs: number } | null> {
    const lease = `${Deno.pid}:${crypto.randomUUID()}`;
    const got = withStore(this.dbPath, (db) =>
      transaction(db, () => {
        const held = getMeta(db, META_COMPACT_LEASE);
        if (held) {
          const expires = Number(held.split("@")[1] ?? 0);
          if (expires > Date.now()) return false;
        }
        setMeta(db, META_COMPACT_LEASE, `${lease}@${Date.now() + 600_000}`);
        return true;
      }));
    if (!got) return null;
    const tmp = join(
      stateDir(this.dbPath),
      `.snap-${crypto.randomUUID()}.db`,
    );
    try {
      let logs = 0;
      let bytes = 0;
      for (const logId of this.#unuploadedLogs(host, options.unpushedAfter)) {
        const up = await this.#uploadLog(logId);
        if (up && up.bytes > 0) {
          logs++;
          bytes += up.bytes;
        }
      }
      const seq = buildSnapshot(this.dbPath, tmp, host);
      const body = Deno.readFileSync(tmp);
      this.reporter.progress({
        operation: "snapshot upload",
        done: 0,
        total: body.byteLength,
        unit: "bytes",
      });
      await this.bucket.put(snapshotKey(host), body, {
        contentType: "application/vnd.sqlite3",
        metadata: {
          "stint-host": host,
          "stint-seq": String(seq),
          "stint-schema": String(SCHEMA_VERSION),
        },
      });
      this.reporter.progress({
        operation: "snapshot upload",
        done: body.byteLength,
        total: body.byteLength,
        unit: "bytes",
      });
      bytes += body.byteLength;
      withStore(this.dbPath, (db) =>
        transaction(db, () => {
          if (seq > pushedSeq(db)) {
            setMeta(db, SYNC_META.pushedSeq, String(seq));
          }
          setMeta(db, SYNC_META.lastPushAt, String(Date.now()));
          setMeta(db, META_SEG_COUNT, "0");
          setMeta(db, META_SEG_BYTES, "0");
        }));
      const covered: string[] = [];
      for await (const obj of this.bucket.list(`hosts/${host}/seg/`)) {
        const m = obj.key.match(SEGMENT_KEY);
        if (m && m[1] === host && Number(m[3]) <= seq) covered.push(obj.key);
      }
      if (covered.length > 0) await this.bucket.delete(covered);
      return { seq, bytes, logs };
    } finally {
      removeQuietly(tmp);
      removeQuietly(`${tmp}-journal`);
      withStore(this.dbPath, (db) =>
        transaction(db, () => {
          const held = getMeta(db, META_COMPACT_LEASE);
          if (held?.startsWith(`${lease}@`)) {
            db.prepare("DELETE FROM meta WHERE key = ?").run(
              META_COMPACT_LEASE,
            );
          }
        }));
    }
  }

  /** Own finished runs changed since `after` whose log file exists but is not uploaded. */
  #unuploadedLogs(host: string, after: number): string[] {
    let present: Set<string>;
    try {
      present = new Set();
      for (const e of Deno.readDirSync(logsDir(this.dbPath))) {
        if (e.isFile && e.name.endsWith(".log")) {
          present.add(e.name.slice(0, -4));
        }
      }
    } catch {
      return [];
    }
    if (present.size === 0) return [];
    return withStore(this.dbPath, (db) =>
      db.prepare(
        `SELECT DISTINCT t.log_id FROM (
           SELECT log_id, status FROM executions WHERE origin = ? AND seq > ?
           UNION ALL SELECT log_id, status FROM background_runs WHERE origin = ? AND seq > ?
         ) t LEFT JOIN log_blobs b ON b.log_id = t.log_id
         WHERE t.log_id IS NOT NULL AND t.status != 'running' AND b.log_id IS NULL`,
      ).all(host, after, host, after)
        .map((r) => String(r.log_id))
        .filter((id) => present.has(id)));
  }

  /** Every host's segments and snapshot, from one listing of `hosts/`. */
  async listHosts(): Promise<Map<string, HostListing>> {
    const hosts = new Map<string, HostListing>();
    const entry = (host: string): HostListing => {
      let e = hosts.get(host);
      if (!e) {
        e = { host, segments: [] };
        hosts.set(host, e);
      }
      return e;
    };
    for await (const obj of this.bucket.list("hosts/")) {
      const seg = obj.key.match(SEGMENT_KEY);
      if (seg && HOST_ID.test(seg[1])) {
        const from = Number(seg[2]), to = Number(seg[3]);
        if (from >= 1 && to >= from) {
          entry(seg[1]).segments.push({
            key: obj.key,
            from,
            to,
            size: obj.size,
          });
        }
        continue;
      }
      const snap = obj.key.match(SNAPSHOT_KEY);
      if (snap && HOST_ID.test(snap[1])) entry(snap[1]).snapshot = obj;
    }
    for (const e of hosts.values()) {
      e.segments.sort((a, b) => a.from - b.from || a.to - b.to);
    }
    return hosts;
  }

  /**
   * Apply other hosts' new snapshots and segments. Idempotent: cursors only
   * move past what was applied and verified; applying again changes nothing.
   */
  async pull(): Promise<PullResult> {
    const started = Date.now();
    const result = emptyPull();
    const me = withStore(this.dbPath, hostId);
    const hosts = await this.listHosts();
    const others = [...hosts.values()].filter((h) => h.host !== me);
    await this.#pullHosts(this.dbPath, others, result, "pull");
    withStore(
      this.dbPath,
      (db) => setMeta(db, SYNC_META.lastPullAt, String(Date.now())),
    );
    result.durationMs = Date.now() - started;
    return result;
  }

  async #pullHosts(
    target: string,
    hosts: HostListing[],
    result: PullResult,
    operation: string,
  ): Promise<void> {
    const total = hosts.reduce(
      (n, h) => n + h.segments.length + (h.snapshot ? 1 : 0),
      0,
    );
    let done = 0;
    const tick = (n: number) => {
      done += n;
      this.reporter.progress({
        operation,
        done,
        total,
        unit: "objects",
      });
    };
    for (const h of hosts) {
      const before = result.applied;
      await this.#pullHost(target, h, result, tick);
      if (result.applied > before || h.segments.length || h.snapshot) {
        result.hosts++;
      }
    }
  }

  async #pullHost(
    target: string,
    h: HostListing,
    result: PullResult,
    tick: (n: number) => void,
  ): Promise<void> {
    let { cursor, snapEtag } = withStore(target, (db) => ({
      cursor: remoteCursor(db, h.host),
      snapEtag: getMeta(db, META_SNAP_ETAG + h.host),
    }));
    const firstNeeded = h.segments.find((s) => s.to > cursor);
    const gap = firstNeeded ? firstNeeded.from > cursor + 1 : false;
    if (
      h.snapshot &&
      (h.snapshot.etag === undefined || h.snapshot.etag !== snapEtag || gap)
    ) {
      try {
        // A new snapshot that covers nothing past the cursor (the host just
        // compacted what was already pulled) is not downloaded: one HEAD.
        let needed = true;
        if (!gap) {
          const info = await this.bucket.head(snapshotKey(h.host));
          const seq = Number(info?.metadata?.["stint-seq"]);
          if (info === null) needed = false;
          else if (Number.isSafeInteger(seq) && seq <= cursor) {
            needed = false;
            const etag = h.snapshot.etag ?? info.etag;
            if (etag) {
              withStore(
                target,
                (db) => setMeta(db, META_SNAP_ETAG + h.host, etag),
              );
            }
          }
        }
        const applied = needed ? await this.#applySnapshot(target, h) : null;
        if (applied !== null) {
          result.snapshots++;
          result.applied += applied.applied;
          cursor = Math.max(cursor, applied.seq);
        }
      } catch (err) {
        if (err instanceof BucketError && err.kind === "corrupt") {
          result.corrupt.push(snapshotKey(h.host));
        }
        this.#report(err);
      }
      tick(1);
    } else if (h.snapshot) {
      tick(1);
    }
    // Segments after the cursor, in order. A corrupt segment is skipped
    // (reported), later ones are still applied, but the cursor stays before
    // the bad one so a later snapshot or repair can still fill it in.
    let hold = false;
    let expected = cursor + 1;
    for (const seg of h.segments) {
      if (seg.to <= cursor) {
        tick(1);
        continue;
      }
      if (seg.from > expected && !hold) {
        result.problems.push(
          `Changes ${expected}-${
            seg.from - 1
          } of host ${h.host} are missing from the bucket (compacted while this pull ran?); they will be fetched from its snapshot next time`,
        );
        break;
      }
      let records: ChangeRecord[];
      try {
        const body = await this.bucket.get(seg.key, { requireChecksum: true });
        if (body === null) {
          result.problems.push(
            `Segment ${seg.key} disappeared before it was read (compacted?); it will be fetched from the snapshot next time`,
          );
          break;
        }
        records = decodeSegment(body, h.host, seg);
      } catch (err) {
        if (err instanceof BucketError && err.kind === "corrupt") {
          result.corrupt.push(seg.key);
          hold = true;
          this.#report(err);
          tick(1);
          continue;
        }
        throw err;
      }
      const applied = withStore(target, (db) =>
        transaction(db, () => {
          const r = applyRecordsInTransaction(db, records);
          if (!hold) advanceRemoteCursor(db, h.host, seg.to);
          return r;
        }));
      result.applied += applied.applied;
      result.segments++;
      if (!hold) cursor = Math.max(cursor, seg.to);
      expected = Math.max(expected, seg.to + 1);
      tick(1);
    }
  }

  /**
   * Download `host`'s snapshot to `tmp` (0600) and check it is a stint
   * snapshot of that host. Returns the change number it covers, or null when
   * the bucket has none; a bad file is a `corrupt` BucketError.
   */
  async #downloadSnapshot(host: string, tmp: string): Promise<number | null> {
    const key = snapshotKey(host);
    const body = await this.bucket.get(key, { requireChecksum: true });
    if (body === null) return null;
    Deno.writeFileSync(tmp, body, { mode: 0o600 });
    try {
      return inspectSnapshot(tmp, host);
    } catch (err) {
      throw new BucketError(
        "corrupt",
        `Snapshot ${key} in ${this.bucket.description} is not a valid stint snapshot (${
          err instanceof Error ? err.message.split("\n")[0] : String(err)
        }); skipped`,
        { operation: "get", key, code: "BadSnapshot" },
      );
    }
  }

  /** Download, verify and merge a host's snapshot; null when it is not newer. */
  async #applySnapshot(
    target: string,
    h: HostListing,
  ): Promise<{ applied: number; seq: number } | null> {
    const tmp = join(stateDir(target), `.pull-${crypto.randomUUID()}.db`);
    try {
      const seq = await this.#downloadSnapshot(h.host, tmp);
      if (seq === null) return null;
      const applied = withStore(target, (db) => {
        db.prepare("ATTACH DATABASE ? AS snap").run(tmp);
        try {
          return transaction(db, () => {
            const self = hostId(db);
            sanitizeSnapshot(db, "snap", h.host, self);
            const n = mergeSnapshot(db, h.host, self);
            advanceRemoteCursor(db, h.host, seq);
            if (h.snapshot?.etag) {
              setMeta(db, META_SNAP_ETAG + h.host, h.snapshot.etag);
            }
            return n;
          });
        } finally {
          db.exec("DETACH DATABASE snap");
        }
      });
      return { applied, seq };
    } finally {
      removeQuietly(tmp);
      removeQuietly(`${tmp}-journal`);
    }
  }

  /**
   * Build the local file from every host's snapshot and later segments,
   * into a temp file renamed over the store only when nothing was corrupt
   * (or there was no local file at all). An existing file needs `force`.
   */
  async restore(options?: { force?: boolean }): Promise<RestoreResult> {
    const started = Date.now();
    const exists = fileExists(this.dbPath);
    if (exists && !options?.force) {
      throw new StintError(
        `The store ${this.dbPath} already exists; use stint sync restore --force to rebuild it from the bucket`,
      );
    }
    let carried: { host: string; seq: number } | null = null;
    if (exists) {
      try {
        carried = withStore(
          this.dbPath,
          (db) => ({ host: hostId(db), seq: currentSeq(db) }),
          { readOnly: true },
        );
      } catch {
        carried = null; // Unreadable: restore under a new host id.
      }
    }
    const hosts = await this.listHosts();
    const result: RestoreResult = {
      ...emptyPull(),
      restored: false,
      hostId: carried?.host ?? "",
    };
    if (hosts.size === 0) {
      result.durationMs = Date.now() - started;
      return result;
    }
    ensurePrivateDir(stateDir(this.dbPath));
    const tmp = `${this.dbPath}.restore-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await this.#restoreBase(tmp, hosts, result, carried?.host);
      const host = withStore(tmp, (db) => {
        if (carried) {
          transaction(db, () => {
            setMeta(db, "host_id", carried!.host);
          });
        }
        // Secondary indexes are rebuilt after the bulk load: much faster.
        db.exec(dropIndexesSql(db));
        return hostId(db);
      });
      result.hostId = host;
      await this.#pullHosts(tmp, [...hosts.values()], result, "restore");
      result.corrupt = [...new Set(result.corrupt)];
      withStore(tmp, (db) => {
        for (const m of MIGRATIONS) db.exec(m); // recreate the indexes
        transaction(db, () => {
          const own = remoteCursor(db, host);
          const seq = Math.max(own, carried?.seq ?? 0, currentSeq(db));
          setMeta(db, "seq", String(seq));
          setMeta(db, SYNC_META.pushedSeq, String(own));
          db.prepare("DELETE FROM meta WHERE key = ?").run(
            SYNC_META.cursorPrefix + host,
          );
          setMeta(db, SYNC_META.restoredAt, String(Date.now()));
          setMeta(db, SYNC_META.lastPullAt, String(Date.now()));
        });
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
        db.exec("PRAGMA journal_mode = DELETE");
      });
      if (result.corrupt.length > 0 && exists) {
        throw new StintError(
          `Restore found ${result.corrupt.length} corrupt object(s) (${
            result.corrupt[0]
          }${
            result.corrupt.length > 1 ? ", ..." : ""
          }); the existing store ${this.dbPath} was left untouched`,
        );
      }
      if (exists) {
        // --force: replace on purpose.
        removeQuietly(`${this.dbPath}-wal`);
        removeQuietly(`${this.dbPath}-shm`);
        Deno.renameSync(tmp, this.dbPath);
      } else {
        // Never clobber a file another stint process created meanwhile: a
        // hard link fails if the name exists. That process's file then just
        // pulls (cursors at 0 make a pull fetch everything a restore would).
        // A -wal/-shm left by a deleted store (a crashed process, a store
        // file removed by hand) would be replayed into the restored file
        // when it is first opened, mixing the old file's pages into it.
        if (!fileExists(this.dbPath)) {
          removeQuietly(`${this.dbPath}-wal`);
          removeQuietly(`${this.dbPath}-shm`);
        }
        try {
          Deno.linkSync(tmp, this.dbPath);
        } catch (err) {
          if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
          result.durationMs = Date.now() - started;
          result.raced = true;
          return result;
        }
      }
      try {
        Deno.chmodSync(this.dbPath, 0o600);
      } catch {
        // The file was created 0600 already.
      }
      result.restored = true;
    } finally {
      for (const suffix of ["", "-wal", "-shm", "-journal"]) {
        removeQuietly(tmp + suffix);
      }
    }
    result.durationMs = Date.now() - started;
    return result;
  }

  /**
   * Start a restore from the biggest snapshot: the downloaded file becomes
   * the new store as is (it has stint's schema), which saves copying every
   * row. Leaves no file when there is no usable snapshot.
   */
  async #restoreBase(
    tmp: string,
    hosts: Map<string, HostListing>,
    result: PullResult,
    keepHost: string | undefined,
  ): Promise<void> {
    let base: HostListing | undefined;
    for (const h of hosts.values()) {
      if (h.snapshot && h.snapshot.size > (base?.snapshot?.size ?? -1)) {
        base = h;
      }
    }
    if (!base) return;
    const key = snapshotKey(base.host);
    try {
      const seq = await this.#downloadSnapshot(base.host, tmp);
      if (seq === null) return;
      const self = keepHost ?? newHostId();
      const applied = withStore(tmp, (db) =>
        transaction(db, () => {
          // The file becomes the store: only the base host's own rows stay.
          sanitizeSnapshot(db, "main", base!.host, self);
          db.exec("DELETE FROM meta");
          db.prepare(
            "INSERT INTO meta (key, value) VALUES ('host_id', ?), ('seq', '0'), ('created_at', ?)",
          ).run(self, String(Date.now()));
          advanceRemoteCursor(db, base!.host, seq);
          if (base!.snapshot?.etag) {
            setMeta(db, META_SNAP_ETAG + base!.host, base!.snapshot.etag);
          }
          let n = 0;
          for (const spec of Object.values(TABLES)) {
            n += Number(
              db.prepare(`SELECT count(*) AS n FROM ${spec.table}`).get()?.n,
            );
          }
          return n;
        }));
      result.snapshots++;
      result.applied += applied;
    } catch (err) {
      for (const suffix of ["", "-wal", "-shm", "-journal"]) {
        removeQuietly(tmp + suffix);
      }
      if (err instanceof BucketError && err.kind === "corrupt") {
        result.corrupt.push(key);
        this.#report(err);
        return;
      }
      throw err;
    }
  }

  /**
   * Fetch the log of `logId` (a run from another host) into the local logs
   * dir. Returns its path, or null when the bucket has no blob for it.
   */
  async fetchLog(logId: string): Promise<string | null> {
    if (!isValidLogId(logId)) return null;
    const row = withStore(
      this.dbPath,
      (db) =>
        db.prepare("SELECT sha256 FROM log_blobs WHERE log_id = ?").get(logId),
    );
    if (!row) return null;
    const sha256 = String(row.sha256);
    if (!/^[0-9a-f]{64}$/.test(sha256)) return null;
    const key = logBlobKey(sha256);
    const body = await this.bucket.get(key, { requireChecksum: true });
    if (body === null) return null;
    let content: Uint8Array;
    try {
      content = gunzipSync(body);
    } catch {
      throw new BucketError(
        "corrupt",
        `Log blob ${key} in ${this.bucket.description} is not valid gzip`,
        { operation: "get", key },
      );
    }
    if (sha256Hex(content) !== sha256) {
      throw new BucketError(
        "corrupt",
        `Log blob ${key} in ${this.bucket.description} does not match its SHA-256`,
        { operation: "get", key },
      );
    }
    const path = logPath(this.dbPath, logId);
    ensureLogsDir(this.dbPath);
    const tmp = `${path}.fetch-${crypto.randomUUID().slice(0, 8)}`;
    Deno.writeFileSync(tmp, content, { mode: 0o600 });
    Deno.renameSync(tmp, path);
    return path;
  }
}

function emptyPull(): PullResult {
  return {
    hosts: 0,
    applied: 0,
    segments: 0,
    snapshots: 0,
    corrupt: [],
    problems: [],
    durationMs: 0,
  };
}

/** gzip NDJSON: a header line, then one record per line. */
export function encodeSegment(
  host: string,
  from: number,
  to: number,
  records: ChangeRecord[],
): Uint8Array {
  const lines = [
    JSON.stringify({
      stint: "segment",
      version: 1,
      schema: SCHEMA_VERSION,
      host,
      from,
      to,
      count: records.length,
    }),
  ];
  for (const r of records) lines.push(JSON.stringify(r));
  return gzipSync(new TextEncoder().encode(lines.join("\n") + "\n"));
}

/** Decode and check a segment; a bad one is a `corrupt` BucketError. */
export function decodeSegment(
  body: Uint8Array,
  host: string,
  seg: { key: string; from: number; to: number },
): ChangeRecord[] {
  const bad = (why: string) =>
    new BucketError(
      "corrupt",
      `Segment ${seg.key} is corrupt (${why}); skipped`,
      {
        operation: "get",
        key: seg.key,
        code: "BadSegment",
      },
    );
  let text: string;
  try {
    // A segment is decoded into one string, which cannot be longer than
    // this anyway; a bigger one is a gzip bomb and must not be inflated.
    text = new TextDecoder("utf-8", { fatal: true }).decode(
      gunzipSync(body, { maxOutputLength: MAX_SEGMENT_BYTES }),
    );
  } catch (err) {
    throw bad(
      err instanceof RangeError
        ? `it inflates past ${MAX_SEGMENT_BYTES / 1024 / 1024} MiB`
        : "not valid gzip",
    );
  }
  const lines = text.split("\n").filter((l) => l.length > 0);
  let header: Record<string, unknown>;
  const records: ChangeRecord[] = [];
  try {
    header = JSON.parse(lines[0] ?? "");
    for (let i = 1; i < lines.length; i++) records.push(JSON.parse(lines[i]));
  } catch {
    throw bad("not valid NDJSON");
  }
  if (
    header?.stint !== "segment" || header.host !== host ||
    header.from !== seg.from || header.to !== seg.to ||
    header.count !== records.length
  ) {
    throw bad("its header does not match its key");
  }
  // A host only ever writes its own rows: anything else is not trusted.
  return records.filter((r) =>
    r && typeof r === "object" && r.origin === host &&
    typeof r.seq === "number" && r.seq >= seg.from && r.seq <= seg.to
  );
}

/** SQL that drops every secondary index of `db`'s main schema. */
function dropIndexesSql(db: Database): string {
  return db.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
  ).all().map((r) => `DROP INDEX IF EXISTS "${String(r.name)}";`).join("\n");
}

/**
 * Write every row `host` owns into a fresh SQLite file at `tmp` (stint's
 * schema without secondary indexes, rollback journal so it is one file).
 * Returns the seq it covers. The rows and the seq come from one read
 * snapshot of the store.
 */
export function buildSnapshot(
  dbPath: string,
  tmp: string,
  host: string,
): number {
  const snap = openSqlite(tmp, { timeoutMs: BUSY_TIMEOUT_MS });
  try {
    snap.exec("PRAGMA journal_mode = DELETE");
    for (const m of MIGRATIONS) snap.exec(m);
    snap.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    snap.exec(dropIndexesSql(snap));
  } finally {
    snap.close();
  }
  return withStore(dbPath, (db) => {
    db.prepare("ATTACH DATABASE ? AS snap").run(tmp);
    try {
      db.exec("BEGIN");
      try {
        const seq = currentSeq(db);
        for (const spec of Object.values(TABLES)) {
          const cols = spec.columns.join(", ");
          db.prepare(
            `INSERT INTO snap.${spec.table} (${cols}) SELECT ${cols} FROM main.${spec.table}
             WHERE origin = ?${spec.filter ? ` AND ${spec.filter}` : ""}`,
          ).run(host);
        }
        db.prepare(
          `INSERT INTO snap.tombstones (kind, key, deleted_at, origin, seq)
           SELECT kind, key, deleted_at, origin, seq FROM main.tombstones WHERE origin = ?`,
        ).run(host);
        db.prepare(
          `INSERT OR IGNORE INTO snap.log_blobs (log_id, sha256, size, uploaded)
           SELECT b.log_id, b.sha256, b.size, 1 FROM main.log_blobs b
           WHERE b.uploaded = 1 AND b.log_id IN (
             SELECT log_id FROM main.executions WHERE origin = ?
             UNION SELECT log_id FROM main.background_runs WHERE origin = ?)`,
        ).run(host, host);
        db.prepare(
          `INSERT OR REPLACE INTO snap.meta (key, value) VALUES
             ('host_id', ?), ('seq', ?), ('snapshot_host', ?), ('snapshot_seq', ?), ('created_at', ?)`,
        ).run(host, String(seq), host, String(seq), String(Date.now()));
        db.exec("COMMIT");
        return seq;
      } catch (err) {
        db.exec("ROLLBACK");
        throw err;
      }
    } finally {
      db.exec("DETACH DATABASE snap");
    }
  });
}

/** Every schema object of `db`, as one comparable string. */
function schemaOf(db: Database): string {
  return JSON.stringify(
    db.prepare(
      "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
    ).all(),
  );
}

const snapshotSchemas = new Map<number, string>();

/** The schema {@linkcode buildSnapshot} writes for schema `version`. */
function expectedSnapshotSchema(version: number): string {
  let schema = snapshotSchemas.get(version);
  if (schema === undefined) {
    const db = openSqlite(":memory:", { timeoutMs: BUSY_TIMEOUT_MS });
    try {
      for (const m of MIGRATIONS.slice(0, version)) db.exec(m);
      db.exec(dropIndexesSql(db));
      schema = schemaOf(db);
    } finally {
      db.close();
    }
    snapshotSchemas.set(version, schema);
  }
  return schema;
}

/** Check a downloaded snapshot file; returns the seq it covers. */
function inspectSnapshot(path: string, host: string): number {
  const db = openSqlite(path, { timeoutMs: BUSY_TIMEOUT_MS, readOnly: true });
  try {
    const check = db.prepare("PRAGMA quick_check").get();
    if (String(check?.quick_check ?? "") !== "ok") {
      throw new Error(`integrity check: ${String(check?.quick_check)}`);
    }
    // The file is someone else's SQLite database, and restore makes it the
    // store itself: anything but stint's own tables (a trigger, a view, a
    // changed column) would live on in it.
    const version = Number(
      db.prepare("PRAGMA user_version").get()?.user_version,
    );
    if (
      !Number.isSafeInteger(version) || version < 1 || version > SCHEMA_VERSION
    ) {
      throw new Error(`schema version ${version}`);
    }
    if (schemaOf(db) !== expectedSnapshotSchema(version)) {
      throw new Error("its schema is not stint's");
    }
    const get = (k: string) =>
      db.prepare("SELECT value FROM meta WHERE key = ?").get(k)?.value;
    if (String(get("snapshot_host")) !== host) {
      throw new Error("it belongs to another host");
    }
    const seq = Number(get("snapshot_seq"));
    if (!Number.isSafeInteger(seq) || seq < 0) throw new Error("no seq");
    return seq;
  } finally {
    db.close();
  }
}

/**
 * Merge the attached `snap` (one host's rows) into main, last-writer-wins by
 * `(updated_at, origin, seq)`, honouring tombstones both ways. Returns the
 * rows changed.
 */
function mergeSnapshot(db: Database, host: string, self: string): number {
  let changed = 0;
  for (const [kind, spec] of Object.entries(TABLES)) {
    // A run belongs to the host that recorded it: another host never rewrites it.
    const ownRuns = kind === "execution" || kind === "background"
      ? ` AND (${spec.table}.origin IS NOT ? OR excluded.origin = ?)`
      : "";
    const cols = spec.columns.join(", ");
    const keyCol = spec.table === "vars" ? "key" : spec.pk[0];
    const updates = spec.columns.filter((c) => !spec.pk.includes(c))
      .map((c) => `${c} = excluded.${c}`).join(", ");
    const r = db.prepare(
      `INSERT INTO main.${spec.table} (${cols})
       SELECT ${cols} FROM snap.${spec.table} s
       WHERE s.origin = ?${spec.filter ? ` AND s.${spec.filter}` : ""}
         AND NOT EXISTS (SELECT 1 FROM main.tombstones t WHERE t.kind = ? AND t.key = s.${keyCol}
           AND (t.deleted_at, t.origin, t.seq) >= (s.${spec.ts}, s.origin, s.seq))
       ON CONFLICT(${spec.pk.join(", ")}) DO UPDATE SET ${updates}
       WHERE (excluded.${spec.ts}, excluded.origin, excluded.seq) >
             (${spec.table}.${spec.ts}, ${spec.table}.origin, ${spec.table}.seq)${ownRuns}`,
    ).run(host, kind, ...(ownRuns ? [self, self] : []));
    changed += Number(r.changes);
    db.prepare(
      `DELETE FROM main.tombstones WHERE kind = ? AND EXISTS (
         SELECT 1 FROM snap.${spec.table} s WHERE s.${keyCol} = tombstones.key
           AND s.origin = ?${spec.filter ? ` AND s.${spec.filter}` : ""}
           AND (s.${spec.ts}, s.origin, s.seq) > (tombstones.deleted_at, tombstones.origin, tombstones.seq))`,
    ).run(kind, host);
  }
  const tombs = db.prepare(
    "SELECT kind, key, deleted_at, origin, seq FROM snap.tombstones WHERE origin = ?",
  ).all(host).map((t) => ({ k: "tombstone", ...t }) as ChangeRecord);
  changed += applyRecordsInTransaction(db, tombs).applied;
  db.prepare(
    `INSERT INTO main.log_blobs (log_id, sha256, size, uploaded)
     SELECT log_id, sha256, size, 1 FROM snap.log_blobs WHERE true
     ON CONFLICT(log_id) DO NOTHING`,
  ).run();
  return changed;
}

/** SHA-256 of `bytes`, lower-case hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function fileExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Already gone.
  }
}
