/**
 * The sync operations for one store file and one bucket: a thin facade over
 * `push.ts`, `pull.ts`, `restore.ts` and `logs.ts`, holding what they share
 * (the bucket, the reporter, the location's state, session totals).
 * @module
 */
import { removeStaleTempFiles } from "../store/maintenance.ts";
import { transaction, withStore } from "../store/open.ts";
import { recordClockBounds } from "../store/replication/clock.ts";
import type { Bucket } from "./bucket.ts";
import { abortable } from "./deadline.ts";
import {
  type CompactionPolicy,
  fileExists,
  type ListingOptions,
  type PushProgress,
  type SyncContext,
  type SyncTotals,
} from "./context.ts";
import { type HostListing, listHosts } from "./layout.ts";
import { collectGarbage, type GcResult } from "./gc.ts";
import { fetchLog } from "./logs.ts";
import { pull, type PullResult } from "./pull.ts";
import { push, type PushResult } from "./push.ts";
import {
  errorKind,
  errorMessage,
  SilentReporter,
  type SyncReporter,
} from "./reporter.ts";
import { BucketError } from "./bucket.ts";
import { restore, type RestoreResult } from "./restore.ts";
import { SyncMeta, type SyncOperation } from "./state.ts";
import { DEFAULT_GC_GRACE_MS } from "./config.ts";

export type { GcResult, PullResult, PushResult, RestoreResult };

/** An automatic gc runs at most this often per host (after a compaction). */
export const AUTO_GC_EVERY_MS = 24 * 3_600_000;
/** ... and an automatic gc that did not finish is tried again after this. */
export const AUTO_GC_RETRY_MS = 3_600_000;

/** A pull that completed but refused objects or found a gap is still a failure to show. */
function pullProblem(r: PullResult): BucketError | null {
  if (r.corrupt.length > 0) {
    const first = r.corrupt[0];
    return new BucketError(
      "corrupt",
      `${r.corrupt.length} object(s) refused as corrupt; the rest was applied (${
        r.reasons[first] ?? first
      })`,
      { operation: "pull", key: first },
    );
  }
  if (r.problems.length > 0) {
    return new BucketError("missing", r.problems[0], { operation: "pull" });
  }
  return null;
}

/** Tuning and collaborators for {@linkcode SyncEngine}. */
export interface SyncEngineOptions extends Partial<CompactionPolicy> {
  /** Where objects go. */
  bucket: Bucket;
  /** Where progress and errors go (default: silent). */
  reporter?: SyncReporter;
  /** What sync remembers for this bucket location (default: the legacy keys). */
  meta?: SyncMeta;
  /** Other hosts' runs count as lost after this long without a write (default 2 min). */
  staleAfterMs?: number;
  /** The gc grace period (default {@linkcode DEFAULT_GC_GRACE_MS}). */
  gcGraceMs?: number;
}

/** The sync operations for one store file and one bucket. */
export class SyncEngine {
  /** The store file. */
  readonly dbPath: string;
  /** The bucket. */
  readonly bucket: Bucket;
  /** The reporter. */
  readonly reporter: SyncReporter;
  /** Totals for the session summary. */
  readonly totals: SyncTotals = {
    pushes: 0,
    bytes: 0,
    records: 0,
    globalWrites: 0,
    errors: 0,
  };
  #ctx: SyncContext;
  #adopted = false;
  #savedBounds: { lo: number; hi: number } | null = null;

  /** Bind a store file to a bucket. */
  constructor(dbPath: string, options: SyncEngineOptions) {
    this.dbPath = dbPath;
    this.bucket = options.bucket;
    this.reporter = options.reporter ?? new SilentReporter();
    this.#ctx = {
      dbPath,
      bucket: this.bucket,
      reporter: this.reporter,
      meta: options.meta ?? new SyncMeta(),
      policy: {
        snapshotRecords: options.snapshotRecords ?? 20_000,
        compactSegments: options.compactSegments ?? 64,
        compactBytes: options.compactBytes ?? 16 * 1024 * 1024,
      },
      totals: this.totals,
      staleAfterMs: options.staleAfterMs ?? 120_000,
      gcGraceMs: options.gcGraceMs ?? DEFAULT_GC_GRACE_MS,
    };
    // Temp files (.restore-*, .pull-*, .snap-*) a killed sync left behind.
    removeStaleTempFiles(dbPath);
  }

  /** The context of one operation: its requests bound to `signal`, if given. */
  #op(signal?: AbortSignal): SyncContext {
    return signal
      ? { ...this.#ctx, bucket: abortable(this.bucket, signal), signal }
      : this.#ctx;
  }

  /** What sync remembers for this bucket location. */
  get meta(): SyncMeta {
    return this.#ctx.meta;
  }

  /**
   * Push this host's changes if there are any (no request when nothing
   * changed). A push that compacted also collects the bucket's garbage,
   * at most once a day ({@linkcode AUTO_GC_EVERY_MS}); its failure is
   * reported, never the push's.
   */
  async push(
    options?: {
      compact?: boolean;
      signal?: AbortSignal;
      progress?: PushProgress;
    },
  ): Promise<PushResult> {
    this.#adoptLegacy();
    let r: PushResult;
    try {
      r = await push(this.#op(options?.signal), options);
      // An idle push touches nothing: no request, and no write here either.
      this.#settle("push", r.pushed ? null : undefined);
    } catch (err) {
      this.#settle("push", err);
      throw err;
    }
    if (r.snapshot) await this.#autoGc(options?.signal);
    return r;
  }

  /**
   * `stint sync gc`: push this host's changes (its tombstones must be in
   * the bucket before their blobs can go), then collect (see `gc.ts`).
   */
  async gc(
    options: { dryRun?: boolean; signal?: AbortSignal } = {},
  ): Promise<GcResult> {
    if (!options.dryRun) await this.push({ signal: options.signal });
    const r = await collectGarbage(this.#op(options.signal), options);
    if (!options.dryRun && r.skipped === undefined) {
      withStore(this.dbPath, (db) => this.meta.markGcDone(db));
    }
    return r;
  }

  /** The daily gc of a host that compacts, when it is this process's turn. */
  async #autoGc(signal?: AbortSignal): Promise<void> {
    try {
      const turn = withStore(this.dbPath, (db) =>
        this.meta.takeGcTurn(db, {
          everyMs: AUTO_GC_EVERY_MS,
          retryMs: AUTO_GC_RETRY_MS,
        }));
      if (!turn) return;
      const r = await collectGarbage(this.#op(signal));
      if (r.skipped === undefined) {
        withStore(this.dbPath, (db) => this.meta.markGcDone(db));
      }
    } catch (err) {
      this.totals.errors++;
      this.reporter.error(err);
    }
  }

  /** Apply other hosts' new snapshots and segments. */
  async pull(options: ListingOptions = {}): Promise<PullResult> {
    this.#adoptLegacy();
    try {
      const r = await pull(this.#op(options.signal), options);
      this.#settle("pull", pullProblem(r));
      return r;
    } catch (err) {
      this.#settle("pull", err);
      throw err;
    }
  }

  /**
   * After an operation, in one write to the store (none when there is
   * nothing new): keep what the bucket's answers said about its clock, so
   * this and later processes stamp writes in bucket time; and keep `op`'s
   * failure until a later success of the same kind (`null`: it succeeded;
   * `undefined`: nothing to say), for `stint status`. Never throws.
   */
  #settle(op: SyncOperation, err: unknown): void {
    const bounds = this.bucket.clock();
    const clockNews = bounds !== null &&
      (bounds.lo !== this.#savedBounds?.lo ||
        bounds.hi !== this.#savedBounds?.hi);
    if ((!clockNews && err === undefined) || !fileExists(this.dbPath)) return;
    try {
      withStore(this.dbPath, (db) =>
        transaction(db, () => {
          if (clockNews) recordClockBounds(db, bounds!);
          if (err === null) {
            if (this.meta.failures(db)[op]) this.meta.clearFailure(db, op);
          } else if (err !== undefined) {
            this.meta.recordFailure(db, op, {
              at: Date.now(),
              kind: errorKind(err),
              message: errorMessage(err),
            });
          }
        }));
      if (clockNews) this.#savedBounds = bounds;
    } catch {
      // The store itself may be the problem; the reporter has the error.
    }
  }

  /** Move cursors written before they were kept per location (once). */
  #adoptLegacy(): void {
    if (this.#adopted || !fileExists(this.dbPath)) return;
    withStore(this.dbPath, (db) => this.#ctx.meta.adoptLegacy(db));
    this.#adopted = true;
  }

  /** Build the local file from the bucket (an existing one needs `force`). */
  async restore(
    options: { force?: boolean } & ListingOptions = {},
  ): Promise<RestoreResult> {
    try {
      const r = await restore(this.#op(options.signal), options);
      // A restore that failed left no file to keep its failure in, unless
      // it was --force on an existing one.
      if (r.restored) this.#settle("restore", null);
      return r;
    } catch (err) {
      this.#settle("restore", err);
      throw err;
    }
  }

  /** Every host's segments and snapshot, from one listing. */
  listHosts(): Promise<Map<string, HostListing>> {
    return listHosts(this.bucket);
  }

  /** Fetch another host's log into the local logs dir; null when the bucket has none. */
  fetchLog(logId: string): Promise<string | null> {
    return fetchLog(this.#ctx, logId);
  }
}
