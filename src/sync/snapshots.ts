/**
 * Snapshots in the bucket: what a HEAD must show before one is downloaded
 * (stint's metadata, a size under the cap), and downloading, checking and
 * merging one.
 * @module
 */
import { join } from "node:path";
import { hostId } from "../store/meta.ts";
import { transaction, withStore } from "../store/open.ts";
import { stateDir } from "../store/paths.ts";
import {
  inspectSnapshot,
  mergeSnapshot,
  sanitizeSnapshot,
} from "../store/replication/snapshot.ts";
import { BucketError, type ObjectInfo, tooLarge } from "./bucket.ts";
import { removeQuietly, type SyncContext } from "./context.ts";
import { type HostListing, snapshotKey } from "./layout.ts";
import { counting, writeNewFile } from "./streams.ts";

/** The largest snapshot a pull or restore downloads. */
export const MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;

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
  const obj = await ctx.bucket.getStream(key, {
    requireChecksum: true,
    maxBytes: MAX_SNAPSHOT_BYTES,
  });
  if (obj === null) return null;
  // Streamed to disk and verified as it passes: a bad checksum fails the
  // write, which removes the file.
  await writeNewFile(
    tmp,
    obj.body.pipeThrough(counting((done) =>
      ctx.reporter.progress({
        operation: `download ${key}`,
        done,
        total: obj.size,
        unit: "bytes",
      })
    )),
    { signal: ctx.signal },
  );
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
export async function applySnapshot(
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
