/**
 * `stint logs [<run-or-background-id>|--last|--failed] [--follow] [--tail N]
 * [--grep RE]`: print a run's captured output byte-exact, or follow it until
 * the run ends. Without an id: the newest run of the current project.
 * @module
 */
import {
  AmbiguousIdError,
  NotFoundError,
  StintError,
  UsageError,
} from "../errors.ts";
import {
  type BackgroundRun,
  getBackgroundRun,
  getBackgroundRunExact,
  reconcileBackgroundRuns,
} from "../store/background.ts";
import {
  type Execution,
  getExecution,
  getExecutionExact,
  listExecutions,
  MIN_ID_PREFIX,
  reconcileExecutions,
} from "../store/executions.ts";
import { hostId } from "../store/meta.ts";
import { withStore } from "../store/open.ts";
import { readStore } from "./read_store.ts";
import type { Database } from "../store/sqlite.ts";
import { boolFlag, intFlag, parseFlags, stringFlag } from "./args.ts";
import { LOGS } from "./commands/history.ts";
import { parseSpec } from "./commands/mod.ts";
import type { Context } from "./context.ts";
import { currentProjectDir } from "./here.ts";
import { FOLLOW_CHUNK_BYTES, openLog, readLogFrom } from "./log_source.ts";
import {
  eprintln,
  paint,
  plainText,
  relativeTime,
  writeAll,
} from "./output.ts";
import { formatBytes } from "../format.ts";
import { prunedLog } from "../store/log_budget.ts";
import { fetchRemoteLog } from "./sync_session.ts";

const NL = 0x0a;
const POLL_MS = 150;
const decoder = new TextDecoder();

/** Run `stint logs`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, parseSpec(LOGS.flags), {
    command: "logs",
    max: 1,
  });
  const tail = intFlag(p, "tail", { min: 0 });
  const grep = compileGrep(stringFlag(p, "grep"));
  const id = p.positionals[0];
  const failed = boolFlag(p, "failed");
  if (id !== undefined && (failed || boolFlag(p, "last"))) {
    throw new UsageError(
      `Give either a run id or --${failed ? "failed" : "last"}, not both`,
    );
  }
  const target = id === undefined
    ? newestHere(ctx, failed)
    : readStore(ctx.dbPath, (db) => findRun(db, id), () => {
      throw notFound(id);
    });
  const filter = new LineFilter(grep);
  if (boolFlag(p, "follow") && isRunning(target)) {
    if (target.remoteHost !== null) {
      // Its log grows on that machine, and its record here changes only
      // when a sync brings it: following from here would never end.
      throw new StintError(
        `Run ${target.id} is running on host ${target.remoteHost}; follow it there, or read its log here once it has ended and synced`,
      );
    }
    return await follow(ctx, target, filter, tail);
  }
  if (!target.logId) throw noLog(target);
  let file = await openLog(ctx.dbPath, target.logId);
  // A run recorded on another host: its log may be in the sync bucket.
  if (file === null) {
    const fetched = await fetchRemoteLog(ctx, target.logId);
    if (typeof fetched === "string") {
      throw new StintError(
        `Run ${target.id} has no log file here, and fetching it from the bucket failed: ${fetched}`,
      );
    }
    if (fetched) file = await openLog(ctx.dbPath, target.logId);
  }
  if (file === null) throw prunedOrNoLog(ctx, target);
  await printLog(file, filter, tail);
  return 0;
}

/**
 * Why a finished run has no log file here: removed to keep the logs folder
 * under its budget (one line saying so, and how to keep more), or simply
 * none on this machine.
 */
function prunedOrNoLog(ctx: Context, t: Target): StintError {
  const logId = t.logId;
  const pruned = logId === null ? null : readStore(
    ctx.dbPath,
    (db) => prunedLog(db, logId),
    () => null,
  );
  if (pruned === null) return noLog(t);
  return new StintError(
    `The log of run ${t.id} was pruned ${
      relativeTime(pruned.prunedAt)
    } to keep the logs folder under ${
      formatBytes(pruned.budget)
    } (a larger STINT_LOG_BUDGET or "log_budget" keeps more); the record is in stint history`,
  );
}

/**
 * Stream `file` to stdout: unchanged without --grep/--tail, else line by
 * line, holding at most the last `tail` lines in memory.
 */
async function printLog(
  file: Deno.FsFile,
  filter: LineFilter,
  tail: number | undefined,
): Promise<void> {
  if (!filter.filtering && tail === undefined) {
    for await (const chunk of file.readable) out(chunk);
    return;
  }
  const kept = new TailKeeper(tail);
  for await (const chunk of file.readable) {
    kept.take(filter.lines(chunk, false));
  }
  kept.take(filter.lines(new Uint8Array(0), true));
  kept.flush();
}

/** What `stint logs` resolved an id to. */
interface Target {
  id: string;
  execution: Execution | null;
  background: BackgroundRun | null;
  logId: string | null;
  /** The host that recorded the run when it is not this one, else null. */
  remoteHost: string | null;
}

/**
 * Resolve an id: an exact execution or background id first, then a unique
 * prefix of either. A prefix that matches one of each is ambiguous.
 */
function findRun(db: Database, id: string): Target {
  reconcileExecutions(db);
  reconcileBackgroundRuns(db);
  let execution: Execution | null = getExecutionExact(db, id) ?? null;
  let background: BackgroundRun | null = execution
    ? null
    : getBackgroundRunExact(db, id) ?? null;
  if (!execution && !background) {
    let why: NotFoundError | null = null;
    execution = orNull(() => getExecution(db, id), (e) => why = e);
    background = orNull(() => getBackgroundRun(db, id));
    if (execution && background) {
      throw new AmbiguousIdError(
        `Id prefix "${id}" matches run ${execution.id} and background run ${background.id}; give more characters`,
      );
    }
    // "Too short" says more than "no such run" when nothing else matched.
    if (!execution && !background && why && id.length < MIN_ID_PREFIX) {
      throw new NotFoundError(
        `No background run with id "${id}", and ${
          (why as NotFoundError).message.replace(/^Run/, "a run")
        }`,
      );
    }
  }
  return targetOf(db, execution, background, id);
}

function targetOf(
  db: Database,
  found: Execution | null,
  background: BackgroundRun | null,
  id: string,
): Target {
  let execution = found;
  if (background && background.executionId) {
    execution = getExecutionExact(db, background.executionId) ?? null;
  }
  if (!execution && !background) {
    throw notFound(id);
  }
  const recordedOn = execution?.hostId ?? background!.hostId;
  return {
    id: execution?.id ?? background!.id,
    execution,
    background,
    logId: execution?.logId ?? background?.logId ?? null,
    remoteHost: recordedOn === hostId(db) ? null : recordedOn,
  };
}

/**
 * `stint logs` without an id: the newest run recorded in the current
 * project (its directory or below), or the newest failed one. On a
 * terminal, stderr says which run it is.
 */
function newestHere(ctx: Context, failed: boolean): Target {
  const dir = currentProjectDir();
  const what = failed ? "failed run" : "run";
  const none = () =>
    new NotFoundError(
      `No ${what} recorded in ${dir} or below; give a run id (see stint history)`,
    );
  const target = readStore(ctx.dbPath, (db) => {
    reconcileExecutions(db);
    const [e] = listExecutions(db, {
      dir,
      status: failed ? "failed" : undefined,
      limit: 1,
    });
    if (!e) throw none();
    return targetOf(db, e, null, e.id);
  }, () => {
    throw none();
  });
  if (ctx.stderrIsTty && !ctx.quiet) {
    const e = target.execution!;
    eprintln(
      paint(
        `stint: ${e.id.slice(0, 13)}  ${plainText(e.ref)}  ${e.status}${
          e.exitCode !== null && e.status !== "succeeded"
            ? ` (exit ${e.exitCode})`
            : ""
        }  ${relativeTime(e.startedAt)}`,
        "dim",
        !Deno.env.get("NO_COLOR"),
      ),
    );
  }
  return target;
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(
    `No run or background run with id "${id}"; see stint history or stint bg list --all`,
  );
}

function orNull<T>(
  fn: () => T,
  onMissing?: (err: NotFoundError) => void,
): T | null {
  try {
    return fn();
  } catch (err) {
    if (err instanceof NotFoundError) {
      onMissing?.(err);
      return null;
    }
    throw err;
  }
}

function isRunning(t: Target): boolean {
  if (t.execution) return t.execution.status === "running";
  return t.background?.status === "running";
}

function noLog(t: Target): StintError {
  const what = t.execution?.status === "running" || isRunning(t)
    ? "has no log file yet"
    : "has no log file on this machine";
  return new StintError(
    `Run ${t.id} ${what}${
      t.logId ? "" : " (it recorded no log)"
    }; stint history shows its status`,
  );
}

function compileGrep(raw: string | undefined): RegExp | null {
  if (raw === undefined) return null;
  try {
    return new RegExp(raw);
  } catch (err) {
    throw new UsageError(
      `--grep is not a valid regular expression: ${
        (err as Error).message.split("\n")[0]
      }`,
    );
  }
}

/** Splits bytes into lines (keeping each line's newline) and filters them by a regex. */
class LineFilter {
  #re: RegExp | null;
  // The unfinished last line, kept as the pieces it arrived in: joining
  // them on every read would copy a long line (progress bars that only
  // use \r) once per chunk, quadratic in its length.
  #partial: Uint8Array[] = [];

  constructor(re: RegExp | null) {
    this.#re = re;
  }

  get filtering(): boolean {
    return this.#re !== null;
  }

  /**
   * Feed bytes; returns the complete lines that pass. With `final`, a last
   * line without a newline is returned too.
   */
  lines(bytes: Uint8Array, final: boolean): Uint8Array[] {
    const lines: Uint8Array[] = [];
    let start = 0;
    for (let i = bytes.indexOf(NL); i !== -1; i = bytes.indexOf(NL, start)) {
      const piece = bytes.subarray(start, i + 1);
      if (this.#partial.length) {
        this.#partial.push(piece);
        lines.push(concat(this.#partial));
        this.#partial = [];
      } else {
        lines.push(piece);
      }
      start = i + 1;
    }
    if (start < bytes.length) this.#partial.push(bytes.slice(start));
    if (final && this.#partial.length) {
      lines.push(concat(this.#partial));
      this.#partial = [];
    }
    return this.#re ? lines.filter((l) => this.matches(l)) : lines;
  }

  matches(line: Uint8Array): boolean {
    const end = line.length && line[line.length - 1] === NL
      ? line.length - 1
      : line.length;
    return this.#re!.test(decoder.decode(line.subarray(0, end)));
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function out(bytes: Uint8Array): void {
  if (bytes.length) writeAll(Deno.stdout, bytes);
}

/**
 * Print what the log holds (honouring --tail and --grep), then new bytes
 * as they arrive, until the run's record is no longer `running`. Without
 * --grep partial lines are printed as they come, like the terminal saw them.
 * The log is read a chunk at a time ({@linkcode FOLLOW_CHUNK_BYTES}), so a
 * multi-gigabyte log costs a chunk of memory (and --tail its last lines).
 */
async function follow(
  ctx: Context,
  target: Target,
  filter: LineFilter,
  tail: number | undefined,
): Promise<number> {
  if (!target.logId) throw noLog(target);
  const logId = target.logId;
  // One buffer for every read: what is printed is written (or copied) at
  // once, so nothing keeps a view of it past the next read.
  const buffer = new Uint8Array(FOLLOW_CHUNK_BYTES);
  const read = (at: number) =>
    readLogFrom(ctx.dbPath, logId, at, FOLLOW_CHUNK_BYTES, buffer);
  let offset = 0;
  let first = true;
  for (;;) {
    const running = stillRunning(ctx, target);
    // Read after checking the record: the runner writes the log before it
    // records the end, so a run seen as ended has all its bytes on disk.
    let chunk = await read(offset);
    if (chunk === null) {
      if (!running) throw noLog(target);
    } else if (first) {
      // --tail picks where to start (keeping only the last lines of what
      // is there); without --grep a partial last line is printed now and
      // the rest of it follows raw, with --grep it waits for its end.
      first = false;
      const kept = new TailKeeper(tail);
      const selecting = filter.filtering || tail !== undefined;
      while (chunk !== null && chunk.length > 0) {
        offset += chunk.length;
        if (selecting) kept.take(filter.lines(chunk, false));
        else out(chunk);
        if (chunk.length < FOLLOW_CHUNK_BYTES) break;
        chunk = await read(offset);
      }
      if (selecting) {
        kept.take(
          filter.lines(new Uint8Array(0), filter.filtering ? !running : true),
        );
        kept.flush();
      }
    } else {
      while (chunk !== null && chunk.length > 0) {
        offset += chunk.length;
        out(filter.filtering ? concat(filter.lines(chunk, false)) : chunk);
        if (chunk.length < FOLLOW_CHUNK_BYTES) break;
        chunk = await read(offset);
      }
    }
    if (!running) {
      if (filter.filtering) out(concat(filter.lines(new Uint8Array(0), true)));
      return 0;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Prints lines as they come, or with a tail, keeps only the last `tail` (copies). */
class TailKeeper {
  #tail: number | undefined;
  #kept: Uint8Array[] = [];

  constructor(tail: number | undefined) {
    this.#tail = tail;
  }

  take(lines: Uint8Array[]): void {
    if (this.#tail === undefined) {
      out(concat(lines));
      return;
    }
    if (this.#tail === 0) return;
    // Copies: a line must not pin the whole chunk it was cut from.
    for (const l of lines) this.#kept.push(l.slice());
    if (this.#kept.length > 2 * this.#tail) {
      this.#kept.splice(0, this.#kept.length - this.#tail);
    }
  }

  flush(): void {
    if (this.#tail !== undefined) out(concat(this.#kept.slice(-this.#tail)));
    this.#kept = [];
  }
}

function stillRunning(ctx: Context, target: Target): boolean {
  return withStore(ctx.dbPath, (db) => {
    if (target.execution) {
      reconcileExecutions(db);
      return getExecutionExact(db, target.execution.id)?.status === "running";
    }
    reconcileBackgroundRuns(db);
    const bg = getBackgroundRunExact(db, target.background!.id);
    if (bg?.executionId && !target.execution) {
      // The supervisor started the execution since we looked: follow it.
      const e = getExecutionExact(db, bg.executionId);
      if (e) {
        target.execution = e;
        target.logId ??= e.logId;
        return e.status === "running";
      }
    }
    return bg?.status === "running";
  });
}
