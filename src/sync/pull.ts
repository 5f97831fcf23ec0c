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
import { join } from "node:path";
import { hostId } from "../store/meta.ts";
import { transaction, withStore } from "../store/open.ts";
import { stateDir } from "../store/paths.ts";
import {
  applyRecordsInTransaction,
  type ChangeRecord,
} from "../store/replication/mod.ts";
import {
  inspectSnapshot,
  mergeSnapshot,
  sanitizeSnapshot,
} from "../store/replication/snapshot.ts";
import { BucketError, type ObjectInfo, tooLarge } from "./bucket.ts";
import {
  type ListingOptions,
  removeQuietly,
  reportError,
  type SyncContext,
} from "./context.ts";
import { bucketNow } from "../store/replication/clock.ts";
import { recordHostsSeen } from "../store/replication/liveness.ts";
import {
  type HostListing,
  listHosts,
  type SegmentInfo,
  snapshotKey,
} from "./layout.ts";
import { decodeSegment, MAX_SEGMENT_BYTES } from "./segment.ts";
import type { RejectedObject } from "./state.ts";

/** The largest snapshot a pull or restore downloads. */
export const MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;

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
        listed: bounds
          ? Date.now() + Math.round((bounds.lo + bounds.hi) / 2)
          : bucketNow(db),
        staleAfter: ctx.staleAfterMs,
      })));
}

/** One pull's view of the objects refused before, against `target`. */
class Refusals {
  #known: Map<string, RejectedObject>;
  #ctx: SyncContext;
  #target: string;

  constructor(ctx: SyncContext, target: string, listed: Map<string, string>) {
    this.#ctx = ctx;
    this.#target = target;
    this.#known = withStore(target, (db) => ctx.meta.rejected(db));
    // An object that changed or went away is tried again.
    const stale = [...this.#known.values()].filter((r) =>
      listed.get(r.key) !== r.etag
    );
    if (stale.length > 0) {
      withStore(target, (db) =>
        transaction(db, () => {
          for (const r of stale) {
            ctx.meta.forgetRejected(db, r.key);
            this.#known.delete(r.key);
          }
        }));
    }
  }

  /** Whether `obj` was refused before, as it is now (noted in `result` if so). */
  known(obj: ObjectInfo | SegmentInfo, result: PullResult): boolean {
    const r = this.#known.get(obj.key);
    if (r?.etag !== identity(obj)) return false;
    result.corrupt.push(obj.key);
    result.reasons[obj.key] = r.reason;
    return true;
  }

  /** Refuse `obj` for `err` and remember it. */
  refuse(
    obj: ObjectInfo | SegmentInfo,
    err: unknown,
    result: PullResult,
  ): void {
    const r: RejectedObject = {
      key: obj.key,
      etag: identity(obj),
      reason: (err instanceof Error ? err.message : String(err)).split("\n")[0],
      at: Date.now(),
    };
    withStore(this.#target, (db) => this.#ctx.meta.reject(db, r));
    this.#known.set(r.key, r);
    result.corrupt.push(obj.key);
    result.reasons[obj.key] = r.reason;
    result.newlyCorrupt++;
    reportError(this.#ctx, err);
  }
}

/** What names one version of an object: its etag, else its size. */
function identity(obj: { etag?: string; size: number }): string {
  return obj.etag ?? `size:${obj.size}`;
}

/** Every `hosts/` key of a listing with its identity. */
function listedIdentities(all: Map<string, HostListing>): Map<string, string> {
  const out = new Map<string, string>();
  for (const h of all.values()) {
    for (const s of h.segments) out.set(s.key, identity(s));
    if (h.snapshot) out.set(h.snapshot.key, identity(h.snapshot));
  }
  return out;
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

/** The seq a snapshot's metadata says it covers; a `corrupt` error when it is not stint's. */
export function snapshotSeq(host: string, info: ObjectInfo): number {
  const m = info.metadata ?? {};
  const seq = Number(m["stint-seq"]);
  if (
    m["stint-host"] !== host || !Number.isSafeInteger(seq) || seq < 0 ||
    m["stint-sha256"] === undefined
  ) {
    throw new BucketError(
      "corrupt",
      `Snapshot ${info.key} is not a stint snapshot of ${host} (it lacks stint's metadata); not downloaded`,
      { operation: "head", key: info.key, code: "NotStint" },
    );
  }
  if (info.size > MAX_SNAPSHOT_BYTES) {
    throw tooLarge(info.key, info.size, MAX_SNAPSHOT_BYTES);
  }
  return seq;
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

/**
 * Download `host`'s snapshot to `tmp` (0600) and check it is a stint
 * snapshot of that host. Returns the seq it covers, or null when the bucket
 * has none; a bad file is a `corrupt` BucketError.
 */
export async function downloadSnapshot(
  ctx: SyncContext,
  host: string,
  tmp: string,
): Promise<number | null> {
  const key = snapshotKey(host);
  const obj = await ctx.bucket.get(key, {
    requireChecksum: true,
    maxBytes: MAX_SNAPSHOT_BYTES,
  });
  if (obj === null) return null;
  Deno.writeFileSync(tmp, obj.body, { mode: 0o600 });
  try {
    return inspectSnapshot(tmp, host);
  } catch (err) {
    throw new BucketError(
      "corrupt",
      `Snapshot ${key} in ${ctx.bucket.description} is not a valid stint snapshot (${
        err instanceof Error ? err.message.split("\n")[0] : String(err)
      }); skipped`,
      { operation: "get", key, code: "BadSnapshot" },
    );
  }
}

/** Download, verify and merge a host's snapshot; the rows changed, or null when there is none. */
async function applySnapshot(
  ctx: SyncContext,
  target: string,
  h: HostListing,
  snap: ObjectInfo,
): Promise<number | null> {
  const tmp = join(stateDir(target), `.pull-${crypto.randomUUID()}.db`);
  try {
    const seq = await downloadSnapshot(ctx, h.host, tmp);
    if (seq === null) return null;
    return withStore(target, (db) => {
      db.prepare("ATTACH DATABASE ? AS snap").run(tmp);
      try {
        return transaction(db, () => {
          const self = hostId(db);
          sanitizeSnapshot(db, "snap", h.host, self);
          const n = mergeSnapshot(db, h.host, self);
          ctx.meta.markApplied(db, h.host, [1, seq]);
          if (snap.etag) ctx.meta.setSnapshotEtag(db, h.host, snap.etag);
          return n;
        });
      } finally {
        db.exec("DETACH DATABASE snap");
      }
    });
  } finally {
    removeQuietly(tmp);
    removeQuietly(`${tmp}-journal`);
  }
}
