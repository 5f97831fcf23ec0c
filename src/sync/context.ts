/**
 * What every sync step works with: the store file, the bucket, where to
 * report, and what sync remembers for this bucket location. The engine
 * (`engine.ts`) builds one; `push.ts`, `pull.ts`, `restore.ts`,
 * `compact.ts` and `logs.ts` take it.
 * @module
 */
import type { Bucket } from "./bucket.ts";
import type { SyncReporter } from "./reporter.ts";
import type { SyncMeta } from "./state.ts";
import { SQLITE_SIDE_FILES } from "../store/store_file.ts";

/** Session totals, for the reporter's summary. */
export interface SyncTotals {
  /** Pushes that uploaded something. */
  pushes: number;
  /** Bytes uploaded. */
  bytes: number;
  /** Records pushed. */
  records: number;
  /** Var and cache writes (and deletes) pushed: what the clock orders. */
  globalWrites: number;
  /** Errors reported. */
  errors: number;
}

/** When a push compacts instead of (or after) writing a segment. */
export interface CompactionPolicy {
  /** A push with more records than this writes a snapshot instead. */
  snapshotRecords: number;
  /** Compact after this many segments since the last snapshot. */
  compactSegments: number;
  /** ... or this many segment bytes since the last snapshot. */
  compactBytes: number;
}

/** The collaborators of one sync operation. */
export interface SyncContext {
  /** The store file. */
  dbPath: string;
  /** Where objects go. */
  bucket: Bucket;
  /** Where progress and errors go. */
  reporter: SyncReporter;
  /** What sync remembers about this bucket location. */
  meta: SyncMeta;
  /** Compaction thresholds. */
  policy: CompactionPolicy;
  /** Running totals. */
  totals: SyncTotals;
  /** Other hosts' runs count as lost after this long without a write (ms). */
  staleAfterMs: number;
  /**
   * `sync gc` deletes only unreferenced objects older than this (ms), so a
   * push in flight is never broken; a push uploads again a blob it reuses
   * once it is older than half of it.
   */
  gcGraceMs: number;
  /** Fires when the operation is cut short (a deadline, Ctrl-C); the bucket is bound to it already. */
  signal?: AbortSignal;
}

/**
 * What a push has done so far, kept up to date as it goes, so a push cut
 * short (Ctrl-C, a deadline) can say what went up and what did not.
 */
export interface PushProgress {
  /** Logs of finished runs this push has to upload (known once it looked). */
  logsTotal: number;
  /** Of those, how many are up (uploaded, or already there). */
  logsDone: number;
  /** Changes in the segment or snapshot to go up (known once read). */
  records: number;
  /** Bytes uploaded so far. */
  bytes: number;
  /** The segment, once it is up. */
  segment?: string;
  /** Whether a snapshot is up. */
  snapshot: boolean;
}

/** A push that has done nothing yet. */
export function newPushProgress(): PushProgress {
  return { logsTotal: 0, logsDone: 0, records: 0, bytes: 0, snapshot: false };
}

/** Options of one pull or restore. */
export interface ListingOptions {
  /** Abort the operation's requests when this fires. */
  signal?: AbortSignal;
  /** Called once the bucket answered the listing (the endpoint is alive). */
  onListed?: () => void;
}

/** Report an error that does not stop the operation (counted in totals). */
export function reportError(ctx: SyncContext, err: unknown): void {
  ctx.totals.errors++;
  ctx.reporter.error(err);
}

/** Remove a file if it is there. */
export function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // Already gone.
  }
}

/** Remove a SQLite file and its side files. */
export function removeDatabaseFiles(path: string): void {
  for (const suffix of ["", ...SQLITE_SIDE_FILES]) {
    removeQuietly(path + suffix);
  }
}

/** Whether `path` exists. */
export function fileExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
