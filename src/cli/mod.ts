/**
 * The stint CLI: global flags, dispatch to one module per command group
 * (loaded on demand so each command pays only for its own imports), and the
 * one place where errors become a line on stderr and an exit code.
 * @module
 */
import { StintError, UsageError } from "../errors.ts";
import { resolveDbPath } from "../store/paths.ts";
import type { CommandModule, Context } from "./context.ts";
import { closeMatches } from "./suggest.ts";
import { eprintln, println } from "./output.ts";
import { restorePending } from "../sync/pending.ts";

/** The version printed by `stint --version`. */
export const VERSION = "0.1.0";

interface Entry {
  summary: string;
  load(): Promise<CommandModule>;
  /**
   * Reads the store: on a machine without the file and with a bucket
   * configured, restore it first (spec section 6, "start"). Commands that
   * run or write go through the sync session, which does this itself.
   */
  restores?: boolean;
  /**
   * Subcommands that write: their own sync session restores (or, when the
   * bucket cannot be read, goes on and owes a restore) instead.
   */
  writes?: readonly string[];
}

const COMMANDS: Record<string, Entry> = {
  run: {
    summary: "Run a deno.json task and record it (-b: in the background)",
    load: () => import("./run.ts"),
  },
  exec: {
    summary: "Run an ad-hoc command and record it",
    load: () => import("./exec.ts"),
  },
  tasks: {
    summary: "List the project's tasks with their last status and duration",
    load: () => import("./tasks.ts"),
    restores: true,
  },
  history: {
    summary: "Show recorded runs (filters, refs, clear)",
    load: () => import("./history.ts"),
    restores: true,
    writes: ["clear"],
  },
  logs: {
    summary: "Print or follow the log of a run",
    load: () => import("./logs.ts"),
    restores: true,
  },
  stats: {
    summary: "Success rate and duration percentiles per ref",
    load: () => import("./stats.ts"),
    restores: true,
  },
  bg: {
    summary: "List, follow, kill and wait for background runs",
    load: () => import("./bg.ts"),
    restores: true,
    writes: ["clean", "__supervise"],
  },
  vars: {
    summary: "Scoped variables (this run, its callers, then root)",
    load: () => import("./vars.ts"),
    restores: true,
    writes: ["set", "unset"],
  },
  cache: {
    summary: "A key-value cache with optional expiry",
    load: () => import("./cache.ts"),
    restores: true,
    writes: ["set", "delete", "clear"],
  },
  sync: {
    summary: "Push, pull or restore the store with the bucket",
    load: () => import("./sync.ts"),
  },
  status: {
    summary: "Probe the store and the bucket (safe from cron)",
    load: () => import("./status.ts"),
  },
  store: {
    summary: "Show, migrate, back up or destroy the store file",
    load: () => import("./store.ts"),
  },
};

const HELP = `stint — run Deno tasks and remember everything about them

Usage: stint [--db <file>] [--quiet] <command> [options]

Commands:
${"{{commands}}"}

Global options:
  --db <file>    Use this store file (default: $STINT_DB, else
                 $XDG_STATE_HOME/stint/stint.db, else ~/.local/state/stint/stint.db)
  -q, --quiet    No sync or progress messages on stderr (also STINT_QUIET=1)
  --verbose      Also report routine sync successes (also STINT_VERBOSE=1)
  -h, --help     Show help (also: stint <command> --help)
  -V, --version  Show the version

Environment: STINT_DB, STINT_QUIET, NO_COLOR, STINT_DEBUG=1 (stack traces
for internal errors), and the sync settings listed in stint sync --help.`;

/** Run the CLI with `argv` (without the program name); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (err) {
    return reportError(err);
  }
}

async function dispatch(argv: string[]): Promise<number> {
  const { args, db, quiet, verbose, help, version } = extractGlobals(argv);
  if (version) {
    println(`stint ${VERSION}`);
    return 0;
  }
  const [name, ...rest] = args;
  if (
    name === undefined || (help && name === "help") ||
    name === "help" && rest.length === 0
  ) {
    println(topHelp());
    return help || name === "help" ? 0 : 2;
  }
  if (name === "help") return dispatch([rest[0], "--help"]);
  const entry = COMMANDS[name];
  if (!entry) {
    const near = closeMatches(name, Object.keys(COMMANDS));
    throw new UsageError(
      `Unknown command "${name}"${
        near.length ? `; did you mean ${near.join(" or ")}?` : ""
      } (see stint --help)`,
    );
  }
  const mod = await entry.load();
  if (help) {
    println(mod.help);
    return 0;
  }
  const stdoutIsTty = Deno.stdout.isTerminal();
  const ctx: Context = {
    dbPath: resolveDbPath(db),
    quiet: quiet || Deno.env.get("STINT_QUIET") === "1",
    stdoutIsTty,
    stderrIsTty: Deno.stderr.isTerminal(),
    color: stdoutIsTty && !Deno.env.get("NO_COLOR"),
    verbose: verbose || Deno.env.get("STINT_VERBOSE") === "1",
  };
  if (
    entry.restores && !entry.writes?.includes(rest[0]) &&
    needsRestore(ctx.dbPath)
  ) {
    const { restoreIfMissing } = await import("./sync_session.ts");
    await restoreIfMissing(ctx);
  }
  return await mod.run(rest, ctx);
}

/**
 * Cheap gate before loading any sync code: not nested in a run (the
 * outermost stint owns the lifecycle), and no local file yet or a restore
 * still owed (`sync/pending.ts`, one more `stat`).
 */
function needsRestore(dbPath: string): boolean {
  if (Deno.env.get("STINT_RUN_ID")) return false;
  try {
    Deno.statSync(dbPath);
  } catch {
    return true;
  }
  return restorePending(dbPath);
}

/**
 * Pull global flags out of argv (only before a literal `--`, so a task's own
 * arguments are never touched).
 */
export function extractGlobals(argv: string[]): {
  args: string[];
  db?: string;
  quiet: boolean;
  verbose: boolean;
  help: boolean;
  version: boolean;
} {
  const args: string[] = [];
  let db: string | undefined;
  let quiet = false;
  let verbose = false;
  let help = false;
  let version = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      args.push(...argv.slice(i));
      break;
    }
    if (a === "--db") {
      db = argv[++i];
      if (db === undefined || db === "") {
        throw new UsageError("Option --db needs a file path");
      }
    } else if (a.startsWith("--db=")) {
      db = a.slice(5);
      if (db === "") throw new UsageError("Option --db needs a file path");
    } else if (a === "--quiet" || a === "-q") quiet = true;
    else if (a === "--verbose") verbose = true;
    else if (a === "--help" || a === "-h") help = true;
    else if ((a === "--version" || a === "-V") && args.length === 0) {
      version = true;
    } else args.push(a);
  }
  return { args, db, quiet, verbose, help, version };
}

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([k, v]) =>
    `  ${k.padEnd(width)}  ${v.summary}`
  );
  return HELP.replace("{{commands}}", lines.join("\n"));
}

function reportError(err: unknown): number {
  if (err instanceof StintError) {
    eprintln(`stint: ${err.message}`);
    return err.exitCode;
  }
  if (err instanceof Deno.errors.BrokenPipe) return 141;
  const msg = err instanceof Error ? err.message.split("\n")[0] : String(err);
  if (Deno.env.get("STINT_DEBUG") === "1") {
    console.error(err);
  } else {
    eprintln(
      `stint: internal error: ${msg} (rerun with STINT_DEBUG=1 to see the stack trace)`,
    );
  }
  return 70;
}
