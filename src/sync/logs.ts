/**
 * Log files in the bucket: a finished run's log goes up once as
 * `logs/<sha256>.gz` (content-addressed, so it never changes), and a run
 * recorded elsewhere gets its log fetched into the local logs dir.
 * @module
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { withStore } from "../store/open.ts";
import {
  ensureLogsDir,
  isValidLogId,
  logPath,
  logsDir,
} from "../store/paths.ts";
import {
  logBlobOf,
  logsWithoutBlob,
  recordLogBlob,
} from "../store/replication/log_blobs.ts";
import { BucketError } from "./bucket.ts";
import { sha256Hex } from "./checksum.ts";
import type { SyncContext } from "./context.ts";
import { logBlobKey } from "./layout.ts";

/** What uploading one log did. */
export interface LogUpload {
  /** The content hash. */
  sha256: string;
  /** Uncompressed size. */
  size: number;
  /** Bytes sent (0 when the blob was already there). */
  bytes: number;
}

/** Upload the log file of `logId` unless its blob is already there. */
export async function uploadLog(
  ctx: SyncContext,
  logId: string,
): Promise<LogUpload | null> {
  if (!isValidLogId(logId)) return null;
  let content: Uint8Array;
  try {
    content = Deno.readFileSync(logPath(ctx.dbPath, logId));
  } catch {
    return null; // No log captured (or already removed): nothing to sync.
  }
  const sha256 = sha256Hex(content);
  const key = logBlobKey(sha256);
  let bytes = 0;
  if ((await ctx.bucket.head(key)) === null) {
    const body = gzipSync(content);
    await ctx.bucket.put(key, body, {
      contentType: "application/gzip",
      metadata: {
        "stint-content-sha256": sha256,
        "stint-size": String(content.byteLength),
      },
    });
    bytes = body.byteLength;
  }
  withStore(
    ctx.dbPath,
    (db) => recordLogBlob(db, logId, { sha256, size: content.byteLength }),
  );
  return { sha256, size: content.byteLength, bytes };
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
 * dir. Returns its path, or null when the bucket has no blob for it.
 */
export async function fetchLog(
  ctx: SyncContext,
  logId: string,
): Promise<string | null> {
  if (!isValidLogId(logId)) return null;
  const blob = withStore(ctx.dbPath, (db) => logBlobOf(db, logId));
  if (blob === null) return null;
  const key = logBlobKey(blob.sha256);
  const obj = await ctx.bucket.get(key, { requireChecksum: true });
  if (obj === null) return null;
  const corrupt = (why: string) =>
    new BucketError(
      "corrupt",
      `Log blob ${key} in ${ctx.bucket.description} ${why}`,
      { operation: "get", key },
    );
  let content: Uint8Array;
  try {
    content = gunzipSync(obj.body);
  } catch {
    throw corrupt("is not valid gzip");
  }
  if (sha256Hex(content) !== blob.sha256) {
    throw corrupt("does not match its SHA-256");
  }
  const path = logPath(ctx.dbPath, logId);
  ensureLogsDir(ctx.dbPath);
  const tmp = `${path}.fetch-${crypto.randomUUID().slice(0, 8)}`;
  Deno.writeFileSync(tmp, content, { mode: 0o600, createNew: true });
  Deno.renameSync(tmp, path);
  return path;
}
