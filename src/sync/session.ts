/**
 * The sync lifecycle (spec section 6) around one command: start (restore a
 * missing file, else pull when asked), a flush loop while the command runs,
 * and one final push. Sync errors go to the reporter and never into the
 * command's result or exit code.
 * @module
 */
import { withStore } from "../store/open.ts";
import { hostId } from "../store/meta.ts";
import { clockOffset } from "../store/replication/clock.ts";
import type { Bucket } from "./bucket.ts";
import { displayEndpoint, type SyncConfig } from "./config.ts";
import { SyncEngine } from "./engine.ts";
import {
  errorKind,
  errorMessage,
  makeReporter,
  type StartInfo,
  type SyncReporter,
} from "./reporter.ts";
import { openBucket } from "./open.ts";
import { SyncMeta } from "./state.ts";

/** What the lifecycle needs to know about the command. */
export interface SessionContext {
  /** The store file. */
  dbPath: string;
  /** `--quiet` / `STINT_QUIET=1`. */
  quiet: boolean;
  /** Whether stderr is a terminal (rich reporter). */
  stderrIsTty: boolean;
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
  /** Stop the loop, push once more, report the summary. Runs once. */
  stop(): Promise<void>;
}

/**
 * Also keep the last error in the store (`sync status` shows it), so a
 * failure is not lost when the reporter is silent (cron, CI, --quiet).
 */
function recordingErrors(
  dbPath: string,
  meta: SyncMeta,
  inner: SyncReporter,
): SyncReporter {
  return {
    start: (i) => inner.start(i),
    flush: (i) => inner.flush(i),
    warn: (m) => inner.warn(m),
    progress: (i) => inner.progress(i),
    stop: (i) => inner.stop(i),
    error(err: unknown): void {
      inner.error(err);
      if (!fileExists(dbPath)) return;
      try {
        withStore(dbPath, (db) =>
          meta.recordError(db, {
            at: Date.now(),
            kind: errorKind(err),
            message: errorMessage(err),
          }));
      } catch {
        // The store itself may be the problem; the reporter has it.
      }
    },
  };
}

/** A clock off by more than this gets a word when it writes global values. */
export const SKEW_WARN_MS = 60_000;

/**
 * Why this machine's clock deserves a word, when the command wrote global
 * vars or cache entries and the measured offset is beyond {@linkcode SKEW_WARN_MS}.
 * Their stamps are in bucket time anyway; other tools on the machine are not.
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

function fileExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Start a session: restore or pull, then (optionally) the flush loop. */
export async function startSyncSession(
  ctx: SessionContext,
  options: SessionOptions,
): Promise<SyncSession> {
  const meta = SyncMeta.of(options.config);
  const reporter = recordingErrors(
    ctx.dbPath,
    meta,
    options.reporter ??
      makeReporter({ quiet: ctx.quiet, stderrIsTty: ctx.stderrIsTty }),
  );
  for (const w of options.warnings ?? []) reporter.warn(w);
  const config = options.config;
  const ownBucket = options.bucket === undefined;
  const bucket = options.bucket ?? openBucket(config, {
    requestTimeoutMs: 10_000,
    totalTimeoutMs: 15_000,
  });
  const engine = new SyncEngine(ctx.dbPath, { bucket, reporter, meta });
  const info: StartInfo = {
    endpoint: config.endpoint ? displayEndpoint(config.endpoint) : undefined,
    bucket: config.bucket,
    prefix: config.prefix,
    hostId: "",
    action: "none",
  };
  try {
    if (!fileExists(ctx.dbPath)) {
      const r = await engine.restore();
      if (r.restored) {
        info.action = "restored";
        info.records = r.applied;
        info.hosts = r.hosts;
      } else if (r.raced) {
        // Another process created the file first: catch up by pulling.
        const p = await engine.pull();
        info.action = "pulled";
        info.records = p.applied;
        info.hosts = p.hosts;
      }
      for (const p of r.problems) reporter.warn(p);
    } else if (options.pull) {
      const r = await engine.pull();
      info.action = "pulled";
      info.records = r.applied;
      info.hosts = r.hosts;
      for (const p of r.problems) reporter.warn(p);
    }
  } catch (err) {
    engine.totals.errors++;
    reporter.error(err);
  }
  try {
    info.hostId = withStore(ctx.dbPath, hostId);
  } catch {
    info.hostId = "(unknown)";
  }
  reporter.start(info);

  let inflight: Promise<void> | null = null;
  const flush = (): Promise<void> => {
    if (inflight) return inflight;
    inflight = engine.push().then(
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
  let timer: ReturnType<typeof setInterval> | undefined;
  if (options.flushLoop) {
    timer = setInterval(() => {
      // The loop never dies: flush() reports its own errors.
      flush();
    }, config.flushIntervalMs);
  }
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    if (stopping) return stopping;
    stopping = (async () => {
      if (timer !== undefined) clearInterval(timer);
      if (inflight) await inflight;
      await flush();
      const skew = skewWarning(ctx.dbPath, engine.totals.globalWrites);
      if (skew) reporter.warn(skew);
      reporter.stop({ ...engine.totals });
      // An injected bucket belongs to the caller.
      if (ownBucket) await bucket.close().catch(() => {});
    })();
    return stopping;
  };
  return { engine, flush, stop };
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
