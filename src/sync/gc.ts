/**
 * Bucket garbage collection (`stint sync gc`, and automatically at most
 * once a day after a host compacts):
 *
 * - **Log blobs** (`logs/<sha256>.gz`) that no run names any more are
 *   deleted once they are older than the grace period (48 h). "Names" is
 *   judged on this host's store right after it pulled every host's objects
 *   (and pushed its own): that is what a restore from the bucket would hold
 *   (every record of every host, less what tombstones deleted), so a blob
 *   kept only by a run that retention or `history clear` removed goes,
 *   while a blob any live run names stays. If the pull did not bring
 *   everything (a refused or missing object, a host that pushed past what
 *   was listed), no blob is deleted this time.
 * - **Segments** a host's snapshot covers (`to <= its seq`) are deleted, as
 *   compaction does for its own, for hosts whose snapshot this host has
 *   verified and applied.
 *
 * Many hosts may run it at once: it deletes only objects it found both
 * unreferenced and older than the grace, checks each again (HEAD) right
 * before deleting it, and deleting a deleted object is not an error. A push
 * never relies on a blob that old: it uploads again a blob it would reuse
 * once that is past half the grace, and checks it is still there after its
 * record went up and again a minute later (`logs.ts`, `refreshed.ts`).
 * Ages are in bucket time.
 * @module
 */
import { hostId } from "../store/meta.ts";
import { withStore } from "../store/open.ts";
import { referencedBlobs } from "../store/replication/log_blobs.ts";
import type { ObjectInfo } from "./bucket.ts";
import type { SyncContext } from "./context.ts";
import { type HostListing, listHosts } from "./layout.ts";
import { bucketNow } from "./logs.ts";
import { emptyPull, noteHostsSeen, pullHosts } from "./pull.ts";
import { snapshotSeq } from "./snapshots.ts";

/** What a gc did (or, with `dryRun`, would do). */
export interface GcResult {
  /** Nothing was deleted; the counts say what would have been. */
  dryRun: boolean;
  /** Log blobs in the bucket. */
  blobs: number;
  /** Of those, still named by a run. */
  referenced: number;
  /** Unreferenced, but younger than the grace period: kept. */
  young: number;
  /** Unreferenced and older than the grace: deleted. */
  deletedBlobs: number;
  /** Their bytes. */
  blobBytes: number;
  /** Segments covered by their host's snapshot: deleted. */
  deletedSegments: number;
  /** Their bytes. */
  segmentBytes: number;
  /** Why no log blob was deleted, when that is the case for a reason. */
  skipped?: string;
  /** The grace period applied (ms). */
  graceMs: number;
  /** Wall time in ms. */
  durationMs: number;
}

const BATCH = 200;
const DELETE_BATCH = 10;
/** The longest a blob's last check may precede its delete request. */
const CHECK_TO_DELETE_MS = 5_000;

/** Collect the bucket's garbage (see the module doc). */
export async function collectGarbage(
  ctx: SyncContext,
  options: { dryRun?: boolean } = {},
): Promise<GcResult> {
  const started = Date.now();
  const dryRun = options.dryRun ?? false;
  const result: GcResult = {
    dryRun,
    blobs: 0,
    referenced: 0,
    young: 0,
    deletedBlobs: 0,
    blobBytes: 0,
    deletedSegments: 0,
    segmentBytes: 0,
    graceMs: ctx.gcGraceMs,
    durationMs: 0,
  };
  const me = withStore(ctx.dbPath, hostId);
  const hosts = await listHosts(ctx.bucket);
  const others = [...hosts.values()].filter((h) => h.host !== me);
  // Everything listed is applied first: what runs name is judged on it.
  const pulled = emptyPull();
  noteHostsSeen(ctx, ctx.dbPath, others);
  await pullHosts(ctx, ctx.dbPath, hosts, others, pulled, "gc");
  withStore(ctx.dbPath, (db) => ctx.meta.markPulled(db));
  result.skipped = incomplete(ctx, others, pulled);
  await collectSegments(ctx, hosts, me, result);
  if (result.skipped === undefined) await collectBlobs(ctx, result);
  result.durationMs = Date.now() - started;
  return result;
}

/** Why the pull may not have brought every record listed, or undefined. */
function incomplete(
  ctx: SyncContext,
  others: HostListing[],
  pulled: ReturnType<typeof emptyPull>,
): string | undefined {
  if (pulled.corrupt.length > 0) {
    return `${pulled.corrupt.length} object(s) were refused (${
      pulled.corrupt[0]
    }), so what they name is unknown`;
  }
  if (pulled.problems.length > 0) return pulled.problems[0];
  return withStore(ctx.dbPath, (db) => {
    for (const h of others) {
      const cursor = ctx.meta.remoteCursor(db, h.host);
      const last = h.segments.reduce((n, s) => Math.max(n, s.to), 0);
      if (last > cursor) {
        return `host ${h.host}'s changes up to ${last} are not all applied here (${cursor})`;
      }
      if (
        h.snapshot?.etag !== undefined &&
        ctx.meta.snapshotEtag(db, h.host) !== h.snapshot.etag
      ) {
        return `host ${h.host}'s snapshot is not applied here`;
      }
    }
    return undefined;
  });
}

/**
 * Delete segments their host's snapshot covers: for this host's own, and
 * for hosts whose listed snapshot this host applied (so its seq is known
 * good, not just claimed).
 */
async function collectSegments(
  ctx: SyncContext,
  hosts: Map<string, HostListing>,
  me: string,
  result: GcResult,
): Promise<void> {
  const applied = withStore(ctx.dbPath, (db) => {
    const ok = new Set<string>();
    for (const h of hosts.values()) {
      const etag = h.snapshot?.etag;
      if (
        h.host === me ||
        (etag !== undefined && ctx.meta.snapshotEtag(db, h.host) === etag)
      ) ok.add(h.host);
    }
    return ok;
  });
  for (const h of hosts.values()) {
    if (!h.snapshot || !applied.has(h.host) || h.segments.length === 0) {
      continue;
    }
    let seq: number;
    try {
      const info = await ctx.bucket.head(h.snapshot.key);
      if (info === null) continue;
      seq = snapshotSeq(h.host, info);
    } catch {
      continue; // not a stint snapshot: its host's segments stay
    }
    const covered = h.segments.filter((s) => s.to <= seq);
    if (covered.length === 0) continue;
    if (!result.dryRun) await ctx.bucket.delete(covered.map((s) => s.key));
    result.deletedSegments += covered.length;
    result.segmentBytes += covered.reduce((n, s) => n + s.size, 0);
  }
}

/** Delete the log blobs no run names, older than the grace period. */
async function collectBlobs(ctx: SyncContext, result: GcResult) {
  let page: ObjectInfo[] = [];
  const flush = async () => {
    const shas = page.map((o) => blobSha(o.key)!);
    const named = withStore(ctx.dbPath, (db) => referencedBlobs(db, shas));
    const old: ObjectInfo[] = [];
    for (const o of page) {
      if (named.has(blobSha(o.key)!)) result.referenced++;
      else if (!isOld(ctx, o.lastModified)) result.young++;
      else old.push(o);
    }
    page = [];
    await deleteOld(ctx, old, result);
  };
  for await (const obj of ctx.bucket.list("logs/")) {
    if (blobSha(obj.key) === null) continue; // not stint's
    result.blobs++;
    page.push(obj);
    if (page.length >= BATCH) await flush();
  }
  if (page.length > 0) await flush();
}

/**
 * Delete `old` (unreferenced, older than the grace when listed), each
 * checked again just before: still there, unchanged, and still old. A
 * blob a push has just uploaded again is then young, and stays. A few are
 * deleted at a time, each within {@linkcode CHECK_TO_DELETE_MS} of its
 * check (later, it is checked again): the push that refreshes a blob
 * checks it again later than a delete can be held up (`refreshed.ts`).
 */
async function deleteOld(
  ctx: SyncContext,
  old: ObjectInfo[],
  result: GcResult,
): Promise<void> {
  let doomed: { obj: ObjectInfo; checkedAt: number }[] = [];
  const stillOld = async (o: ObjectInfo): Promise<boolean> => {
    if (result.dryRun) return true;
    const now = await ctx.bucket.head(o.key);
    if (now === null) return false; // another gc took it
    const changed = now.etag !== undefined && o.etag !== undefined &&
      now.etag !== o.etag;
    if (changed || !isOld(ctx, now.lastModified)) {
      result.young++;
      return false;
    }
    return true;
  };
  const flush = async () => {
    if (doomed.length === 0) return;
    const late = Date.now() - CHECK_TO_DELETE_MS;
    const keep: ObjectInfo[] = [];
    for (const d of doomed) {
      if (d.checkedAt >= late || await stillOld(d.obj)) keep.push(d.obj);
    }
    doomed = [];
    if (keep.length === 0) return;
    if (!result.dryRun) await ctx.bucket.delete(keep.map((o) => o.key));
    result.deletedBlobs += keep.length;
    result.blobBytes += keep.reduce((n, o) => n + o.size, 0);
  };
  for (const o of old) {
    const checkedAt = Date.now();
    if (await stillOld(o)) doomed.push({ obj: o, checkedAt });
    if (
      doomed.length >= DELETE_BATCH ||
      (doomed.length > 0 &&
        Date.now() - doomed[0].checkedAt > CHECK_TO_DELETE_MS / 2)
    ) await flush();
  }
  await flush();
}

/** Whether an object last written at `at` is older than the grace period (bucket time). */
function isOld(ctx: SyncContext, at: Date | undefined): boolean {
  // An object whose age is unknown is never old.
  return at !== undefined && bucketNow(ctx) - at.getTime() > ctx.gcGraceMs;
}

/** The hash in a blob key, or null for anything else under `logs/`. */
function blobSha(key: string): string | null {
  const m = key.match(/^logs\/([0-9a-f]{64})\.gz$/);
  return m ? m[1] : null;
}
