/**
 * The local sync facts of a store, gathered once for both `stint status`
 * and `stint sync status`: schema, host id, the push cursor, unpushed
 * changes, other hosts' cursors, the last errors. Opens the store read-only
 * (as `immutable` when its directory cannot be written), so it never
 * creates, migrates or writes anything.
 * @module
 */
import { StintError } from "../errors.ts";
import { currentSeq, getMeta } from "../store/meta.ts";
import { BUSY_TIMEOUT_MS, withStore } from "../store/open.ts";
import { SCHEMA_VERSION, schemaVersion } from "../store/schema.ts";
import { type Database, openSqlite } from "../store/sqlite.ts";
import { fileExists } from "./context.ts";
import {
  type LocationParts,
  type RejectedObject,
  type SyncErrorRecord,
  SyncMeta,
  type SyncOperation,
} from "./state.ts";
import { clockOffset, storedBounds } from "../store/replication/clock.ts";
import { oldestChangeAfter } from "../store/replication/changelog.ts";

/** What the store says about sync. */
export interface SyncFacts {
  /** `PRAGMA user_version` (0: not a stint store). */
  schemaVersion: number;
  /** The host id, when the store has one. */
  hostId: string | null;
  /** This host's change counter. */
  seq: number;
  /** The last successful push. */
  lastPush: { at: number; seq: number } | null;
  /** Own changes not in the bucket yet (null when they cannot be counted). */
  unpushed: number | null;
  /** Why `unpushed` is null. */
  unpushedError?: string;
  /** Other hosts' cursors. */
  cursors: Record<string, number>;
  /** The last successful pull. */
  lastPullAt: number | null;
  /** When the file was built by a restore. */
  restoredAt: number | null;
  /** The most recent failure not followed by a success of its kind. */
  lastError: SyncErrorRecord | null;
  /** Each operation's failure not followed by a success of its kind. */
  failures: Partial<Record<SyncOperation, SyncErrorRecord>>;
  /** Objects pulls refused and remember. */
  rejected: RejectedObject[];
  /** Seq ranges of other hosts known to be missing from the bucket. */
  gaps: { host: string; from: number; to: number }[];
  /** The stamp of the oldest change not in the bucket yet, if any. */
  oldestUnpushedAt: number | null;
  /** Bucket time minus local time as measured, or null before any measurement. */
  clockOffsetMs: number | null;
}

/** The facts, or why there are none. */
export interface GatheredFacts {
  /** The store file. */
  path: string;
  /** Whether the file exists. */
  exists: boolean;
  /** The facts, when the store could be read. */
  facts: SyncFacts | null;
  /** Why it could not be read (one line). */
  error?: string;
  /** The directory is read-only: the file was read as immutable. */
  readOnlyDir: boolean;
  /** Bytes of a -wal file that an immutable read could not see. */
  unreadWalBytes: number;
}

/**
 * Read the sync facts of `dbPath` about bucket `location` (none when sync is
 * not configured: then only the store's own facts) without writing anything.
 */
export function gatherSyncFacts(
  dbPath: string,
  options: { location?: LocationParts | null } = {},
): GatheredFacts {
  const meta = options.location ? SyncMeta.of(options.location) : null;
  const out: GatheredFacts = {
    path: dbPath,
    exists: fileExists(dbPath),
    facts: null,
    readOnlyDir: false,
    unreadWalBytes: 0,
  };
  if (!out.exists) return out;
  try {
    out.facts = withStore(dbPath, (db) => readFacts(db, meta), {
      readOnly: true,
    });
  } catch (err) {
    try {
      out.facts = readImmutable(dbPath, meta);
      out.readOnlyDir = true;
      out.unreadWalBytes = walBytes(dbPath);
    } catch {
      out.error = firstLine(err);
    }
  }
  return out;
}

function readFacts(db: Database, location: SyncMeta | null): SyncFacts {
  const version = schemaVersion(db);
  if (version > SCHEMA_VERSION) {
    throw new StintError(
      `The store has schema version ${version}, newer than this stint understands (${SCHEMA_VERSION}); upgrade stint`,
    );
  }
  const f: SyncFacts = {
    schemaVersion: version,
    hostId: null,
    seq: 0,
    lastPush: null,
    unpushed: null,
    cursors: {},
    lastPullAt: null,
    restoredAt: null,
    lastError: null,
    failures: {},
    rejected: [],
    gaps: [],
    oldestUnpushedAt: null,
    clockOffsetMs: storedBounds(db) ? clockOffset(db) : null,
  };
  if (version === 0) return f;
  f.hostId = getMeta(db, "host_id") ?? null;
  f.seq = currentSeq(db);
  if (location === null) return f;
  const meta = location.readable(db);
  f.lastPush = meta.lastPush(db);
  f.cursors = meta.remoteCursors(db);
  f.lastPullAt = meta.lastPullAt(db);
  f.restoredAt = meta.restoredAt(db);
  f.lastError = meta.lastError(db);
  f.failures = meta.failures(db);
  f.rejected = [...meta.rejected(db).values()];
  for (const [host, cursor] of Object.entries(f.cursors)) {
    const ahead = meta.appliedAhead(db, host);
    if (ahead.length) {
      f.gaps.push({ host, from: cursor + 1, to: ahead[0][0] - 1 });
    }
  }
  try {
    f.unpushed = f.hostId === null ? 0 : meta.unpushedCount(db);
    if (f.unpushed) {
      f.oldestUnpushedAt = oldestChangeAfter(db, meta.pushedSeq(db));
    }
  } catch (err) {
    f.unpushedError = firstLine(err);
  }
  return f;
}

/**
 * Read a store whose directory cannot be written: SQLite cannot create the
 * WAL index (-shm) a reader needs, so open it as immutable instead.
 */
function readImmutable(dbPath: string, meta: SyncMeta | null): SyncFacts {
  const url = new URL("file:///");
  url.pathname = dbPath;
  const db = openSqlite(`${url.href}?immutable=1`, {
    timeoutMs: BUSY_TIMEOUT_MS,
    readOnly: true,
  });
  try {
    return readFacts(db, meta);
  } finally {
    db.close();
  }
}

function walBytes(dbPath: string): number {
  try {
    return Deno.statSync(`${dbPath}-wal`).size;
  } catch {
    return 0;
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}
