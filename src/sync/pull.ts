/**
 * Pull: apply other hosts' new snapshots and segments. Idempotent: cursors
 * only move past what was applied and verified, and applying a record again
 * changes nothing. Also used by restore, against the file being built.
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
import { BucketError } from "./bucket.ts";
import { removeQuietly, reportError, type SyncContext } from "./context.ts";
import {
  type HostListing,
  listHosts,
  type SegmentInfo,
  snapshotKey,
} from "./layout.ts";
import { decodeSegment } from "./segment.ts";

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

/** A pull that did nothing yet. */
export function emptyPull(): PullResult {
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

/** Pull every other host's new changes into the store. */
export async function pull(ctx: SyncContext): Promise<PullResult> {
  const started = Date.now();
  const result = emptyPull();
  const me = withStore(ctx.dbPath, hostId);
  const hosts = await listHosts(ctx.bucket);
  const others = [...hosts.values()].filter((h) => h.host !== me);
  await pullHosts(ctx, ctx.dbPath, others, result, "pull");
  withStore(ctx.dbPath, (db) => ctx.meta.markPulled(db));
  result.durationMs = Date.now() - started;
  return result;
}

/** Apply `hosts`' objects to the store at `target` (the store, or a restore's temp file). */
export async function pullHosts(
  ctx: SyncContext,
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
    ctx.reporter.progress({ operation, done, total, unit: "objects" });
  };
  for (const h of hosts) {
    const before = result.applied;
    await pullHost(ctx, target, h, result, tick);
    if (result.applied > before || h.segments.length || h.snapshot) {
      result.hosts++;
    }
  }
}

async function pullHost(
  ctx: SyncContext,
  target: string,
  h: HostListing,
  result: PullResult,
  tick: (n: number) => void,
): Promise<void> {
  let cursor = withStore(target, (db) => ctx.meta.remoteCursor(db, h.host));
  const firstNeeded = h.segments.find((s) => s.to > cursor);
  const gap = firstNeeded ? firstNeeded.from > cursor + 1 : false;
  if (h.snapshot) {
    cursor = Math.max(cursor, await pullSnapshot(ctx, target, h, gap, result));
    tick(1);
  }
  await pullSegments(ctx, target, h, cursor, result, tick);
}

/**
 * Merge `h`'s snapshot when it is new (or a gap needs it). A new snapshot
 * that covers nothing past the cursor (the host just compacted what was
 * already pulled) is not downloaded: one HEAD. Returns the seq it covers
 * (0 when not applied).
 */
async function pullSnapshot(
  ctx: SyncContext,
  target: string,
  h: HostListing,
  gap: boolean,
  result: PullResult,
): Promise<number> {
  const { cursor, snapEtag } = withStore(target, (db) => ({
    cursor: ctx.meta.remoteCursor(db, h.host),
    snapEtag: ctx.meta.snapshotEtag(db, h.host),
  }));
  const etag = h.snapshot?.etag;
  if (etag !== undefined && etag === snapEtag && !gap) return 0;
  try {
    if (!gap) {
      const info = await ctx.bucket.head(snapshotKey(h.host));
      if (info === null) return 0;
      const seq = Number(info.metadata?.["stint-seq"]);
      if (Number.isSafeInteger(seq) && seq <= cursor) {
        const known = etag ?? info.etag;
        if (known) {
          withStore(
            target,
            (db) => ctx.meta.setSnapshotEtag(db, h.host, known),
          );
        }
        return 0;
      }
    }
    const applied = await applySnapshot(ctx, target, h);
    if (applied === null) return 0;
    result.snapshots++;
    result.applied += applied.applied;
    return applied.seq;
  } catch (err) {
    if (err instanceof BucketError && err.kind === "corrupt") {
      result.corrupt.push(snapshotKey(h.host));
    }
    reportError(ctx, err);
    return 0;
  }
}

/**
 * Segments after the cursor, in order. A corrupt segment is skipped
 * (reported), later ones are still applied, but the cursor stays before the
 * bad one so a later snapshot can still fill it in.
 */
async function pullSegments(
  ctx: SyncContext,
  target: string,
  h: HostListing,
  start: number,
  result: PullResult,
  tick: (n: number) => void,
): Promise<void> {
  let cursor = start;
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
    const records = await readSegment(ctx, h.host, seg, result);
    tick(1);
    if (records === "missing") break;
    if (records === "corrupt") {
      hold = true;
      continue;
    }
    const applied = withStore(target, (db) =>
      transaction(db, () => {
        const r = applyRecordsInTransaction(db, records);
        if (!hold) ctx.meta.advanceRemoteCursor(db, h.host, seg.to);
        return r;
      }));
    result.applied += applied.applied;
    result.segments++;
    if (!hold) cursor = Math.max(cursor, seg.to);
    expected = Math.max(expected, seg.to + 1);
  }
}

async function readSegment(
  ctx: SyncContext,
  host: string,
  seg: SegmentInfo,
  result: PullResult,
): Promise<ChangeRecord[] | "missing" | "corrupt"> {
  try {
    const obj = await ctx.bucket.get(seg.key, { requireChecksum: true });
    if (obj === null) {
      result.problems.push(
        `Segment ${seg.key} disappeared before it was read (compacted?); it will be fetched from the snapshot next time`,
      );
      return "missing";
    }
    return decodeSegment(obj.body, host, seg);
  } catch (err) {
    if (err instanceof BucketError && err.kind === "corrupt") {
      result.corrupt.push(seg.key);
      reportError(ctx, err);
      return "corrupt";
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
  const obj = await ctx.bucket.get(key, { requireChecksum: true });
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

/** Download, verify and merge a host's snapshot; null when there is none. */
async function applySnapshot(
  ctx: SyncContext,
  target: string,
  h: HostListing,
): Promise<{ applied: number; seq: number } | null> {
  const tmp = join(stateDir(target), `.pull-${crypto.randomUUID()}.db`);
  try {
    const seq = await downloadSnapshot(ctx, h.host, tmp);
    if (seq === null) return null;
    const applied = withStore(target, (db) => {
      db.prepare("ATTACH DATABASE ? AS snap").run(tmp);
      try {
        return transaction(db, () => {
          const self = hostId(db);
          sanitizeSnapshot(db, "snap", h.host, self);
          const n = mergeSnapshot(db, h.host, self);
          ctx.meta.advanceRemoteCursor(db, h.host, seq);
          if (h.snapshot?.etag) {
            ctx.meta.setSnapshotEtag(db, h.host, h.snapshot.etag);
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
