/**
 * `stint history [ref]`, `stint history refs`, `stint history clear <ref>`:
 * the recorded runs, newest first, with every filter applied in SQL.
 * @module
 */
import { NotFoundError, UsageError } from "../errors.ts";
// Individual store modules, not store/mod.ts: every module loaded is
// start-up time, and history is read often (see bench/history_bench.ts).
import {
  deleteHistory,
  type Execution,
  executionToJson,
  listExecutions,
  listRefs,
  reconcileExecutions,
} from "../store/executions.ts";
import { withStore } from "../store/open.ts";
import { readStore } from "./read_store.ts";
import { isValidLogId, logPath } from "../store/paths.ts";
import { resolve } from "../tasks/path.ts";
import { countExecutions, uniqueIdPrefix } from "../store/stats.ts";
import type { Database } from "../store/sqlite.ts";
import {
  boolFlag,
  intFlag,
  type Parsed,
  parseFlags,
  stringFlag,
} from "./args.ts";
import { HISTORY } from "./commands/history.ts";
import { type HistoryFilters, historyQuery } from "../store/history_query.ts";
import {
  type Command,
  findSubcommand,
  parseSpec,
  valuedFlags,
} from "./commands/mod.ts";
import { confirm } from "./confirm.ts";
import type { Context } from "./context.ts";
import { currentProjectDir } from "./here.ts";
import {
  formatDuration,
  NO_RUNS_YET,
  paint,
  paintStatus,
  plainText,
  printJson,
  println,
  printTable,
  relativeTime,
} from "./output.ts";
import { refArg } from "../tasks/mod.ts";

/** Run `stint history`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  // The subcommand may come after options (`history --json refs`); a ref
  // named like one can still be listed with `history -- refs`.
  const at = subcommandAt(args);
  if (at !== -1) {
    const rest = [...args.slice(0, at), ...args.slice(at + 1)];
    if (args[at] === "prune") {
      return (await import("./history_prune.ts")).prune(rest, ctx);
    }
    return args[at] === "refs" ? refs(rest, ctx) : await clear(rest, ctx);
  }
  return await list(args, ctx);
}

/** Where `refs` / `clear` / `prune` is in `args` as the first positional, else -1. */
function subcommandAt(args: string[]): number {
  const valued = valuedFlags(HISTORY.flags);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") return -1;
    if (valued.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith("-") && a !== "-") continue;
    return a === "refs" || a === "clear" || a === "prune" ? i : -1;
  }
  return -1;
}

async function list(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, parseSpec(HISTORY.flags), {
    command: "history",
    max: 1,
  });
  const query = historyQuery({
    ...historyFilters(p),
    ref: refArg(p.positionals[0]),
    limit: intFlag(p, "limit", { min: 1 }),
    all: boolFlag(p, "all"),
  });
  const { runs, ids } = readStore<
    { runs: Execution[]; ids: Map<string, string> }
  >(ctx.dbPath, (db) => {
    reconcileExecutions(db);
    const runs = listExecutions(db, query);
    return { runs, ids: shortIds(db, runs) };
  }, () => ({ runs: [], ids: new Map() }));
  if (boolFlag(p, "json")) {
    printJson(runs.map(executionToJson));
    return 0;
  }
  if (runs.length === 0) {
    println(emptyMessage(p));
    return 0;
  }
  const now = Date.now();
  const hosts = new Set(runs.map((r) => r.hostId));
  const head = ["ID", "REF", "STARTED", "DURATION", "STATUS"];
  if (hosts.size > 1) head.push("HOST");
  // A long host id gives way first, then the ref; the id (for copying) last.
  const flex = hosts.size > 1 ? [5, 1] : [1];
  const rows = runs.map((r) => {
    const row = [
      ids.get(r.id)!,
      plainText(r.ref),
      relativeTime(r.startedAt, now),
      r.status === "running"
        ? `${formatDuration(now - r.startedAt)}…`
        : formatDuration(r.durationMs),
      describeOutcome(r, ctx.color),
    ];
    if (hosts.size > 1) row.push(plainText(r.hostId));
    return row;
  });
  await printTable(ctx, head, rows, { flex, keep: [0] });
  if (query.limit !== undefined && runs.length === query.limit) {
    if (ctx.stdoutIsTty) {
      println(
        paint(
          `(newest ${runs.length}; --limit N or --all for more)`,
          "dim",
          ctx.color,
        ),
      );
    }
  }
  return 0;
}

/**
 * The filters of `history` (shared with anything that lists runs the same
 * way): --status, --exit, --grep, --since, --until, --host, --project, --cwd.
 */
export function historyFilters(p: Parsed): HistoryFilters {
  const cwd = stringFlag(p, "cwd");
  if (cwd !== undefined && boolFlag(p, "project")) {
    throw new UsageError("Use either --project or --cwd <dir>, not both");
  }
  return {
    status: stringFlag(p, "status"),
    since: stringFlag(p, "since"),
    until: stringFlag(p, "until"),
    host: stringFlag(p, "host"),
    grep: stringFlag(p, "grep"),
    exitCode: intFlag(p, "exit", { min: 0, max: 255 }),
    dir: boolFlag(p, "project")
      ? currentProjectDir()
      : cwd === undefined || cwd === ""
      ? cwd
      : resolve(cwd),
  };
}

function emptyMessage(p: Parsed): string {
  const filtered = p.positionals.length > 0 || boolFlag(p, "project") ||
    ["status", "since", "until", "host", "grep", "exit", "cwd"].some((f) =>
      stringFlag(p, f) !== undefined
    );
  return filtered
    ? "No runs match these filters (stint history refs lists the refs)"
    : NO_RUNS_YET;
}

function sub(name: string): Command {
  return findSubcommand(HISTORY, name)!;
}

/** A status word with its exit code or signal: `failed (exit 3)`, `killed (SIGINT)`. */
export function describeOutcome(r: Execution, color: boolean): string {
  const word = paintStatus(r.status, color);
  if (r.signal) return `${word} (${plainText(r.signal)})`;
  if (r.exitCode !== null && r.status !== "succeeded") {
    return `${word} (exit ${r.exitCode})`;
  }
  return word;
}

/** The shortest unique prefix of each run's id, one length for all so they align. */
export function shortIds(db: Database, runs: Execution[]): Map<string, string> {
  let len = 8;
  for (const r of runs) {
    len = Math.max(len, uniqueIdPrefix(db, r.id, len).length);
  }
  return new Map(
    runs.map((r) => {
      const cut = r.id.slice(0, len);
      return [r.id, cut.endsWith("-") ? r.id.slice(0, len + 1) : cut];
    }),
  );
}

// The dashboard, the tests and other commands import these from here.
export { parseSince } from "../store/durations.ts";
export { parseStatus } from "../store/history_query.ts";

function refs(args: string[], ctx: Context): Promise<number> | number {
  const p = parseFlags(args, parseSpec(sub("refs").flags), {
    command: "history refs",
    max: 0,
  });
  const list = readStore(ctx.dbPath, (db) => {
    reconcileExecutions(db);
    return listRefs(db);
  }, () => []);
  if (boolFlag(p, "json")) {
    printJson(list.map((r) => ({
      ref: r.ref,
      runs: r.runs,
      last_started_at: new Date(r.lastStartedAt).toISOString(),
      last_status: r.lastStatus,
    })));
    return 0;
  }
  if (list.length === 0) {
    println(NO_RUNS_YET);
    return 0;
  }
  const now = Date.now();
  return printTable(
    ctx,
    ["REF", "RUNS", "LAST RUN", "LAST STATUS"],
    list.map((r) => [
      plainText(r.ref),
      String(r.runs),
      relativeTime(r.lastStartedAt, now),
      paintStatus(r.lastStatus, ctx.color),
    ]),
    { flex: [0] },
  ).then(() => 0);
}

async function clear(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, parseSpec(sub("clear").flags), {
    command: "history clear",
    min: 1,
    max: 1,
  });
  // A bare task name means this project's ref, as for history and stats.
  const ref = refArg(p.positionals[0])!;
  const { total, running } = readStore(ctx.dbPath, (db) => {
    reconcileExecutions(db);
    return {
      total: countExecutions(db, { ref }),
      running: countExecutions(db, { ref, status: "running" }),
    };
  }, () => ({ total: 0, running: 0 }));
  if (total === 0) {
    throw new NotFoundError(
      `No runs recorded for "${ref}"; stint history refs lists the refs`,
    );
  }
  const finished = total - running;
  if (finished === 0) {
    throw new NotFoundError(
      `Every run of "${ref}" is still running; nothing to clear yet`,
    );
  }
  const ok = confirm(
    `Delete ${finished} run${
      finished === 1 ? "" : "s"
    } of ${ref} and their logs?`,
    { yes: boolFlag(p, "yes"), command: "history clear <ref> --yes" },
  );
  if (!ok) {
    println("Nothing deleted");
    return 1;
  }
  // Loaded here, not at the top: only this write path needs the sync seam,
  // and the listing stays off its imports.
  const { withSyncSession } = await import("./sync_session.ts");
  const { deleted, logs } = await withSyncSession(
    ctx,
    { pull: false, flushLoop: false },
    () => {
      const { deleted, logIds } = withStore(
        ctx.dbPath,
        (db) => deleteHistory(db, ref),
      );
      // The records are gone first, so a crash here leaves at most orphan
      // files, never a record pointing at a deleted log.
      let logs = 0;
      for (const id of logIds) {
        // A record synced from elsewhere may carry anything as its log id;
        // only a valid one names a file of ours.
        if (!isValidLogId(id)) continue;
        try {
          Deno.removeSync(logPath(ctx.dbPath, id));
          logs++;
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
      }
      return Promise.resolve({ deleted, logs });
    },
  );
  println(
    `Deleted ${deleted} run${
      deleted === 1 ? "" : "s"
    } of ${ref} and ${logs} log file${logs === 1 ? "" : "s"}${
      running > 0 ? ` (kept ${running} still running)` : ""
    }`,
  );
  return 0;
}
