/**
 * `stint history prune [--older-than <when>] [--keep <n>] [--ref <ref>]
 * [--dry-run] [--yes] [--json]`: delete the finished runs a retention
 * policy lets go, with their log files (`src/store/retention.ts` decides;
 * this module asks, deletes inside the sync session and prints).
 * @module
 */
import { UsageError } from "../errors.ts";
import { parseDuration } from "../store/durations.ts";
import { withStore } from "../store/open.ts";
import { isValidLogId, logPath } from "../store/paths.ts";
import {
  describePolicy,
  planPrune,
  type PruneCandidate,
  pruneRuns,
  removeLogFiles,
  type RetentionPolicy,
} from "../store/retention.ts";
import { reconcileExecutions } from "../store/executions.ts";
import { refArg } from "../tasks/mod.ts";
import { boolFlag, intFlag, parseFlags, stringFlag } from "./args.ts";
import { HISTORY } from "./commands/history.ts";
import { findSubcommand, parseSpec } from "./commands/mod.ts";
import { confirm } from "./confirm.ts";
import type { Context } from "./context.ts";
import { printJson, println, printTable, relativeTime } from "./output.ts";
import { formatBytes } from "../format.ts";
import { readStore } from "./read_store.ts";
import { loadRetentionConfig } from "./retention_config.ts";

/** Run `stint history prune`. */
export async function prune(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(
    args,
    parseSpec(findSubcommand(HISTORY, "prune")!.flags),
    { command: "history prune", max: 0 },
  );
  const policy = policyOf(p);
  if (policy.olderThanMs === null && policy.keep === null) {
    throw new UsageError(
      'Nothing to prune by: automatic retention is off (STINT_RETENTION / "retention"); give --older-than <when> or --keep <n>',
    );
  }
  const ref = refArg(stringFlag(p, "ref"));
  const dryRun = boolFlag(p, "dry-run");
  const json = boolFlag(p, "json");
  const runs = readStore(ctx.dbPath, (db) => {
    reconcileExecutions(db);
    return planPrune(db, policy, { ref }).runs;
  }, () => []);
  const summary = summarise(ctx.dbPath, runs);
  const what = `${describePolicy(policy)}${ref ? ` (ref ${ref})` : ""}`;
  if (dryRun || runs.length === 0) {
    if (json) {
      printJson(toJson(summary, runs, { dryRun: true, policy }));
      return 0;
    }
    if (runs.length === 0) {
      println(`Nothing to prune: no finished run is ${what}`);
      return 0;
    }
    println(
      `Would delete ${count(runs.length, "run")} ${what}, with ${
        count(summary.logs, "log file")
      } here (${formatBytes(summary.logBytes)}):`,
    );
    await printRefs(ctx, summary);
    return 0;
  }
  const ok = confirm(
    `Delete ${count(runs.length, "run")} ${what} and their logs?`,
    { yes: boolFlag(p, "yes"), command: "history prune --yes" },
  );
  if (!ok) {
    println("Nothing deleted");
    return 1;
  }
  const { withSyncSession } = await import("./sync_session.ts");
  const done = await withSyncSession(
    ctx,
    { pull: false, flushLoop: false },
    () => {
      // The records go first, so a crash leaves at most orphan files.
      const r = withStore(ctx.dbPath, (db) => pruneRuns(db, runs));
      const files = removeLogFiles(ctx.dbPath, r.logIds);
      return Promise.resolve({ ...r, ...files });
    },
  );
  if (json) {
    printJson({
      ...toJson(summary, runs, { dryRun: false, policy }),
      runs: done.runs,
      background: done.background,
      logs: done.files,
      log_bytes: done.bytes,
    });
    return 0;
  }
  println(
    `Deleted ${count(done.runs, "run")} ${what} and ${
      count(done.files, "log file")
    } (${formatBytes(done.bytes)})${
      done.background ? `; ${count(done.background, "background record")}` : ""
    }`,
  );
  return 0;
}

/** The flags' policy, or the configured one when neither rule flag is given. */
function policyOf(p: ReturnType<typeof parseFlags>): RetentionPolicy {
  const older = stringFlag(p, "older-than");
  const keep = intFlag(p, "keep", { min: 0 });
  if (older === undefined && keep === undefined) {
    const config = loadRetentionConfig();
    return config.policy ?? { olderThanMs: null, keep: null };
  }
  let olderThanMs: number | null = null;
  if (older !== undefined) {
    olderThanMs = parseDuration(older, "--older-than");
    if (!(olderThanMs > 0)) {
      throw new UsageError(
        `--older-than must be longer than zero, not "${older}"`,
      );
    }
  }
  return { olderThanMs, keep: keep ?? null };
}

interface Summary {
  refs: { ref: string; runs: number; oldest: number; newest: number }[];
  logs: number;
  logBytes: number;
}

/** Per ref: how many runs, the oldest and newest start; log files here and their size. */
function summarise(dbPath: string, runs: PruneCandidate[]): Summary {
  const byRef = new Map<string, Summary["refs"][number]>();
  let logs = 0, logBytes = 0;
  for (const r of runs) {
    const e = byRef.get(r.ref) ??
      { ref: r.ref, runs: 0, oldest: r.startedAt, newest: r.startedAt };
    e.runs++;
    e.oldest = Math.min(e.oldest, r.startedAt);
    e.newest = Math.max(e.newest, r.startedAt);
    byRef.set(r.ref, e);
    if (r.logId && isValidLogId(r.logId)) {
      try {
        const st = Deno.lstatSync(logPath(dbPath, r.logId));
        if (st.isFile) {
          logs++;
          logBytes += st.size;
        }
      } catch {
        // no log here
      }
    }
  }
  return {
    refs: [...byRef.values()].sort((a, b) => b.runs - a.runs),
    logs,
    logBytes,
  };
}

async function printRefs(ctx: Context, s: Summary): Promise<void> {
  const now = Date.now();
  await printTable(
    ctx,
    ["REF", "RUNS", "OLDEST", "NEWEST"],
    s.refs.map((r) => [
      r.ref,
      String(r.runs),
      relativeTime(r.oldest, now),
      relativeTime(r.newest, now),
    ]),
    { flex: [0] },
  );
}

function toJson(
  s: Summary,
  runs: PruneCandidate[],
  o: { dryRun: boolean; policy: RetentionPolicy },
): Record<string, unknown> {
  return {
    dry_run: o.dryRun,
    policy: { older_than_ms: o.policy.olderThanMs, keep: o.policy.keep },
    runs: runs.length,
    logs: s.logs,
    log_bytes: s.logBytes,
    refs: s.refs.map((r) => ({
      ref: r.ref,
      runs: r.runs,
      oldest_started_at: new Date(r.oldest).toISOString(),
      newest_started_at: new Date(r.newest).toISOString(),
    })),
    ids: runs.map((r) => r.id),
  };
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}
