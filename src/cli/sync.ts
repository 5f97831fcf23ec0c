/**
 * `stint sync push | pull | restore [--force] | status | gc [--dry-run]`:
 * each step of the sync lifecycle by hand, and the bucket's garbage
 * collection. Unlike the lifecycle inside other commands, these report
 * failures as one line and exit 1. Ctrl-C in the middle of a transfer
 * aborts it and says what went through and what did not (exit 130).
 * @module
 */
import { StintError, UsageError } from "../errors.ts";
import type { SyncConfig, SyncFlags } from "../sync/config.ts";
import type { PushProgress } from "../sync/context.ts";
import { withStore } from "../store/open.ts";
import { clockOffset } from "../store/replication/clock.ts";
import { boolFlag, type FlagSpec, parseFlags, stringFlag } from "./args.ts";
import type { Context } from "./context.ts";
import { eprintln, formatDuration, printJson, println } from "./output.ts";
import { formatBytes } from "../format.ts";

/** Help for `stint sync`. */
export const help = `Usage: stint sync <subcommand> [options]

Move the store to and from an S3-compatible bucket by hand. Commands that
run tasks already do this on their own when a bucket is configured: restore
on a new machine, pull before a run, push every interval and at the end.

Subcommands:
  push [--compact]   Upload this host's changes (and new logs) since the last
                     push; --compact also writes hosts/<host>/snap.db and
                     drops old segments
  pull               Apply other hosts' new changes (with no local store: a
                     restore)
  restore [--force]  Build the local store from the bucket (only when it does
                     not exist, unless --force: rebuilds it, unpushed changes
                     are lost)
  status             Local view: configuration, last push and pull, unpushed
                     changes, failures since the last success, refused
                     objects, cursors (no network; for a probe of the bucket
                     use stint status)
  gc [--dry-run]     Delete log blobs no run names any more (older than the
                     grace period, 48h) and segments a snapshot covers;
                     reports what it freed. Safe while other hosts push or
                     collect. Runs on its own at most once a day after a
                     push that compacts

Options:
  --json             Print the result as JSON
  --bucket <name>    Override STINT_BUCKET
  --endpoint <url>   Override STINT_S3_ENDPOINT
  --region <region>  Override STINT_S3_REGION
  --prefix <prefix>  Override STINT_S3_PREFIX

Configuration (flags > environment > $XDG_CONFIG_HOME/stint/config.json):
  STINT_BUCKET            bucket name; sync is off without one
  STINT_S3_ENDPOINT       S3-compatible endpoint URL (MinIO, R2, Swift);
                          unset = AWS
  STINT_S3_REGION         signing region (default AWS_REGION, else us-east-1)
  STINT_S3_PREFIX         key prefix inside the bucket (default stint/)
  STINT_FLUSH_INTERVAL    seconds between pushes while a task runs (default 30)
  STINT_SYNC_DEADLINE     seconds the pull before a run and the final push may
                          wait for the bucket (default 3; stint sync has none)
  STINT_GC_GRACE          how old an unreferenced object must be before gc
                          deletes it (default 48h)
  STINT_QUIET=1           no sync messages on stderr
  STINT_VERBOSE=1         also report routine successes (like --verbose)
  Credentials come only from the AWS chain (AWS_ACCESS_KEY_ID /
  AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...); stint never stores or prints them.

Exit codes: 0 done, 1 sync not configured or a bucket error (or a corrupt
object was skipped, or gc could not judge the log blobs), 2 usage error,
130 interrupted (Ctrl-C; what went through is kept).

Examples:
  stint sync push
  stint sync pull --json
  STINT_BUCKET=team-stint stint sync restore
  stint sync status
  stint sync gc --dry-run`;

const COMMON: FlagSpec = {
  json: { type: "boolean" },
  bucket: { type: "string" },
  endpoint: { type: "string" },
  region: { type: "string" },
  prefix: { type: "string" },
};

/** Run `stint sync`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "push":
      return await push(rest, ctx);
    case "pull":
      return await pull(rest, ctx);
    case "restore":
      return await restore(rest, ctx);
    case "status":
      return await status(rest, ctx);
    case "gc":
      return await gc(rest, ctx);
    case undefined:
      throw new UsageError(
        "stint sync needs a subcommand: push, pull, restore, status or gc (see stint sync --help)",
      );
    default:
      throw new UsageError(
        `Unknown subcommand "${sub}" for stint sync; use push, pull, restore, status or gc`,
      );
  }
}

function flagsOf(p: ReturnType<typeof parseFlags>): SyncFlags {
  return {
    bucket: stringFlag(p, "bucket"),
    endpoint: stringFlag(p, "endpoint"),
    region: stringFlag(p, "region"),
    prefix: stringFlag(p, "prefix"),
  };
}

async function loadConfig(
  flags: SyncFlags,
  options?: { required?: boolean },
): Promise<SyncConfig | null> {
  const spec = "../sync/config.ts";
  const { loadSyncConfig } = await import(
    spec
  ) as typeof import("../sync/config.ts");
  const { config, warnings } = loadSyncConfig({ flags });
  for (const w of warnings) eprintln(`Warning: ${w}`);
  if (config === null && (options?.required ?? true)) {
    throw new StintError(
      "Sync is not configured: set STINT_BUCKET (and STINT_S3_ENDPOINT for a non-AWS server) or pass --bucket; see stint sync --help",
    );
  }
  return config;
}

async function openEngine(ctx: Context, config: SyncConfig) {
  const engineSpec = "../sync/engine.ts";
  const reporterSpec = "../sync/reporter.ts";
  const openSpec = "../sync/open.ts";
  const stateSpec = "../sync/state.ts";
  const [{ SyncEngine }, { makeReporter }, { openBucket }, { SyncMeta }] =
    await Promise.all([
      import(engineSpec) as Promise<typeof import("../sync/engine.ts")>,
      import(reporterSpec) as Promise<typeof import("../sync/reporter.ts")>,
      import(openSpec) as Promise<typeof import("../sync/open.ts")>,
      import(stateSpec) as Promise<typeof import("../sync/state.ts")>,
    ]);
  const bucket = openBucket(config, { clockOffsetMs: storedOffset(ctx) });
  const reporter = makeReporter({
    quiet: ctx.quiet,
    stderrIsTty: ctx.stderrIsTty,
    color: ctx.stderrIsTty && !Deno.env.get("NO_COLOR"),
  });
  const meta = SyncMeta.of(config);
  return {
    engine: new SyncEngine(ctx.dbPath, {
      bucket,
      reporter,
      meta,
      staleAfterMs: 4 * config.flushIntervalMs,
      gcGraceMs: config.gcGraceMs,
    }),
    bucket,
  };
}

/** The bucket offset this store measured before, to sign requests with. */
function storedOffset(ctx: Context): number | undefined {
  if (!storeExists(ctx.dbPath)) return undefined;
  try {
    return withStore(ctx.dbPath, clockOffset, { readOnly: true }) ||
      undefined;
  } catch {
    return undefined;
  }
}

function storeExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function where(config: SyncConfig): string {
  return `s3://${config.bucket}/${config.prefix}`;
}

async function push(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, { ...COMMON, compact: { type: "boolean" } }, {
    command: "sync push",
    max: 0,
  });
  const config = (await loadConfig(flagsOf(p)))!;
  try {
    Deno.statSync(ctx.dbPath);
  } catch {
    // Creating an empty store here would only hide the bucket from restore.
    println(`Nothing to push: the store ${ctx.dbPath} does not exist yet`);
    return 0;
  }
  const { engine, bucket } = await openEngine(ctx, config);
  const { newPushProgress } = await import("../sync/context.ts");
  const progress = newPushProgress();
  try {
    const r = await interruptible(
      (signal) =>
        engine.push({ compact: boolFlag(p, "compact"), signal, progress }),
      () => interruptedPush(progress),
    );
    if (r === null) return 130;
    if (boolFlag(p, "json")) {
      printJson({
        pushed: r.pushed,
        records: r.records,
        logs: r.logs,
        bytes: r.bytes,
        snapshot: r.snapshot,
        seq: r.seq,
        key: r.key ?? null,
        duration_ms: r.durationMs,
        requests: bucket.requestCount,
      });
    } else if (!r.pushed) {
      println(`Nothing to push; ${where(config)} is up to date`);
    } else {
      println(
        `Pushed ${r.records} change(s)${r.logs ? ` and ${r.logs} log(s)` : ""}${
          r.snapshot ? " with a snapshot" : ""
        } (${formatBytes(r.bytes)}) to ${where(config)} in ${
          formatDuration(r.durationMs)
        }`,
      );
    }
    return 0;
  } finally {
    await bucket.close();
  }
}

function reportProblems(
  r: { corrupt: string[]; reasons: Record<string, string>; problems: string[] },
  config: SyncConfig,
): void {
  for (const key of r.corrupt) {
    eprintln(
      `Warning: skipped corrupt object ${config.prefix}${key}: ${
        r.reasons[key] ?? "checksum or format check failed"
      }`,
    );
  }
  for (const line of r.problems) eprintln(`Warning: ${line}`);
}

async function pull(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, COMMON, { command: "sync pull", max: 0 });
  const config = (await loadConfig(flagsOf(p)))!;
  // No store yet: a pull of everything is a restore (which makes the file
  // only if the bucket can be read).
  if (!storeExists(ctx.dbPath)) {
    return await restore(args, ctx, {
      asPull: boolFlag(p, "json") ? "json" : "text",
    });
  }
  const { engine, bucket } = await openEngine(ctx, config);
  try {
    const r = await interruptible(
      (signal) => engine.pull({ signal }),
      () =>
        "Interrupted: what was applied stays applied; stint sync pull fetches the rest",
    );
    if (r === null) return 130;
    reportProblems(r, config);
    if (boolFlag(p, "json")) {
      printJson({
        hosts: r.hosts,
        applied: r.applied,
        segments: r.segments,
        snapshots: r.snapshots,
        corrupt: r.corrupt,
        problems: r.problems,
        duration_ms: r.durationMs,
      });
    } else {
      println(
        `Pulled ${r.applied} change(s) from ${r.hosts} host(s) (${r.segments} segment(s), ${r.snapshots} snapshot(s)) from ${
          where(config)
        }`,
      );
    }
    return r.corrupt.length > 0 ? 1 : 0;
  } finally {
    await bucket.close();
  }
}

async function restore(
  args: string[],
  ctx: Context,
  options: { asPull?: "json" | "text" } = {},
): Promise<number> {
  const p = parseFlags(args, { ...COMMON, force: { type: "boolean" } }, {
    command: options.asPull ? "sync pull" : "sync restore",
    max: 0,
  });
  const config = (await loadConfig(flagsOf(p)))!;
  const { engine, bucket } = await openEngine(ctx, config);
  try {
    const r = await interruptible(
      (signal) => engine.restore({ force: boolFlag(p, "force"), signal }),
      () =>
        `Interrupted: nothing was restored (${ctx.dbPath} is as it was); run stint sync restore again`,
    );
    if (r === null) return 130;
    reportProblems(r, config);
    if (r.raced) {
      throw new StintError(
        `Another stint process created ${ctx.dbPath} while the restore ran; nothing was replaced (run stint sync pull to catch up)`,
      );
    }
    if (!r.restored && options.asPull) {
      // A pull with no store and nothing in the bucket has nothing to do.
      if (options.asPull === "json") {
        printJson({
          hosts: 0,
          applied: 0,
          segments: 0,
          snapshots: 0,
          corrupt: [],
          problems: [],
          duration_ms: r.durationMs,
        });
      } else {println(
          `Nothing to pull: ${where(config)} holds no stint data yet`,
        );}
      return 0;
    }
    if (!r.restored) {
      throw new StintError(
        `Nothing to restore: ${where(config)} holds no stint data yet`,
      );
    }
    if (boolFlag(p, "json")) {
      printJson({
        restored: r.restored,
        path: ctx.dbPath,
        host_id: r.hostId,
        hosts: r.hosts,
        applied: r.applied,
        segments: r.segments,
        snapshots: r.snapshots,
        corrupt: r.corrupt,
        problems: r.problems,
        duration_ms: r.durationMs,
      });
    } else {
      println(
        `Restored ${ctx.dbPath} from ${
          where(config)
        }: ${r.applied} record(s) from ${r.hosts} host(s) in ${
          formatDuration(r.durationMs)
        }`,
      );
    }
    return r.corrupt.length > 0 ? 1 : 0;
  } finally {
    await bucket.close();
  }
}

async function gc(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, { ...COMMON, "dry-run": { type: "boolean" } }, {
    command: "sync gc",
    max: 0,
  });
  const config = (await loadConfig(flagsOf(p)))!;
  const dryRun = boolFlag(p, "dry-run");
  const { engine, bucket } = await openEngine(ctx, config);
  try {
    // What the runs name is judged on the store: a machine without one
    // restores it first.
    if (!storeExists(ctx.dbPath)) {
      const restored = await engine.restore();
      if (!restored.restored) {
        println(`Nothing to collect: ${where(config)} holds no stint data yet`);
        return 0;
      }
    }
    const r = await interruptible(
      (signal) => engine.gc({ dryRun, signal }),
      () =>
        "Interrupted: what was deleted is gone, nothing else was touched; stint sync gc carries on from scratch",
    );
    if (r === null) return 130;
    if (boolFlag(p, "json")) {
      printJson({
        dry_run: r.dryRun,
        blobs: r.blobs,
        referenced: r.referenced,
        young: r.young,
        deleted_blobs: r.deletedBlobs,
        blob_bytes: r.blobBytes,
        deleted_segments: r.deletedSegments,
        segment_bytes: r.segmentBytes,
        freed_bytes: r.blobBytes + r.segmentBytes,
        skipped: r.skipped ?? null,
        grace_ms: r.graceMs,
        duration_ms: r.durationMs,
      });
    } else {
      const verb = r.dryRun ? "Would delete" : "Deleted";
      println(
        `${verb} ${r.deletedBlobs} log blob(s) (${
          formatBytes(r.blobBytes)
        }) and ${r.deletedSegments} covered segment(s) (${
          formatBytes(r.segmentBytes)
        }) in ${
          where(config)
        }; kept ${r.referenced} blob(s) runs still name and ${r.young} unreferenced one(s) younger than ${
          formatGrace(r.graceMs)
        }`,
      );
    }
    if (r.skipped !== undefined) {
      eprintln(
        `Warning: no log blob was deleted: ${r.skipped}; see stint status`,
      );
      return 1;
    }
    return 0;
  } finally {
    await bucket.close();
  }
}

/**
 * Run `fn` with a signal that Ctrl-C (SIGINT) fires: the transfer in
 * flight is aborted (a multipart upload too, on the server), `message()`
 * says what went through, and null is returned (exit 130). A second Ctrl-C
 * exits at once.
 */
async function interruptible<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  message: () => string,
): Promise<T | null> {
  const controller = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) Deno.exit(130);
    interrupted = true;
    controller.abort(new StintError("Interrupted"));
  };
  try {
    Deno.addSignalListener("SIGINT", onSigint);
  } catch {
    // No signals here (Windows without a console): not interruptible.
  }
  try {
    return await fn(controller.signal);
  } catch (err) {
    if (!interrupted) throw err;
    eprintln(message());
    return null;
  } finally {
    try {
      Deno.removeSignalListener("SIGINT", onSigint);
    } catch {
      // never added
    }
  }
}

/** A grace period as `48h`, `90m`, `5s`. */
function formatGrace(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

/** What an interrupted push did and did not send. */
function interruptedPush(p: PushProgress): string {
  const sent: string[] = [];
  const unsent: string[] = [];
  if (p.logsTotal > 0) {
    sent.push(`${p.logsDone} of ${p.logsTotal} log(s)`);
    if (p.logsDone < p.logsTotal) {
      unsent.push(`${p.logsTotal - p.logsDone} log(s)`);
    }
  }
  const changes = `${p.records} change(s)`;
  if (p.segment) sent.push(`the segment of ${changes}`);
  else if (p.snapshot) sent.push(`a snapshot of ${changes}`);
  else if (p.records > 0) unsent.push(`${changes}`);
  if (p.segment && !p.snapshot && p.logsDone === p.logsTotal) {
    // Interrupted while compacting: the changes are up, the snapshot is not.
    unsent.push("the snapshot (the next push compacts)");
  }
  return `Interrupted: pushed ${
    sent.length ? sent.join(" and ") : "nothing"
  } (${formatBytes(p.bytes)})${
    unsent.length ? `; not pushed: ${unsent.join(" and ")}` : ""
  }; nothing is lost, stint sync push sends the rest`;
}

async function status(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, COMMON, { command: "sync status", max: 0 });
  const config = await loadConfig(flagsOf(p), { required: false });
  const { syncStatus } = await import("./sync_status.ts");
  return syncStatus(ctx, config, { json: boolFlag(p, "json") });
}
