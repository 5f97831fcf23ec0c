/**
 * Push: upload this host's changes since the push cursor as one immutable
 * segment (after the logs of runs that finished), move the cursor only after
 * the upload succeeded, and compact when enough segments piled up. The dirty
 * check is one read of `meta`; when nothing changed no request is made.
 * @module
 */
import { transaction, withStore } from "../store/open.ts";
import { hostId } from "../store/meta.ts";
import {
  type ChangeRecord,
  readChanges,
} from "../store/replication/changelog.ts";
import { SCHEMA_VERSION } from "../store/schema.ts";
import { compact } from "./compact.ts";
import {
  newPushProgress,
  type PushProgress,
  reportError,
  type SyncContext,
} from "./context.ts";
import { heartbeatKey, segmentKey } from "./layout.ts";
import type { Database } from "../store/sqlite.ts";
import { uploadLog } from "./logs.ts";
import { afterRefresh, recheckDue, refreshedBlobs } from "./refreshed.ts";
import { encodeSegment } from "./segment.ts";

/** What a push did. */
export interface PushResult {
  /** Whether anything was uploaded. */
  pushed: boolean;
  /** Records uploaded. */
  records: number;
  /** Of those, var and cache writes and deletes (what the clock orders). */
  globalRecords: number;
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
  /** Whether only a heartbeat went up (nothing changed, runs are running). */
  heartbeat: boolean;
  /** Wall time in ms. */
  durationMs: number;
}

/** Push this host's changes if there are any. */
export async function push(
  ctx: SyncContext,
  options?: { compact?: boolean; progress?: PushProgress },
): Promise<PushResult> {
  const progress = options?.progress ?? newPushProgress();
  const started = Date.now();
  const result: PushResult = {
    pushed: false,
    records: 0,
    globalRecords: 0,
    bytes: 0,
    logs: 0,
    snapshot: false,
    heartbeat: false,
    seq: 0,
    durationMs: 0,
  };
  const finish = (): PushResult => {
    result.durationMs = Date.now() - started;
    if (result.pushed) {
      ctx.totals.pushes++;
      ctx.totals.bytes += result.bytes;
      ctx.totals.records += result.records;
      ctx.totals.globalWrites += result.globalRecords;
      ctx.reporter.flush(result);
    }
    return result;
  };
  const pending = withStore(ctx.dbPath, (db) => {
    const dirty = ctx.meta.isDirty(db);
    return {
      dirty,
      host: hostId(db),
      after: ctx.meta.pushedSeq(db),
      // Only asked when there is nothing else to send (one indexed read).
      running: dirty ? false : hasRunningRuns(db, hostId(db)),
      refreshed: refreshedBlobs(ctx, db),
    };
  });
  result.seq = pending.after;
  if (pending.refreshed.length > 0) await recheckDue(ctx, pending.refreshed);
  if (!pending.dirty && !options?.compact) {
    if (pending.running) await putHeartbeat(ctx, pending.host, result);
    return finish();
  }
  // Count first (indexed): a large backlog goes straight into a snapshot
  // without materialising every row as a record.
  const count = withStore(ctx.dbPath, (db) => ctx.meta.unpushedCount(db));
  if (options?.compact || count > ctx.policy.snapshotRecords) {
    progress.records = count;
    const snap = await compact(ctx, pending.host, {
      unpushedAfter: pending.after,
      progress,
    });
    if (snap) {
      Object.assign(result, {
        pushed: true,
        snapshot: true,
        records: count,
        bytes: snap.bytes,
        logs: snap.logs,
        seq: snap.seq,
      });
      return finish();
    }
    // Another process on this host holds the compaction lease: a segment
    // is just as safe.
  }
  await pushSegment(ctx, result, progress);
  return finish();
}

/** Whether `host` has runs recorded as running. */
function hasRunningRuns(db: Database, host: string): boolean {
  return db.prepare(
    // `+host_id`: through the (partial) running index, never every row of
    // this host through the host index (180 ms with a million runs).
    `SELECT 1 AS x FROM executions WHERE status = 'running' AND +host_id = ?
     UNION ALL SELECT 1 FROM background_runs WHERE status = 'running' AND +host_id = ?
     LIMIT 1`,
  ).get(host, host) !== undefined;
}

/**
 * Tell other hosts this host is alive while it has running runs and nothing
 * else to send: they judge its runs by how fresh its newest object is.
 */
async function putHeartbeat(
  ctx: SyncContext,
  host: string,
  result: PushResult,
): Promise<void> {
  const body = new TextEncoder().encode(
    JSON.stringify({ stint: "heartbeat", host, at: Date.now() }),
  );
  await ctx.bucket.put(heartbeatKey(host), body, {
    contentType: "application/json",
    metadata: { "stint-host": host },
  });
  result.heartbeat = true;
  result.bytes += body.byteLength;
}

/** Upload the segment of changes after the push cursor, then compact if due. */
async function pushSegment(
  ctx: SyncContext,
  result: PushResult,
  progress: PushProgress,
): Promise<void> {
  const changes = withStore(
    ctx.dbPath,
    (db) => readChanges(db, ctx.meta.pushedSeq(db)),
  );
  // A range whose rows were all overwritten since (a pulled newer write
  // replaced them) still goes up, as an empty segment: pullers read
  // segments as a contiguous run of seqs, and a range the cursor skipped
  // without an object would look like a gap to them.
  if (changes.to <= changes.from) return;
  progress.records = changes.records.length;
  const logs = await uploadFinishedLogs(ctx, changes.records, progress);
  result.bytes += logs.bytes;
  result.logs += logs.count;
  const from = changes.from + 1;
  const body = encodeSegment(changes.host, from, changes.to, changes.records);
  const key = segmentKey(changes.host, from, changes.to);
  await ctx.bucket.put(key, body, {
    contentType: "application/x-ndjson",
    metadata: {
      "stint-host": changes.host,
      "stint-from": String(from),
      "stint-to": String(changes.to),
      "stint-schema": String(SCHEMA_VERSION),
    },
  });
  Object.assign(result, {
    pushed: true,
    key,
    records: changes.records.length,
    globalRecords: changes.records.filter((r) =>
      r.k === "var" || r.k === "cache" ||
      (r.k === "tombstone" && (r.kind === "var" || r.kind === "cache"))
    ).length,
    seq: changes.to,
  });
  result.bytes += body.byteLength;
  progress.bytes += body.byteLength;
  progress.segment = key;
  await afterRefresh(ctx, logs.refreshed);
  const due = withStore(ctx.dbPath, (db) =>
    transaction(db, () => {
      ctx.meta.markPushed(db, changes.to);
      const since = ctx.meta.segmentsSinceSnapshot(db);
      since.count++;
      since.bytes += body.byteLength;
      ctx.meta.setSegmentsSinceSnapshot(db, since);
      return since.count > ctx.policy.compactSegments ||
        since.bytes > ctx.policy.compactBytes;
    }));
  if (!due) return;
  try {
    const snap = await compact(ctx, changes.host, {
      unpushedAfter: changes.to,
      progress,
    });
    if (snap) {
      result.snapshot = true;
      result.bytes += snap.bytes;
      result.logs += snap.logs;
      result.seq = Math.max(result.seq, snap.seq);
    }
  } catch (err) {
    // The segment is safely up; compaction is retried on a later push.
    reportError(ctx, err);
  }
}

/** What uploading a push's logs did. */
export interface LogsUploaded {
  /** Bytes sent. */
  bytes: number;
  /** Blobs uploaded. */
  count: number;
  /** Blobs that were there but uploaded again (log id, hash): checked again later. */
  refreshed: [string, string][];
}

/** Upload the logs of finished runs in `records`, noting their hashes in them. */
async function uploadFinishedLogs(
  ctx: SyncContext,
  records: ChangeRecord[],
  progress: PushProgress,
): Promise<LogsUploaded> {
  const todo = records.filter((rec) =>
    (rec.k === "execution" || rec.k === "background") &&
    typeof rec.log_id === "string" && rec.status !== "running" &&
    rec.log_sha256 === undefined
  );
  progress.logsTotal += todo.length;
  const out: LogsUploaded = { bytes: 0, count: 0, refreshed: [] };
  for (const rec of todo) {
    const up = await uploadLog(ctx, rec.log_id as string);
    if (up) {
      rec.log_sha256 = up.sha256;
      rec.log_size = up.size;
      out.bytes += up.bytes;
      progress.bytes += up.bytes;
      if (up.bytes > 0) out.count++;
      if (up.refreshed) out.refreshed.push([rec.log_id as string, up.sha256]);
    }
    progress.logsDone++;
  }
  return out;
}
