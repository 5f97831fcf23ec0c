/**
 * Log files in the bucket: a finished run's log goes up once as
 * `logs/<sha256>.gz` (content-addressed, so it never changes), and a run
 * recorded elsewhere gets its log fetched into the local logs dir.
 *
 * Both ways stream: a big log is read from disk through gzip into a temp
 * file (hashing the log and the gzip as they pass) and uploaded from there
 * in parts; a download goes through the checksum check and gunzip straight
 * to a temp file beside the log, renamed into place once its content hash
 * and size match the record. Memory holds a chunk, not the log. A log under
 * {@linkcode SMALL_LOG_BYTES} is gzipped in memory (one request, no temp file).
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { withStore } from "../store/open.ts";
import {
  ensureLogsDir,
  isValidLogId,
  logPath,
  logsDir,
  stateDir,
} from "../store/paths.ts";
import {
  logBlobOf,
  logsWithoutBlob,
  recordLogBlob,
} from "../store/replication/log_blobs.ts";
import { type Body, BucketError } from "./bucket.ts";
import { sha256Hex } from "./checksum.ts";
import { removeQuietly, type SyncContext } from "./context.ts";
import { logBlobKey } from "./layout.ts";
import {
  counting,
  fileSource,
  gunzipStream,
  gzipStream,
  hashing,
  writeNewFile,
} from "./streams.ts";

/** Logs up to this size are gzipped in memory; bigger ones are streamed. */
export const SMALL_LOG_BYTES = 4 * 1024 * 1024;

/** What uploading one log did. */
export interface LogUpload {
  /** The content hash. */
  sha256: string;
  /** Uncompressed size. */
  size: number;
  /** Bytes sent (0 when the blob was already there). */
  bytes: number;
  /**
   * The blob was there but old enough that `sync gc` could take it, so it
   * was uploaded again; the push checks it is still there once the record
   * naming it is up, and once more later (`refreshed.ts`).
   */
  refreshed: boolean;
}

/** A log gzipped and hashed, ready to go up. */
interface PreparedLog {
  sha256: string;
  size: number;
  body: Body;
  /** SHA-256 of the gzip bytes. */
  gzSha256: string;
  gzSize: number;
  /** A temp file to remove afterwards. */
  tmp?: string;
}

/**
 * Upload the log file of `logId` unless its blob is already there (and
 * fresh: a blob older than half the gc grace period is uploaded again, so a
 * concurrent `sync gc` never takes a blob a new record names).
 */
export async function uploadLog(
  ctx: SyncContext,
  logId: string,
): Promise<LogUpload | null> {
  if (!isValidLogId(logId)) return null;
  const log = await prepareLog(ctx, logId);
  if (log === null) return null;
  try {
    const key = logBlobKey(log.sha256);
    let bytes = 0;
    const info = await ctx.bucket.head(key);
    const refreshed = info !== null && isStale(ctx, info.lastModified);
    if (info === null || refreshed) {
      await putLog(ctx, key, log);
      bytes = log.gzSize;
    }
    withStore(
      ctx.dbPath,
      (db) => recordLogBlob(db, logId, { sha256: log.sha256, size: log.size }),
    );
    return { sha256: log.sha256, size: log.size, bytes, refreshed };
  } finally {
    if (log.tmp) removeQuietly(log.tmp);
  }
}

/** Upload a prepared log's gzip as `key`. */
function putLog(ctx: SyncContext, key: string, log: PreparedLog) {
  return ctx.bucket.put(key, log.body, {
    contentType: "application/gzip",
    sha256: log.gzSha256,
    metadata: {
      "stint-content-sha256": log.sha256,
      "stint-size": String(log.size),
    },
    onProgress: (sent, total) =>
      ctx.reporter.progress({
        operation: `upload log ${log.sha256.slice(0, 12)}`,
        done: sent,
        total,
        unit: "bytes",
      }),
  });
}

/**
 * Upload again a blob that `uploadLog` refreshed, if it is gone now: a
 * `sync gc` that read the bucket before the refresh may have deleted it
 * after. Called once the records naming it are up.
 */
export async function ensureLogBlob(
  ctx: SyncContext,
  logId: string,
  sha256: string,
): Promise<boolean> {
  const key = logBlobKey(sha256);
  if ((await ctx.bucket.head(key)) !== null) return false;
  const log = await prepareLog(ctx, logId);
  if (log === null || log.sha256 !== sha256) return false;
  try {
    await putLog(ctx, key, log);
    return true;
  } finally {
    if (log.tmp) removeQuietly(log.tmp);
  }
}

/** Whether a blob last written at `at` (bucket time) is past half the gc grace. */
function isStale(ctx: SyncContext, at: Date | undefined): boolean {
  if (at === undefined) return false;
  return bucketNow(ctx) - at.getTime() > ctx.gcGraceMs / 2;
}

/** Bucket time now, as this host best knows it. */
export function bucketNow(ctx: SyncContext): number {
  const b = ctx.bucket.clock();
  const offset = b === null
    ? 0
    : b.lo <= 0 && 0 <= b.hi
    ? 0
    : b.lo > 0
    ? b.lo
    : b.hi;
  return Date.now() + offset;
}

/**
 * Hash and gzip the log of `logId`: in memory when small, else streamed
 * into a temp file in the state dir. Null when there is no log file.
 */
async function prepareLog(
  ctx: SyncContext,
  logId: string,
): Promise<PreparedLog | null> {
  const path = logPath(ctx.dbPath, logId);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return null; // No log captured (or already removed): nothing to sync.
  }
  let size: number;
  try {
    size = (await file.stat()).size;
  } catch (err) {
    file.close();
    throw err;
  }
  if (size <= SMALL_LOG_BYTES) {
    const content = new Uint8Array(
      await new Response(file.readable).arrayBuffer(),
    );
    const gz = gzipSync(content);
    return {
      sha256: sha256Hex(content),
      size: content.byteLength,
      body: gz,
      gzSha256: sha256Hex(gz),
      gzSize: gz.byteLength,
    };
  }
  const tmp = join(stateDir(ctx.dbPath), `.up-${crypto.randomUUID()}.gz`);
  const raw = createHash("sha256");
  const gz = createHash("sha256");
  let read = 0;
  const short = logId.slice(0, 13);
  const gzSize = await writeNewFile(
    tmp,
    file.readable
      .pipeThrough(counting((n) => {
        read = n;
        ctx.reporter.progress({
          operation: `compress log ${short}`,
          done: n,
          total: size,
          unit: "bytes",
        });
      }))
      .pipeThrough(hashing(raw))
      .pipeThrough(gzipStream())
      .pipeThrough(hashing(gz)),
    { signal: ctx.signal },
  );
  return {
    sha256: raw.digest("hex"),
    size: read,
    body: fileSource(tmp),
    gzSha256: gz.digest("hex"),
    gzSize,
    tmp,
  };
}

/** Own finished runs changed after `after` whose log file exists but has no blob. */
export function logsToUpload(
  ctx: SyncContext,
  host: string,
  after: number,
): string[] {
  const present = new Set<string>();
  try {
    for (const e of Deno.readDirSync(logsDir(ctx.dbPath))) {
      if (e.isFile && e.name.endsWith(".log")) present.add(e.name.slice(0, -4));
    }
  } catch {
    return [];
  }
  if (present.size === 0) return [];
  return withStore(ctx.dbPath, (db) => logsWithoutBlob(db, host, after))
    .filter((id) => present.has(id));
}

/**
 * Fetch the log of `logId` (a run from another host) into the local logs
 * dir. Returns its path, or null when the bucket has no blob for it. The
 * blob is checked as it streams (its SHA-256, then gunzip, then the
 * content's hash and size against the record); a bad one leaves no file.
 */
export async function fetchLog(
  ctx: SyncContext,
  logId: string,
): Promise<string | null> {
  if (!isValidLogId(logId)) return null;
  const blob = withStore(ctx.dbPath, (db) => logBlobOf(db, logId));
  if (blob === null) return null;
  const key = logBlobKey(blob.sha256);
  const corrupt = (why: string) =>
    new BucketError(
      "corrupt",
      `Log blob ${key} in ${ctx.bucket.description} ${why}`,
      { operation: "get", key },
    );
  // gzip of incompressible bytes is a little bigger than the bytes.
  const maxGz = blob.size + Math.ceil(blob.size / 64) + 65536;
  const obj = await ctx.bucket.getStream(key, {
    requireChecksum: true,
    maxBytes: maxGz,
  });
  if (obj === null) return null;
  const path = logPath(ctx.dbPath, logId);
  ensureLogsDir(ctx.dbPath);
  const tmp = `${path}.fetch-${crypto.randomUUID().slice(0, 8)}`;
  const content = createHash("sha256");
  let size: number;
  let inflating = false;
  try {
    size = await writeNewFile(
      tmp,
      obj.body
        .pipeThrough(counting((n) =>
          ctx.reporter.progress({
            operation: `download log ${blob.sha256.slice(0, 12)}`,
            done: n,
            total: obj.size,
            unit: "bytes",
          })
        ))
        .pipeThrough(gunzipStream())
        .pipeThrough(counting(() => inflating = true, {
          max: blob.size,
          tooMany: () =>
            corrupt(`inflates past its recorded ${blob.size} bytes`),
        }))
        .pipeThrough(hashing(content)),
      { signal: ctx.signal },
    );
  } catch (err) {
    if (err instanceof BucketError) throw err;
    throw corrupt(
      inflating ? "is not valid gzip (cut short)" : "is not valid gzip",
    );
  }
  if (size !== blob.size || content.digest("hex") !== blob.sha256) {
    removeQuietly(tmp);
    throw corrupt("does not match its SHA-256");
  }
  Deno.renameSync(tmp, path);
  return path;
}
