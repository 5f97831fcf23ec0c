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
  type ExecutionStatus,
  executionToJson,
  listExecutions,
  listRefs,
  reconcileExecutions,
} from "../store/executions.ts";
import { withStore } from "../store/open.ts";
import { readStore } from "./read_store.ts";
import { isValidLogId, logPath } from "../store/paths.ts";
import { countExecutions, uniqueIdPrefix } from "../store/stats.ts";
import type { Database } from "../store/sqlite.ts";
import {
  boolFlag,
  intFlag,
  type Parsed,
  parseDuration,
  parseFlags,
  stringFlag,
} from "./args.ts";
import { confirm } from "./confirm.ts";
import type { Context } from "./context.ts";
import {
  formatDuration,
  paint,
  paintStatus,
  printJson,
  println,
  printTable,
  relativeTime,
} from "./output.ts";
import { refArg } from "../tasks/mod.ts";

/** Help for `stint history`. */
export const help = `Usage: stint history [ref] [options]
       stint history refs [--json]
       stint history clear <ref> [--yes]

Show recorded runs, newest first. Filters are applied in the store, so
--status failed --limit 5 gives the five newest failures however old they are.

Options:
  --limit <n>      Show at most n runs (default 20)
  --all            Show every matching run (no limit)
  --status <s>     Only runs with this status: running, succeeded, failed, killed, lost
  --since <when>   Only runs started in the last <when> (30m, 12h, 7d, 2w) or since a
                   date (2026-11-01 or an ISO-8601 time)
  --host <id>      Only runs recorded on this host id (see the HOST column or --json)
  --json           Print JSON: an array of runs (snake_case fields, ISO-8601 times)

Subcommands:
  refs             Every ref with its run count, last run and last status
  clear <ref>      Delete every finished run of <ref> and its log files (asks first;
                   --yes to confirm without a terminal)

Exit codes: 0 ok, 1 nothing to clear, 2 bad usage.

Examples:
  stint history
  stint history myapp:test --status failed --limit 5
  stint history --since 7d --json
  stint history refs
  stint history clear myapp:test --yes`;

const STATUSES: ExecutionStatus[] = [
  "running",
  "succeeded",
  "failed",
  "killed",
  "lost",
];

const DEFAULT_LIMIT = 20;

/** Run `stint history`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  // The subcommand may come after options (`history --json refs`); a ref
  // named like one can still be listed with `history -- refs`.
  const at = subcommandAt(args);
  if (at !== -1) {
    const rest = [...args.slice(0, at), ...args.slice(at + 1)];
    return args[at] === "refs" ? refs(rest, ctx) : await clear(rest, ctx);
  }
  return await list(args, ctx);
}

/** Where `refs` / `clear` is in `args` as the first positional, else -1. */
function subcommandAt(args: string[]): number {
  const valued = new Set(["--limit", "--status", "--since", "--host"]);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") return -1;
    if (valued.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith("-") && a !== "-") continue;
    return a === "refs" || a === "clear" ? i : -1;
  }
  return -1;
}

async function list(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, {
    limit: { type: "string" },
    all: { type: "boolean" },
    status: { type: "string" },
    since: { type: "string" },
    host: { type: "string" },
    json: { type: "boolean" },
  }, { command: "history", max: 1 });
  const status = parseStatus(stringFlag(p, "status"));
  const since = parseSince(stringFlag(p, "since"));
  const limit = intFlag(p, "limit", { min: 1 });
  if (limit !== undefined && boolFlag(p, "all")) {
    throw new UsageError("Use either --limit or --all, not both");
  }
  const query = {
    ref: refArg(p.positionals[0]),
    status,
    since,
    host: stringFlag(p, "host"),
    limit: boolFlag(p, "all") ? undefined : limit ?? DEFAULT_LIMIT,
  };
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
  const rows = runs.map((r) => {
    const row = [
      ids.get(r.id)!,
      r.ref,
      relativeTime(r.startedAt, now),
      r.status === "running"
        ? `${formatDuration(now - r.startedAt)}…`
        : formatDuration(r.durationMs),
      describeOutcome(r, ctx.color),
    ];
    if (hosts.size > 1) row.push(r.hostId);
    return row;
  });
  await printTable(ctx, head, rows);
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

function emptyMessage(p: Parsed): string {
  const filtered = p.positionals.length > 0 ||
    ["status", "since", "host"].some((f) => stringFlag(p, f) !== undefined);
  return filtered
    ? "No runs match these filters (stint history refs lists the refs)"
    : "No runs recorded yet; stint run <task> or stint exec -- <cmd> records one";
}

/** A status word with its exit code or signal: `failed (exit 3)`, `killed (SIGINT)`. */
export function describeOutcome(r: Execution, color: boolean): string {
  const word = paintStatus(r.status, color);
  if (r.signal) return `${word} (${r.signal})`;
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

function parseStatus(raw: string | undefined): ExecutionStatus | undefined {
  if (raw === undefined) return undefined;
  const s = raw.toLowerCase() as ExecutionStatus;
  if (!STATUSES.includes(s)) {
    throw new UsageError(
      `--status must be one of ${STATUSES.join(", ")}, not "${raw}"`,
    );
  }
  return s;
}

/** Parse `--since`: a duration back from now (7d) or a date / ISO-8601 time. */
export function parseSince(
  raw: string | undefined,
  now: number = Date.now(),
): number | undefined {
  if (raw === undefined) return undefined;
  if (/^\d{4}-\d{2}-\d{2}/.test(raw)) {
    const t = Date.parse(raw);
    if (!Number.isNaN(t)) return t;
    throw new UsageError(
      `--since must be a duration such as 12h or 7d, or a date such as 2026-11-01, not "${raw}"`,
    );
  }
  try {
    return now - parseDuration(raw, "--since");
  } catch {
    throw new UsageError(
      `--since must be a duration such as 12h or 7d, or a date such as 2026-11-01, not "${raw}"`,
    );
  }
}

function refs(args: string[], ctx: Context): Promise<number> | number {
  const p = parseFlags(args, { json: { type: "boolean" } }, {
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
    println(
      "No runs recorded yet; stint run <task> or stint exec -- <cmd> records one",
    );
    return 0;
  }
  const now = Date.now();
  return printTable(
    ctx,
    ["REF", "RUNS", "LAST RUN", "LAST STATUS"],
    list.map((r) => [
      r.ref,
      String(r.runs),
      relativeTime(r.lastStartedAt, now),
      paintStatus(r.lastStatus, ctx.color),
    ]),
  ).then(() => 0);
}

async function clear(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, { yes: { type: "boolean" } }, {
    command: "history clear",
    min: 1,
    max: 1,
  });
  const ref = p.positionals[0];
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
