/**
 * Pull: apply other hosts' new snapshots and segments. Idempotent: cursors
 * only move past what was applied and verified, and applying a record again
 * changes nothing. Also used by restore, against the file being built.
 *
 * A bucket cannot hurt us: an object that fails verification is refused and
 * remembered by key and etag, so it is never fetched again until it changes;
 * every GET has a size cap; a snapshot without stint's metadata is refused on
 * a HEAD, unread; and a missing segment does not hold back the host's later
 * ones (rows are last-writer-wins, so order does not matter; the gap is
 * filled from the host's snapshot when it compacts).
 * @module
 */
import { hostId } from "../store/meta.ts";
import { transaction, withStore } from "../store/open.ts";
import {
  applyRecordsInTransaction,
  type ChangeRecord,
} from "../store/replication/mod.ts";
import { BucketError, type ObjectInfo, tooLarge } from "./bucket.ts";
import {
  type ListingOptions,
  reportError,
  type SyncContext,
} from "./context.ts";
import { bucketNow } from "../store/replication/clock.ts";
import { recordHostsSeen } from "../store/replication/liveness.ts";
import { type HostListing, listHosts, type SegmentInfo } from "./layout.ts";
import { listedIdentities, Refusals } from "./refusals.ts";
import { decodeSegment, MAX_SEGMENT_BYTES } from "./segment.ts";
import { applySnapshot, snapshotSeq } from "./snapshots.ts";

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
  /** Objects refused (found now, or remembered from before and still there). */
  corrupt: string[];
  /** Of those, how many were found by this pull. */
  newlyCorrupt: number;
  /** Why each was refused (one line), by key. */
  reasons: Record<string, string>;
  /** Other problems (missing objects, gaps), one line each. */
  problems: string[];
  /** Wall time in ms. */
  durationMs: number;
}

/** A pull that did nothing yet. */
export function emptyPull(): PullResult {
  return {
    hosts: 0,
    applied: 0,
    segments: 0,
    snapshots: 0,
    corrupt: [],
    newlyCorrupt: 0,
    reasons: {},
    problems: [],
    durationMs: 0,
  };
}

/** Pull every other host's new changes into the store. */
export async function pull(
  ctx: SyncContext,
  options: ListingOptions = {},
): Promise<PullResult> {
  const started = Date.now();
  const result = emptyPull();
  const me = withStore(ctx.dbPath, hostId);
  const hosts = await listHosts(ctx.bucket);
  options.onListed?.();
  const others = [...hosts.values()].filter((h) => h.host !== me);
  noteHostsSeen(ctx, ctx.dbPath, others);
  await pullHosts(ctx, ctx.dbPath, hosts, others, result, "pull");
  withStore(ctx.dbPath, (db) => ctx.meta.markPulled(db));
  result.durationMs = Date.now() - started;
  return result;
}

/**
 * Note when each host last wrote, as this listing shows it, for the
 * liveness of its runs (`replication/liveness.ts`).
 */
export function noteHostsSeen(
  ctx: SyncContext,
  target: string,
  hosts: HostListing[],
): void {
  const seen = new Map<string, number>();
  for (const h of hosts) {
    if (h.lastWrite !== undefined) seen.set(h.host, h.lastWrite);
  }
  if (seen.size === 0) return;
  const bounds = ctx.bucket.clock();
  withStore(target, (db) =>
    transaction(db, () =>
      recordHostsSeen(db, seen, {
        listed: bounds && (bounds.lo > 0 || bounds.hi < 0)
          ? Date.now() + (bounds.lo > 0 ? bounds.lo : bounds.hi)
          : bucketNow(db),
        staleAfter: ctx.staleAfterMs,
      })));
}

/**
 * Apply `hosts`' objects to the store at `target` (the store, or a restore's
 * temp file). `all` is the whole listing they come from.
 */
export async function pullHosts(
  ctx: SyncContext,
  target: string,
  all: Map<string, HostListing>,
  hosts: HostListing[],
  result: PullResult,
  operation: string,
): Promise<void> {
  const refusals = new Refusals(ctx, target, listedIdentities(all));
  const total = hosts.reduce(
    (n, h) => n + h.segments.length + (h.snapshot ? 1 : 0),
    0,
  );
  let done = 0;
  const tick = () => {
    done++;
    ctx.reporter.progress({ operation, done, total, unit: "objects" });
  };
  for (const h of hosts) {
    const before = result.applied;
    if (h.snapshot) {
      await pullSnapshot(ctx, target, h, h.snapshot, refusals, result);
      tick();
    }
    await pullSegments(ctx, target, h, refusals, result, tick);
    if (result.applied > before || h.segments.length || h.snapshot) {
      result.hosts++;
    }
  }
  result.corrupt = [...new Set(result.corrupt)];
}

/**
 * Merge `h`'s snapshot when it is new and covers more than was applied. A
 * new snapshot that covers nothing past the cursor (the host just compacted
 * what was already pulled) costs one HEAD, and so does one that is not a
 * stint snapshot (no stint metadata): it is refused unread.
 */
async function pullSnapshot(
  ctx: SyncContext,
  target: string,
  h: HostListing,
  snap: ObjectInfo,
  refusals: Refusals,
  result: PullResult,
): Promise<void> {
  if (refusals.known(snap, result)) return;
  const { cursor, applied } = withStore(target, (db) => ({
    cursor: ctx.meta.remoteCursor(db, h.host),
    applied: ctx.meta.snapshotEtag(db, h.host),
  }));
  if (snap.etag !== undefined && snap.etag === applied) return;
  try {
    const info = await ctx.bucket.head(snap.key);
    if (info === null) return;
    const seq = snapshotSeq(h.host, info);
    if (seq <= cursor) {
      const etag = snap.etag ?? info.etag;
      if (etag) {
        withStore(target, (db) => ctx.meta.setSnapshotEtag(db, h.host, etag));
      }
      return;
    }
    const merged = await applySnapshot(ctx, target, h, snap);
    if (merged === null) return;
    result.snapshots++;
    result.applied += merged;
  } catch (err) {
    if (err instanceof BucketError && err.kind === "corrupt") {
      refusals.refuse(snap, err, result);
    } else reportError(ctx, err);
  }
}

/**
 * `h`'s segments that are not applied yet, in order. A refused or missing
 * one is skipped and the later ones are still applied; the cursor stays
 * before the hole, so the snapshot (or the segment, repaired) can fill it.
 */
async function pullSegments(
  ctx: SyncContext,
  target: string,
  h: HostListing,
  refusals: Refusals,
  result: PullResult,
  tick: () => void,
): Promise<void> {
  let { cursor, ahead } = withStore(target, (db) => ({
    cursor: ctx.meta.remoteCursor(db, h.host),
    ahead: ctx.meta.appliedAhead(db, h.host),
  }));
  for (const seg of h.segments) {
    tick();
    const done = seg.to <= cursor ||
      ahead.some(([from, to]) => from <= seg.from && seg.to <= to);
    if (done) continue;
    if (refusals.known(seg, result)) continue;
    const records = await readSegment(ctx, h.host, seg, refusals, result);
    if (records === null) continue;
    ({ cursor, ahead } = withStore(target, (db) =>
      transaction(db, () => {
        result.applied += applyRecordsInTransaction(db, records).applied;
        const c = ctx.meta.markApplied(db, h.host, [seg.from, seg.to]);
        return { cursor: c, ahead: ctx.meta.appliedAhead(db, h.host) };
      })));
    result.segments++;
  }
  if (ahead.length > 0) {
    result.problems.push(
      `Changes ${cursor + 1}-${
        ahead[0][0] - 1
      } of host ${h.host} are missing from the bucket; its later changes were applied, and the gap is filled from its snapshot when it compacts`,
    );
  }
}

async function readSegment(
  ctx: SyncContext,
  host: string,
  seg: SegmentInfo,
  refusals: Refusals,
  result: PullResult,
): Promise<ChangeRecord[] | null> {
  try {
    if (seg.size > MAX_SEGMENT_BYTES) {
      throw tooLarge(seg.key, seg.size, MAX_SEGMENT_BYTES);
    }
    const obj = await ctx.bucket.get(seg.key, {
      requireChecksum: true,
      maxBytes: MAX_SEGMENT_BYTES,
    });
    if (obj === null) return null; // compacted away since the listing
    return decodeSegment(obj.body, host, seg);
  } catch (err) {
    if (err instanceof BucketError && err.kind === "corrupt") {
      refusals.refuse(seg, err, result);
      return null;
    }
    throw err;
  }
}
