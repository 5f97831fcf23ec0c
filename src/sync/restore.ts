/**
 * Restore: build the local file from every host's snapshot and later
 * segments, in a temp file that replaces the store only when nothing was
 * corrupt (or there was no local file at all). The biggest snapshot becomes
 * the new store as is (it has stint's schema), which saves copying its
 * rows; the others are merged into it, then the segments are applied and the
 * secondary indexes built once.
 * @module
 */
import { StintError } from "../errors.ts";
import { currentSeq, hostId, newHostId, setMeta } from "../store/meta.ts";
import { transaction, withStore } from "../store/open.ts";
import { ensurePrivateDir, stateDir } from "../store/paths.ts";
import {
  countReplicatedRows,
  dropIndexesSql,
  observeSnapshotStamps,
  sanitizeSnapshot,
} from "../store/replication/snapshot.ts";
import { MIGRATIONS } from "../store/schema.ts";
import { BucketError } from "./bucket.ts";
import {
  fileExists,
  type ListingOptions,
  removeDatabaseFiles,
  removeQuietly,
  reportError,
  type SyncContext,
} from "./context.ts";
import { type HostListing, listHosts } from "./layout.ts";
import {
  emptyPull,
  noteHostsSeen,
  pullHosts,
  type PullResult,
} from "./pull.ts";
import { downloadSnapshot, snapshotSeq } from "./snapshots.ts";
import type { RejectedObject } from "./state.ts";

/** What a restore did. */
export interface RestoreResult extends PullResult {
  /** Whether the local file was (re)built. */
  restored: boolean;
  /** The host id of the restored file. */
  hostId: string;
  /** Another process created the store while this restore ran; nothing was replaced. */
  raced?: boolean;
}

/** Restore the store; an existing file needs `force`. */
export async function restore(
  ctx: SyncContext,
  options: { force?: boolean } & ListingOptions = {},
): Promise<RestoreResult> {
  const started = Date.now();
  const exists = fileExists(ctx.dbPath);
  if (exists && !options?.force) {
    throw new StintError(
      `The store ${ctx.dbPath} already exists; use stint sync restore --force to rebuild it from the bucket`,
    );
  }
  const carried = exists ? carriedIdentity(ctx.dbPath) : null;
  const hosts = await listHosts(ctx.bucket);
  options.onListed?.();
  const result: RestoreResult = {
    ...emptyPull(),
    restored: false,
    hostId: carried?.host ?? "",
  };
  if (hosts.size === 0) {
    result.durationMs = Date.now() - started;
    return result;
  }
  ensurePrivateDir(stateDir(ctx.dbPath));
  const tmp = `${ctx.dbPath}.restore-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const refused = await restoreBase(ctx, tmp, hosts, result, carried?.host);
    result.hostId = withStore(tmp, (db) => {
      transaction(db, () => {
        if (carried) setMeta(db, "host_id", carried.host);
        for (const r of refused) ctx.meta.reject(db, r);
      });
      // Secondary indexes are rebuilt after the bulk load: much faster.
      db.exec(dropIndexesSql(db));
      return hostId(db);
    });
    await pullHosts(ctx, tmp, hosts, [...hosts.values()], result, "restore");
    noteHostsSeen(
      ctx,
      tmp,
      [...hosts.values()].filter((h) => h.host !== result.hostId),
    );
    finishFile(ctx, tmp, result.hostId, carried?.seq ?? 0);
    if (result.corrupt.length > 0 && exists) {
      throw new StintError(
        `Restore found ${result.corrupt.length} corrupt object(s) (${
          result.corrupt[0]
        }${
          result.corrupt.length > 1 ? ", ..." : ""
        }); the existing store ${ctx.dbPath} was left untouched`,
      );
    }
    if (!placeFile(ctx.dbPath, tmp, exists)) {
      result.durationMs = Date.now() - started;
      result.raced = true;
      return result;
    }
    result.restored = true;
  } finally {
    removeDatabaseFiles(tmp);
  }
  result.durationMs = Date.now() - started;
  return result;
}

/** The host id and seq of an existing store, so `--force` keeps them. */
function carriedIdentity(dbPath: string): { host: string; seq: number } | null {
  try {
    return withStore(
      dbPath,
      (db) => ({ host: hostId(db), seq: currentSeq(db) }),
      { readOnly: true },
    );
  } catch {
    return null; // Unreadable: restore under a new host id.
  }
}

/** Indexes back, this host's own cursor set from what the bucket held, one file. */
function finishFile(
  ctx: SyncContext,
  tmp: string,
  host: string,
  carriedSeq: number,
): void {
  withStore(tmp, (db) => {
    for (const m of MIGRATIONS) db.exec(m); // recreate the indexes
    transaction(db, () => {
      const own = ctx.meta.remoteCursor(db, host);
      setMeta(db, "seq", String(Math.max(own, carriedSeq, currentSeq(db))));
      ctx.meta.setPushedSeq(db, own);
      ctx.meta.dropRemoteCursor(db, host);
      ctx.meta.markRestored(db);
    });
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.exec("PRAGMA journal_mode = DELETE");
  });
}

/**
 * Put the built file in place. `--force` replaces on purpose; otherwise a
 * hard link never clobbers a store another stint process created meanwhile
 * (returns false then: that process's file just pulls). A -wal/-shm left by
 * a deleted store would be replayed into the restored file when it is first
 * opened, mixing the old file's pages into it, so they go first.
 */
function placeFile(dbPath: string, tmp: string, replace: boolean): boolean {
  if (replace) {
    removeQuietly(`${dbPath}-wal`);
    removeQuietly(`${dbPath}-shm`);
    Deno.renameSync(tmp, dbPath);
  } else {
    if (!fileExists(dbPath)) {
      removeQuietly(`${dbPath}-wal`);
      removeQuietly(`${dbPath}-shm`);
    }
    try {
      Deno.linkSync(tmp, dbPath);
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      return false;
    }
  }
  try {
    Deno.chmodSync(dbPath, 0o600);
  } catch {
    // The file was created 0600 already.
  }
  return true;
}

/**
 * Start from the biggest usable snapshot: the downloaded file becomes the
 * new store. Candidates that are not stint snapshots (a HEAD says so) or
 * that fail verification are refused; the next biggest is tried. Leaves no
 * file when there is no usable snapshot. Returns the objects refused.
 */
async function restoreBase(
  ctx: SyncContext,
  tmp: string,
  hosts: Map<string, HostListing>,
  result: PullResult,
  keepHost: string | undefined,
): Promise<RejectedObject[]> {
  const refused: RejectedObject[] = [];
  const candidates = [...hosts.values()].filter((h) => h.snapshot)
    .sort((a, b) => b.snapshot!.size - a.snapshot!.size);
  for (const h of candidates) {
    const snap = h.snapshot!;
    try {
      const info = await ctx.bucket.head(snap.key);
      if (info === null) continue;
      snapshotSeq(h.host, info);
      if (await adoptBase(ctx, tmp, h, result, keepHost)) break;
    } catch (err) {
      removeDatabaseFiles(tmp);
      if (!(err instanceof BucketError && err.kind === "corrupt")) throw err;
      result.corrupt.push(snap.key);
      result.reasons[snap.key] = err.message;
      result.newlyCorrupt++;
      reportError(ctx, err);
      refused.push({
        key: snap.key,
        etag: snap.etag ?? `size:${snap.size}`,
        reason: err.message,
        at: Date.now(),
      });
    }
  }
  return refused;
}

/** Download `h`'s snapshot as the new store; false when it is gone. */
async function adoptBase(
  ctx: SyncContext,
  tmp: string,
  h: HostListing,
  result: PullResult,
  keepHost: string | undefined,
): Promise<boolean> {
  const { host, snapshot } = h;
  const seq = await downloadSnapshot(ctx, host, tmp);
  if (seq === null) return false;
  const self = keepHost ?? newHostId();
  result.applied += withStore(tmp, (db) =>
    transaction(db, () => {
      // The file becomes the store: only the base host's own rows stay.
      sanitizeSnapshot(db, "main", host, self);
      db.exec("DELETE FROM meta");
      db.prepare(
        "INSERT INTO meta (key, value) VALUES ('host_id', ?), ('seq', '0'), ('created_at', ?)",
      ).run(self, String(Date.now()));
      ctx.meta.markApplied(db, host, [1, seq]);
      if (snapshot?.etag) ctx.meta.setSnapshotEtag(db, host, snapshot.etag);
      observeSnapshotStamps(db);
      return countReplicatedRows(db);
    }));
  result.snapshots++;
  return true;
}
