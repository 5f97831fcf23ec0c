/**
 * The sync lifecycle (spec section 6) around one command: start (restore a
 * missing file, complete a restore still owed, else pull when asked), a
 * flush loop while the command runs, and one final push. Sync errors go to
 * the reporter and never into the command's result or exit code.
 *
 * Waits are bounded: the start step of a run or a write and the final push
 * each have the configured deadline (default 3 s); a reading command's
 * restore must get its first answer within it, then takes as long as the
 * data does. A store is created only by a successful restore, or by the
 * command itself once the bucket is known to hold nothing for us; when the
 * bucket cannot be read, a writing command goes on and owes a restore
 * (`pending.ts`), a reading one fails without creating anything.
 * @module
 */
import { StintError } from "../errors.ts";
import { hostId } from "../store/meta.ts";
import { withStore } from "../store/open.ts";
import { ensurePrivateDir, stateDir } from "../store/paths.ts";
import { clockOffset } from "../store/replication/clock.ts";
import type { Bucket } from "./bucket.ts";
import { displayEndpoint, type SyncConfig } from "./config.ts";
import { fileExists } from "./context.ts";
import { deadlineError, withDeadline } from "./deadline.ts";
import { type RestoreResult, SyncEngine } from "./engine.ts";
import { openBucket } from "./open.ts";
import {
  clearRestorePending,
  markRestorePending,
  restorePending,
} from "./pending.ts";
import {
  errorMessage,
  makeReporter,
  type StartInfo,
  type SyncReporter,
} from "./reporter.ts";
import { SyncMeta } from "./state.ts";

/** What the lifecycle needs to know about the command. */
export interface SessionContext {
  /** The store file. */
  dbPath: string;
  /** `--quiet` / `STINT_QUIET=1`. */
  quiet: boolean;
  /** Whether stderr is a terminal (rich reporter). */
  stderrIsTty: boolean;
  /** `--verbose`: report routine successes too. */
  verbose?: boolean;
}

/** How to run the session. */
export interface SessionOptions {
  /** Pull other hosts' changes at start (commands that run tasks). */
  pull: boolean;
  /** Push every interval while the command runs. */
  flushLoop: boolean;
  /** The resolved configuration. */
  config: SyncConfig;
  /** Configuration warnings to report once. */
  warnings?: string[];
  /** Reporter (default: rich on a TTY, else silent). */
  reporter?: SyncReporter;
  /** Bucket (default: S3 from `config`). */
  bucket?: Bucket;
}

/** A running session: `stop` is idempotent. */
export interface SyncSession {
  /** The engine (for tests and `stint sync`). */
  readonly engine: SyncEngine;
  /** Push now unless a push is already running (the flush loop's tick). */
  flush(): Promise<void>;
  /** Stop the loop, push once more (within the deadline), report. Runs once. */
  stop(): Promise<void>;
}

/** A clock off by more than this gets a word when it writes global values. */
export const SKEW_WARN_MS = 60_000;

/** The bucket and engine of one session. */
function openSession(ctx: SessionContext, options: SessionOptions) {
  const reporter = options.reporter ??
    makeReporter({
      quiet: ctx.quiet,
      stderrIsTty: ctx.stderrIsTty,
      verbose: ctx.verbose,
      // A task writes to the terminal while the flush loop runs.
      progress: !options.flushLoop,
    });
  for (const w of options.warnings ?? []) reporter.warn(w);
  const config = options.config;
  // Sign requests in the bucket's time when it is known (a clock far off
  // would otherwise be refused by servers that check SigV4 dates).
  const bucket = options.bucket ?? openBucket(config, {
    requestTimeoutMs: 10_000,
    totalTimeoutMs: 15_000,
    clockOffsetMs: storedOffset(ctx.dbPath),
  });
  const engine = new SyncEngine(ctx.dbPath, {
    bucket,
    reporter,
    meta: SyncMeta.of(config),
    staleAfterMs: 4 * config.flushIntervalMs,
    gcGraceMs: config.gcGraceMs,
  });
  return { reporter, bucket, engine, ownBucket: options.bucket === undefined };
}

/** Start a session: restore or pull, then (optionally) the flush loop. */
export async function startSyncSession(
  ctx: SessionContext,
  options: SessionOptions,
): Promise<SyncSession> {
  const { reporter, bucket, engine, ownBucket } = openSession(ctx, options);
  const config = options.config;
  const info: StartInfo = {
    endpoint: config.endpoint ? displayEndpoint(config.endpoint) : undefined,
    bucket: config.bucket,
    prefix: config.prefix,
    hostId: "",
    action: "none",
  };
  try {
    await startStep(ctx, options, engine, info);
  } catch (err) {
    engine.totals.errors++;
    reporter.error(err);
  }
  if (fileExists(ctx.dbPath)) {
    try {
      info.hostId = withStore(ctx.dbPath, hostId, { readOnly: true });
    } catch {
      info.hostId = "(unknown)";
    }
  }
  reporter.start(info);
  return loop(ctx, options, { reporter, bucket, engine, ownBucket });
}

/**
 * Restore a missing store (a store that cannot be restored now is owed a
 * restore), complete an owed restore, or pull before a run; each within the
 * deadline.
 */
async function startStep(
  ctx: SessionContext,
  options: SessionOptions,
  engine: SyncEngine,
  info: StartInfo,
): Promise<void> {
  // The deadline counts from the start of the process: loading this code
  // and the SDK is part of how late the command's work begins.
  const deadlineMs = Math.max(
    options.config.deadlineMs / 10,
    options.config.deadlineMs - performance.now(),
  );
  const where = engine.bucket.description;
  if (!fileExists(ctx.dbPath)) {
    try {
      const r = await withDeadline(
        deadlineMs,
        () => deadlineError(options.config.deadlineMs, "restore", where),
        (signal) => engine.restore({ signal }),
      );
      for (const p of r.problems) engine.reporter.warn(p);
      if (r.restored) {
        Object.assign(info, {
          action: "restored",
          records: r.applied,
          hosts: r.hosts,
        });
        clearRestorePending(ctx.dbPath);
        return;
      }
      if (!r.raced) return; // The bucket holds nothing for us.
    } catch (err) {
      // The command goes on with a new store; the next one restores.
      ensurePrivateDir(stateDir(ctx.dbPath));
      markRestorePending(ctx.dbPath);
      throw err;
    }
  } else if (!restorePending(ctx.dbPath) && !options.pull) {
    return;
  }
  // Another process created the store first, a restore is owed, or a run
  // is about to start: catch up by pulling.
  const owed = restorePending(ctx.dbPath);
  const r = await withDeadline(
    deadlineMs,
    () => deadlineError(options.config.deadlineMs, "pull", where),
    (signal) => engine.pull({ signal }),
  );
  if (owed) clearRestorePending(ctx.dbPath);
  for (const p of r.problems) engine.reporter.warn(p);
  Object.assign(info, { action: "pulled", records: r.applied, hosts: r.hosts });
}

/** The flush loop and the final push. */
function loop(
  ctx: SessionContext,
  options: SessionOptions,
  s: {
    reporter: SyncReporter;
    bucket: Bucket;
    engine: SyncEngine;
    ownBucket: boolean;
  },
): SyncSession {
  const { reporter, engine } = s;
  const { deadlineMs, flushIntervalMs } = options.config;
  let inflight: Promise<void> | null = null;
  const push = (deadline: boolean): Promise<void> => {
    if (inflight) return inflight;
    if (!fileExists(ctx.dbPath)) return Promise.resolve();
    const run = deadline
      ? withDeadline(
        deadlineMs,
        () => deadlineError(deadlineMs, "push", engine.bucket.description),
        (signal) => engine.push({ signal }),
      )
      : engine.push();
    inflight = run.then(
      () => {},
      (err) => {
        engine.totals.errors++;
        reporter.error(err);
      },
    ).finally(() => {
      inflight = null;
    });
    return inflight;
  };
  // The loop never dies: push() reports its own errors.
  const timer = options.flushLoop
    ? setInterval(() => push(false), flushIntervalMs)
    : undefined;
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (timer !== undefined) clearInterval(timer);
      if (inflight) {
        await Promise.race([
          inflight,
          new Promise((r) => setTimeout(r, deadlineMs)),
        ]);
      }
      if (!inflight) await push(true);
      const skew = skewWarning(ctx.dbPath, engine.totals.globalWrites);
      if (skew) reporter.warn(skew);
      reporter.stop({ ...engine.totals });
      // An injected bucket belongs to the caller.
      if (s.ownBucket) await s.bucket.close().catch(() => {});
    })();
    return stopping;
  };
  return { engine, flush: () => push(false), stop };
}

/**
 * Run `fn` inside a session; the final push runs once after `fn` settles,
 * and its errors never change `fn`'s result.
 */
export async function runInSyncSession<T>(
  ctx: SessionContext,
  options: SessionOptions,
  fn: () => Promise<T>,
): Promise<T> {
  let session: SyncSession | null = null;
  try {
    session = await startSyncSession(ctx, options);
  } catch (err) {
    (options.reporter ?? makeReporter({
      quiet: ctx.quiet,
      stderrIsTty: ctx.stderrIsTty,
    })).error(err);
  }
  try {
    return await fn();
  } finally {
    if (session) {
      try {
        await session.stop();
      } catch {
        // stop() reports its own errors; nothing may escape into the result.
      }
    }
  }
}

/**
 * For a reading command on a machine without a store (or one owed a
 * restore): restore it. A missing store that cannot be restored is an error
 * (one line) and no file is made: the answer would be "nothing", which is
 * not what the bucket holds. The first answer must come within the
 * deadline; after that the restore takes as long as the data does.
 */
export async function restoreForReading(
  ctx: SessionContext,
  options: Omit<SessionOptions, "pull" | "flushLoop">,
): Promise<void> {
  const { reporter, bucket, engine, ownBucket } = openSession(ctx, {
    ...options,
    pull: false,
    flushLoop: false,
  });
  const { deadlineMs } = options.config;
  const owed = fileExists(ctx.dbPath);
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        deadlineError(
          deadlineMs,
          owed ? "pull" : "restore",
          bucket.description,
        ),
      ),
    deadlineMs,
  );
  const listed = () => clearTimeout(timer);
  try {
    const opts = { signal: controller.signal, onListed: listed };
    const r = owed ? await engine.pull(opts) : await engine.restore(opts);
    for (const p of r.problems) reporter.warn(p);
    clearRestorePending(ctx.dbPath);
    if (!owed && (r as RestoreResult).restored) {
      reporter.start({
        endpoint: options.config.endpoint
          ? displayEndpoint(options.config.endpoint)
          : undefined,
        bucket: options.config.bucket,
        prefix: options.config.prefix,
        hostId: (r as RestoreResult).hostId,
        action: "restored",
        records: r.applied,
        hosts: r.hosts,
      });
    }
  } catch (err) {
    if (!owed) {
      throw new StintError(
        `Cannot restore the store from ${bucket.description}: ${
          errorMessage(err)
        }; nothing was created (the next command tries again; unset STINT_BUCKET to work without the bucket)`,
      );
    }
    reporter.error(err);
  } finally {
    clearTimeout(timer);
    if (ownBucket) await bucket.close().catch(() => {});
  }
}

/** The bucket offset this store measured before, if it did. */
function storedOffset(dbPath: string): number | undefined {
  if (!fileExists(dbPath)) return undefined;
  try {
    return withStore(dbPath, clockOffset, { readOnly: true }) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why this machine's clock deserves a word, when the command wrote global
 * vars or cache entries and the measured offset is beyond
 * {@linkcode SKEW_WARN_MS}. Their stamps are in bucket time anyway; other
 * tools on the machine are not.
 */
function skewWarning(dbPath: string, globalWrites: number): string | null {
  if (globalWrites === 0) return null;
  let offset: number;
  try {
    offset = withStore(dbPath, clockOffset, { readOnly: true });
  } catch {
    return null;
  }
  if (Math.abs(offset) <= SKEW_WARN_MS) return null;
  const minutes = Math.round(Math.abs(offset) / 60_000);
  return `This machine's clock is ${minutes}m ${
    offset > 0 ? "behind" : "ahead of"
  } the bucket's; stint stamps vars and cache entries in bucket time, so they still order correctly, but fix the clock (NTP)`;
}
