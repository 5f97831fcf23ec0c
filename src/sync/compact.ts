/**
 * Compaction: write `hosts/<host>/snap.db` (every row this host owns, read
 * in one snapshot at seq S), and only then delete the segments it covers
 * (`to <= S`). A change that races with it has a seq above S and stays in
 * its own segment. A per-host lease in the store keeps two local processes
 * from compacting at once.
 * @module
 */
import { join } from "node:path";
import { transaction, withStore } from "../store/open.ts";
import { stateDir } from "../store/paths.ts";
import { buildSnapshot } from "../store/replication/snapshot.ts";
import { SCHEMA_VERSION } from "../store/schema.ts";
import {
  type PushProgress,
  removeQuietly,
  type SyncContext,
} from "./context.ts";
import { parseSegmentKey, segmentsPrefix, snapshotKey } from "./layout.ts";
import { logsToUpload, uploadLog } from "./logs.ts";
import { afterRefresh } from "./refreshed.ts";
import { fileSource } from "./streams.ts";

/** What a compaction uploaded. */
export interface Compaction {
  /** The seq the snapshot covers. */
  seq: number;
  /** Bytes uploaded (logs and snapshot). */
  bytes: number;
  /** Log blobs uploaded. */
  logs: number;
}

const LEASE_MS = 600_000;

/**
 * Compact `host`'s rows into a snapshot. Logs of runs changed after
 * `unpushedAfter` go up first, so the snapshot names only uploaded logs.
 * Returns null when another process holds the compaction lease.
 */
export async function compact(
  ctx: SyncContext,
  host: string,
  options: { unpushedAfter: number; progress?: PushProgress },
): Promise<Compaction | null> {
  const progress = options.progress;
  const lease = `${Deno.pid}:${crypto.randomUUID()}`;
  if (
    !withStore(
      ctx.dbPath,
      (db) => ctx.meta.takeCompactionLease(db, lease, LEASE_MS),
    )
  ) {
    return null;
  }
  const tmp = join(stateDir(ctx.dbPath), `.snap-${crypto.randomUUID()}.db`);
  try {
    let logs = 0;
    let bytes = 0;
    const refreshed: [string, string][] = [];
    const ids = logsToUpload(ctx, host, options.unpushedAfter);
    if (progress) progress.logsTotal += ids.length;
    for (const logId of ids) {
      const up = await uploadLog(ctx, logId);
      if (up && up.bytes > 0) {
        logs++;
        bytes += up.bytes;
        if (progress) progress.bytes += up.bytes;
      }
      if (up?.refreshed) refreshed.push([logId, up.sha256]);
      if (progress) progress.logsDone++;
    }
    const seq = buildSnapshot(ctx.dbPath, tmp, host);
    // Streamed from the file (hashed first, then sent in parts): a
    // snapshot of a million runs is never in memory.
    const body = fileSource(tmp);
    await ctx.bucket.put(snapshotKey(host), body, {
      contentType: "application/vnd.sqlite3",
      metadata: {
        "stint-host": host,
        "stint-seq": String(seq),
        "stint-schema": String(SCHEMA_VERSION),
      },
      onProgress: (done, total) =>
        ctx.reporter.progress({
          operation: "upload snapshot",
          done,
          total,
          unit: "bytes",
        }),
    });
    bytes += body.size;
    if (progress) {
      progress.bytes += body.size;
      progress.snapshot = true;
    }
    await afterRefresh(ctx, refreshed);
    withStore(ctx.dbPath, (db) =>
      transaction(db, () => {
        ctx.meta.markPushed(db, seq);
        ctx.meta.setSegmentsSinceSnapshot(db, { count: 0, bytes: 0 });
      }));
    const covered: string[] = [];
    for await (const obj of ctx.bucket.list(segmentsPrefix(host))) {
      const seg = parseSegmentKey(obj.key);
      if (seg && seg.host === host && seg.to <= seq) covered.push(obj.key);
    }
    if (covered.length > 0) await ctx.bucket.delete(covered);
    return { seq, bytes, logs };
  } finally {
    removeQuietly(tmp);
    removeQuietly(`${tmp}-journal`);
    withStore(ctx.dbPath, (db) => ctx.meta.releaseCompactionLease(db, lease));
  }
}
