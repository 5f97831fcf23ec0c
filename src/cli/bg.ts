/**
 * `stint bg list | show | logs | kill | wait | restart | clean`: background runs
 * started with `stint run -b` / `stint exec -b`. Also the hidden
 * `stint bg __supervise <payload>` the detached supervisor runs as.
 * @module
 */
import { NotFoundError, StintError, UsageError } from "../errors.ts";
import {
  killBackground,
  killOrphanedTask,
  parsePayload,
  readBackground,
  superviseRun,
  waitBackground,
} from "../runner/background.ts";
import { copyLog } from "../runner/follow.ts";
import { SignalForwarder } from "../runner/forwarder.ts";
import { parseSignal } from "../runner/signals.ts";
import {
  type BackgroundRun,
  backgroundRunToJson,
  backgroundStatusWord,
  deleteBackgroundRun,
  getBackgroundRun,
  getBackgroundRunExact,
  listBackgroundRuns,
  reconcileBackgroundRuns,
} from "../store/background.ts";
import { executionToJson, reconcileExecutions } from "../store/executions.ts";
import { hostId } from "../store/meta.ts";
import { withStore } from "../store/open.ts";
import { isValidLogId, logPath } from "../store/paths.ts";
import {
  boolFlag,
  type Parsed,
  parseDuration,
  parseFlags,
  stringFlag,
} from "./args.ts";
import { BG } from "./commands/bg.ts";
import { findSubcommand, parseSpec, subcommandNames } from "./commands/mod.ts";
import type { Context } from "./context.ts";
import { readStore } from "./read_store.ts";
import {
  eprintln,
  formatDuration,
  paintStatus,
  plainText,
  printJson,
  println,
  printTable,
  relativeTime,
  writeAll,
} from "./output.ts";
import { repeatSpec } from "./rerun.ts";
import { launch } from "./run.ts";
import { withSyncSession } from "./sync_session.ts";

/** Run `stint bg`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "list":
      return await list(rest, ctx);
    case "show":
      return show(rest, ctx);
    case "logs":
      return await logs(rest, ctx);
    case "kill":
      return await kill(rest, ctx);
    case "wait":
      return await wait(rest, ctx);
    case "restart":
      return await restart(rest, ctx);
    case "clean":
      return await clean(rest, ctx);
    case "__supervise":
      return await supervise(rest, ctx);
    case undefined:
      throw new UsageError(
        `stint bg needs a subcommand: ${
          subcommandNames(BG).join(", ")
        } (see stint bg --help)`,
      );
    default:
      // The dispatcher turns this into the table's did-you-mean.
      throw new UsageError(`Unknown subcommand "bg ${sub}"`);
  }
}

/** Parse `bg <command>`'s flags from the command table. */
function parse(args: string[], command: string, positionals: number): Parsed {
  return parseFlags(args, parseSpec(findSubcommand(BG, command)!.flags), {
    command: `bg ${command}`,
    min: positionals,
    max: positionals,
  });
}

/** `--grace`: how long a signalled run gets before SIGKILL (default 10 s). */
function graceOf(p: Parsed): number {
  const grace = stringFlag(p, "grace");
  return grace === undefined ? 10_000 : parseDuration(grace, "--grace");
}

/** Find a run by id or prefix, reconciling dead supervisors first. */
function resolve(ctx: Context, id: string): BackgroundRun {
  return readStore(ctx.dbPath, (db) => {
    reconcileBackgroundRuns(db);
    reconcileExecutions(db);
    return getBackgroundRun(db, id);
  }, () => {
    throw new NotFoundError(
      `No background run with id "${id}"; see stint bg list --all`,
    );
  });
}

/**
 * A run synced from another host: its pids mean nothing here, and nothing
 * here will record its end, so acting on it must happen on its own host.
 */
function refuseRemote(ctx: Context, r: BackgroundRun, action: string): void {
  if (r.status !== "running") return;
  const here = withStore(ctx.dbPath, (db) => hostId(db));
  if (r.hostId !== here) {
    throw new StintError(
      `Background run ${r.id} (${r.ref}) runs on host ${r.hostId}; ${action} it there`,
    );
  }
}

async function list(args: string[], ctx: Context): Promise<number> {
  const p = parse(args, "list", 0);
  const all = boolFlag(p, "all");
  const runs = readStore(ctx.dbPath, (db) => {
    reconcileBackgroundRuns(db);
    reconcileExecutions(db);
    return listBackgroundRuns(db, { all });
  }, () => []);
  if (boolFlag(p, "json")) {
    printJson(runs.map(backgroundRunToJson));
    return 0;
  }
  if (runs.length === 0) {
    println(
      all
        ? "No background runs yet; start one with stint run -b <task>"
        : "No background runs are running (stint bg list --all shows finished ones)",
    );
    return 0;
  }
  const now = Date.now();
  await printTable(
    ctx,
    ["ID", "REF", "STATUS", "PID", "STARTED", "DURATION", "EXIT"],
    runs.map((r) => [
      r.id,
      plainText(r.ref),
      paintStatus(backgroundStatusWord(r.status), ctx.color),
      r.pid === null ? "-" : String(r.pid),
      relativeTime(r.startedAt, now),
      formatDuration((r.completedAt ?? now) - r.startedAt),
      r.exitCode === null ? "-" : String(r.exitCode),
    ]),
    { flex: [1], keep: [0] },
  );
  return 0;
}

function show(args: string[], ctx: Context): number {
  const p = parse(args, "show", 1);
  const found = resolve(ctx, p.positionals[0]);
  const { run: r, execution: e } = readBackground(ctx.dbPath, found.id);
  const log = r.logId && isValidLogId(r.logId)
    ? logPath(ctx.dbPath, r.logId)
    : null;
  // The task leads its own process group, so its pid is its group id; until
  // the supervisor has started it, the execution carries the supervisor's.
  const taskPid = e && e.pid !== null && e.pid !== r.pid ? e.pid : null;
  if (boolFlag(p, "json")) {
    printJson({
      ...backgroundRunToJson(r),
      task_pid: taskPid,
      task_pgid: taskPid,
      execution: e ? executionToJson(e) : null,
      log_path: log,
    });
    return 0;
  }
  const now = Date.now();
  const rows: [string, string][] = [
    ["id", r.id],
    ["ref", r.ref],
    ["status", paintStatus(backgroundStatusWord(r.status), ctx.color)],
    ["command", r.command || "-"],
    [
      "started",
      `${new Date(r.startedAt).toISOString()} (${
        relativeTime(r.startedAt, now)
      })`,
    ],
    [
      "completed",
      r.completedAt === null ? "-" : new Date(r.completedAt).toISOString(),
    ],
    ["duration", formatDuration((r.completedAt ?? now) - r.startedAt)],
    ["exit code", r.exitCode === null ? "-" : String(r.exitCode)],
    ["signal", e?.signal ?? "-"],
    ["error", r.error ?? "-"],
    [
      "supervisor",
      r.pid === null
        ? "-"
        : `pid ${r.pid}, process group ${r.pgid ?? r.pid} (pid, pgid)`,
    ],
    [
      "task",
      taskPid === null
        ? "-"
        : `pid ${taskPid}, process group ${taskPid} (task_pid, task_pgid)`,
    ],
    ["execution", r.executionId ?? "-"],
    ["log", log ?? "-"],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) {
    // Only the status is stint's own colour; the rest comes from records.
    println(`${k.padEnd(width)}  ${k === "status" ? v : plainText(v)}`);
  }
  return 0;
}

async function logs(args: string[], ctx: Context): Promise<number> {
  const p = parse(args, "logs", 1);
  const r = resolve(ctx, p.positionals[0]);
  if (boolFlag(p, "follow")) refuseRemote(ctx, r, "follow");
  if (!r.logId || !isValidLogId(r.logId)) {
    throw new StintError(`Background run ${r.id} has no log`);
  }
  const path = logPath(ctx.dbPath, r.logId);
  const isRunning = () =>
    withStore(ctx.dbPath, (db) => {
      reconcileBackgroundRuns(db);
      return getBackgroundRunExact(db, r.id)?.status === "running";
    });
  try {
    await copyLog(path, {
      write: (bytes) => writeAll(Deno.stdout, bytes),
      follow: boolFlag(p, "follow"),
      isRunning,
    });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new StintError(
        `The log of background run ${r.id} is gone (${path}); it may have been cleaned`,
      );
    }
    throw err;
  }
  return 0;
}

async function kill(args: string[], ctx: Context): Promise<number> {
  const p = parse(args, "kill", 1);
  const signal = parseSignal(stringFlag(p, "signal") ?? "TERM");
  const graceMs = graceOf(p);
  const r = resolve(ctx, p.positionals[0]);
  refuseRemote(ctx, r, "kill");
  return await withSyncSession(
    ctx,
    { pull: false, flushLoop: false },
    async () => {
      if (r.status === "lost") {
        const state = readBackground(ctx.dbPath, r.id);
        if (await killOrphanedTask(ctx.dbPath, state, signal)) {
          println(
            `Killed what was left of lost background run ${r.id} (${r.ref}) with ${signal}`,
          );
          return 0;
        }
      }
      if (r.status !== "running") {
        throw new StintError(
          `Background run ${r.id} (${r.ref}) already ended (${r.status}${
            r.exitCode === null ? "" : `, exit ${r.exitCode}`
          }); nothing to kill`,
        );
      }
      const end = await killBackground(ctx.dbPath, r.id, { signal, graceMs });
      if (end.run.status === "killed") {
        println(`Killed background run ${r.id} (${r.ref}) with ${signal}`);
      } else {
        println(
          `Background run ${r.id} (${r.ref}) ended (${end.run.status}${
            end.run.exitCode === null ? "" : `, exit ${end.run.exitCode}`
          }) after ${signal}`,
        );
      }
      return 0;
    },
  );
}

async function wait(args: string[], ctx: Context): Promise<number> {
  const p = parse(args, "wait", 1);
  const raw = stringFlag(p, "timeout");
  const timeoutMs = raw === undefined
    ? undefined
    : parseDuration(raw, "--timeout");
  const r = resolve(ctx, p.positionals[0]);
  refuseRemote(ctx, r, "wait for");
  const end = await waitBackground(ctx.dbPath, r.id, { timeoutMs });
  if (end === null) {
    eprintln(
      `stint: Timed out after ${raw} waiting for background run ${r.id} (${r.ref}); it is still running`,
    );
    return 124;
  }
  if (boolFlag(p, "json")) printJson(backgroundRunToJson(end));
  if (end.status === "lost") {
    throw new StintError(
      `Background run ${end.id} (${end.ref}) was lost: ${
        end.error ?? "its supervisor died"
      }; its exit code is unknown`,
      { exitCode: 125 },
    );
  }
  return end.exitCode ?? (end.status === "completed" ? 0 : 1);
}

async function clean(args: string[], ctx: Context): Promise<number> {
  const p = parse(args, "clean", 0);
  const raw = stringFlag(p, "older-than");
  const olderMs = raw === undefined ? 0 : parseDuration(raw, "--older-than");
  const removed = await withSyncSession(
    ctx,
    { pull: false, flushLoop: false },
    () =>
      Promise.resolve(readStore(ctx.dbPath, (db) => {
        reconcileBackgroundRuns(db);
        // Only this host's runs: other hosts' logs are theirs to clean.
        const here = hostId(db);
        const runs = listBackgroundRuns(db, {
          all: true,
          finishedBefore: Date.now() - olderMs,
        }).filter((r) => r.hostId === here);
        for (const r of runs) deleteBackgroundRun(db, r.id);
        return runs;
      }, () => [])),
  );
  for (const r of removed) {
    if (!r.logId || !isValidLogId(r.logId)) continue;
    try {
      Deno.removeSync(logPath(ctx.dbPath, r.logId));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  if (boolFlag(p, "json")) {
    printJson({ removed: removed.length, ids: removed.map((r) => r.id) });
  } else {
    println(
      removed.length === 0
        ? `No finished background runs${
          raw ? ` older than ${raw}` : ""
        } to remove`
        : `Removed ${removed.length} finished background run${
          removed.length === 1 ? "" : "s"
        } and ${removed.length === 1 ? "its log" : "their logs"}`,
    );
  }
  return 0;
}

/**
 * `bg restart <id>`: the same task or command again as a new background run
 * (its execution names the one it repeats); a run still running here is
 * killed first, as restarting a dev server would.
 */
async function restart(args: string[], ctx: Context): Promise<number> {
  const p = parse(args, "restart", 1);
  const graceMs = graceOf(p);
  const r = resolve(ctx, p.positionals[0]);
  refuseRemote(ctx, r, "restart");
  const { execution } = readBackground(ctx.dbPath, r.id);
  if (!execution) {
    throw new StintError(
      `Background run ${r.id} (${r.ref}) never started its task, so there is nothing to repeat; start it with stint run -b`,
    );
  }
  const spec = repeatSpec(execution);
  if (r.status === "running") {
    await withSyncSession(
      ctx,
      { pull: false, flushLoop: false },
      () => killBackground(ctx.dbPath, r.id, { signal: "SIGTERM", graceMs }),
    );
  }
  return await launch(spec, ctx, {
    background: true,
    json: boolFlag(p, "json"),
  });
}

/** The detached supervisor: its stderr is /dev/null, so failures go to the log. */
async function supervise(args: string[], ctx: Context): Promise<number> {
  const payload = parsePayload(args[0], { dbPath: ctx.dbPath });
  const forwarder = new SignalForwarder().install();
  try {
    return await withSyncSession(
      ctx,
      { pull: true, flushLoop: true },
      () => superviseRun(payload, { dbPath: ctx.dbPath, forwarder }),
    );
  } catch (err) {
    try {
      const f = Deno.openSync(logPath(ctx.dbPath, payload.exec), {
        append: true,
        create: true,
        mode: 0o600,
      });
      writeAll(
        f,
        new TextEncoder().encode(
          `stint: supervisor failed: ${
            (err as Error).message?.split("\n")[0] ?? String(err)
          }\n`,
        ),
      );
      f.close();
    } catch {
      // nowhere left to report it; the record says failed or lost
    }
    throw err;
  } finally {
    forwarder.dispose();
  }
}
