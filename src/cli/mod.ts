/**
 * The stint CLI: global flags, dispatch to one module per command group
 * (loaded on demand so each command pays only for its own imports), and the
 * one place where errors become a line on stderr and an exit code.
 * @module
 */
import { mark } from "../trace.ts";
import { StintError, UsageError } from "../errors.ts";
import { journalHasEntries } from "../store/journal.ts";
import { resolveDbPath } from "../store/paths.ts";
import type { CommandModule, Context } from "./context.ts";
import { lazyImport } from "../lazy_import.ts";
import { eprintln, println } from "./output.ts";
import { restorePending } from "../sync/pending.ts";
import { listStoreEntries, type StoreEntries } from "../store/store_entries.ts";

/** The version printed by `stint --version`. */
export const VERSION = "0.1.0";

interface Entry {
  load(): Promise<CommandModule>;
  /**
   * Reads the store: on a machine without the file and with a bucket
   * configured, restore it first (spec section 6, "start"). Commands that
   * run or write go through the sync session, which does this itself.
   */
  restores?: boolean;
  /**
   * Never records run ends waiting in the journal (a probe never writes;
   * `store` must see the file as it is).
   */
  leavesJournal?: boolean;
  /**
   * Subcommands that write: their own sync session restores (or, when the
   * bucket cannot be read, goes on and owes a restore) instead.
   */
  writes?: readonly string[];
}

/**
 * Load a command module. The specifier is computed so that Deno does not
 * walk every command's module graph (sync, the AWS SDK types, tables...) on
 * each start-up: with string literals here, `stint vars get` paid ~3 ms for
 * modules it never runs. The type argument keeps each module checked
 * against {@linkcode CommandModule}.
 */
function loadCommand<M extends CommandModule>(name: string): Promise<M> {
  return lazyImport(new URL(`./${name}.ts`, import.meta.url));
}

/** The command table (src/cli/commands/), loaded only for help and errors. */
function loadTable(): Promise<typeof import("./commands/mod.ts")> {
  return lazyImport(new URL("./commands/mod.ts", import.meta.url));
}

/**
 * How to run each command. What it is, its flags and its help live in the
 * command table, loaded only for help and errors.
 */
const COMMANDS: Record<string, Entry> = {
  run: { load: () => loadCommand<typeof import("./run.ts")>("run") },
  exec: { load: () => loadCommand<typeof import("./exec.ts")>("exec") },
  rerun: {
    load: () => loadCommand<typeof import("./rerun.ts")>("rerun"),
    restores: true,
  },
  tasks: {
    load: () => loadCommand<typeof import("./tasks.ts")>("tasks"),
    restores: true,
  },
  history: {
    load: () => loadCommand<typeof import("./history.ts")>("history"),
    restores: true,
    writes: ["clear", "prune"],
  },
  logs: {
    load: () => loadCommand<typeof import("./logs.ts")>("logs"),
    restores: true,
  },
  stats: {
    load: () => loadCommand<typeof import("./stats.ts")>("stats"),
    restores: true,
  },
  bg: {
    load: () => loadCommand<typeof import("./bg.ts")>("bg"),
    restores: true,
    writes: ["clean", "__supervise"],
  },
  vars: {
    load: () => loadCommand<typeof import("./vars.ts")>("vars"),
    restores: true,
    writes: ["set", "unset"],
  },
  cache: {
    load: () => loadCommand<typeof import("./cache.ts")>("cache"),
    restores: true,
    writes: ["set", "delete", "clear"],
  },
  sync: { load: () => loadCommand<typeof import("./sync.ts")>("sync") },
  status: {
    load: () => loadCommand<typeof import("./status.ts")>("status"),
    leavesJournal: true,
  },
  store: {
    load: () => loadCommand<typeof import("./store.ts")>("store"),
    leavesJournal: true,
  },
  completions: {
    load: () => loadCommand<typeof import("./completions.ts")>("completions"),
  },
  // Hidden: what the completion scripts call on TAB.
  __complete: {
    load: () =>
      loadCommand<typeof import("./completions.ts")>("completions").then((
        m,
      ) => m.complete),
  },
  ui: {
    load: () => loadCommand<typeof import("./ui.ts")>("ui"),
    restores: true,
  },
};

/** Run the CLI with `argv` (without the program name); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (err) {
    return reportError(err);
  }
}

async function dispatch(argv: string[]): Promise<number> {
  // The words after __complete are a half-typed command line: no global
  // flag is taken out of it (or rejected: `--db` may still lack its value).
  if (argv[0] === "__complete") return await completeLine(argv.slice(1));
  // Only a run pays for run's option table, which comes with the run
  // command's modules (one import, not two).
  const runModule = commandWord(argv) === "run"
    ? await COMMANDS.run.load() as typeof import("./run.ts")
    : undefined;
  mark("cli: run command's modules loaded");
  const { args, db, quiet, verbose, help, version } = extractGlobals(argv, {
    taskNameIndex: runModule?.taskNameIndex,
  });
  if (version) {
    println(`stint ${VERSION}`);
    return 0;
  }
  const [name, ...rest] = args;
  if (
    name === undefined || (help && name === "help") ||
    name === "help" && rest.length === 0
  ) {
    return await topHelp(help || name === "help");
  }
  if (name === "help") return dispatch([...rest, "--help"]);
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) return await unknownCommand(name);
  mark("cli: global options");
  const mod = name === "run" && runModule ? runModule : await entry.load();
  mark(`cli: ${name} command loaded`);
  if (help && name !== "__complete") {
    println(await helpFor(name, rest, mod));
    return 0;
  }
  const ctx: Context = {
    dbPath: resolveDbPath(db),
    quiet: quiet || Deno.env.get("STINT_QUIET") === "1",
    // Asked when a command needs them: `vars get` never does.
    get stdoutIsTty() {
      return Deno.stdout.isTerminal();
    },
    get stderrIsTty() {
      return Deno.stderr.isTerminal();
    },
    get color() {
      return Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
    },
    verbose: verbose || Deno.env.get("STINT_VERBOSE") === "1",
  };
  // One listing of the state dir answers both checks below: a `stat` of
  // each name costs more, mostly for the names that are not there.
  let entries = listStoreEntries(ctx.dbPath);
  if (
    entry.restores && !entry.writes?.includes(rest[0]) &&
    needsRestore(ctx.dbPath, entries)
  ) {
    await restoreFirst(ctx);
    entries = undefined; // the restore changed what is there
  }
  // Run ends an earlier stint could not write (spec section 3): recorded
  // by the next process, silently; the one that saved them said so.
  if (!entry.leavesJournal && journalHasEntries(ctx.dbPath, { entries })) {
    await replay(ctx.dbPath);
  }
  mark("cli: context, journal checked");
  try {
    return await mod.run(rest, ctx);
  } catch (err) {
    // Only on the error path, so `vars get` loads no table: a group's
    // "unknown subcommand" gets the table's list and did-you-mean.
    if (err instanceof UsageError && /unknown subcommand/i.test(err.message)) {
      await checkSubcommand(name, rest[0]);
    }
    throw err;
  }
}

// The cold paths of dispatch, kept out of it: V8 compiles a function on
// its first call, so every line in dispatch costs every command.

/** `stint`, `stint help`, `stint --help`: the command list. */
async function topHelp(asked: boolean): Promise<number> {
  const { renderTopHelp } = await loadTable();
  println(await renderTopHelp());
  return asked ? 0 : 2;
}

/** The usage error for a command that does not exist, with close matches. */
async function unknownCommand(name: string): Promise<never> {
  const { closeMatches } = await lazyImport<typeof import("./suggest.ts")>(
    new URL("./suggest.ts", import.meta.url),
  );
  const { COMMAND_NAMES } = await loadTable();
  const near = closeMatches(name, [...COMMAND_NAMES]);
  throw new UsageError(
    `Unknown command "${name}"${
      near.length ? `; did you mean ${near.join(" or ")}?` : ""
    } (see stint --help)`,
  );
}

/** Restore the store from the bucket before a command reads it. */
async function restoreFirst(ctx: Context): Promise<void> {
  const { restoreIfMissing } = await lazyImport<
    typeof import("./sync_session.ts")
  >(new URL("./sync_session.ts", import.meta.url));
  await restoreIfMissing(ctx);
}

/** Record the run ends waiting in the journal. */
async function replay(dbPath: string): Promise<void> {
  // Lazy, like every import here: this one is the whole store.
  const { replayJournal } = await lazyImport<
    typeof import("../store/run_record.ts")
  >(new URL("../store/run_record.ts", import.meta.url));
  replayJournal(dbPath);
}

/** `stint __complete <words>`: the store is the line's `--db`, if it has one yet. */
async function completeLine(words: string[]): Promise<number> {
  let db: string | undefined;
  for (let i = 0; i < words.length - 1; i++) {
    if (words[i] === "--") break;
    if (words[i] === "--db" && i + 1 < words.length - 1) db = words[++i];
    else if (words[i].startsWith("--db=")) db = words[i].slice(5);
  }
  const mod = await COMMANDS.__complete.load();
  const stdoutIsTty = Deno.stdout.isTerminal();
  return await mod.run(words, {
    dbPath: resolveDbPath(db || undefined),
    quiet: true,
    stdoutIsTty,
    stderrIsTty: Deno.stderr.isTerminal(),
    color: false,
  });
}

/**
 * The help for `stint <name> [words] --help`: a subcommand's own (`bg kill
 * --help`), else the command's, rendered from the command table (or the
 * module's own text where the table says so).
 */
async function helpFor(
  name: string,
  rest: string[],
  mod: CommandModule,
): Promise<string> {
  const { commandTable, findSubcommand, renderHelp } = await loadTable();
  const table = await commandTable(name);
  if (!table) return mod.help ?? "";
  const word = rest.find((a) => !a.startsWith("-"));
  const sub = findSubcommand(table, word);
  if (sub) return renderHelp(sub);
  if (word !== undefined && table.needsSubcommand) {
    await checkSubcommand(name, word);
  }
  return table.moduleHelp && mod.help ? mod.help : renderHelp(table);
}

/** Throw the table's "unknown subcommand" error when `word` is not one of `name`'s. */
async function checkSubcommand(
  name: string,
  word: string | undefined,
): Promise<void> {
  if (word === undefined || word.startsWith("-")) return;
  const { commandTable, unknownSubcommand } = await loadTable();
  const table = await commandTable(name);
  if (!table?.needsSubcommand) return;
  if (table.subcommands?.some((s) => s.name.split(" ").at(-1) === word)) {
    return;
  }
  throw new UsageError(unknownSubcommand(table, word));
}

/**
 * Cheap gate before loading any sync code: not nested in a run (the
 * outermost stint owns the lifecycle), and no local file yet or a restore
 * still owed (`sync/pending.ts`), as `entries` (the state dir's listing)
 * shows, or else one `stat` each.
 */
function needsRestore(
  dbPath: string,
  entries: StoreEntries | undefined,
): boolean {
  if (Deno.env.get("STINT_RUN_ID")) return false;
  if (entries) {
    return entries.kind("") === undefined ||
      restorePending(dbPath, { entries });
  }
  try {
    Deno.statSync(dbPath);
  } catch {
    return true;
  }
  return restorePending(dbPath);
}

const GLOBAL_FLAGS = new Set([
  "--quiet",
  "-q",
  "--verbose",
  "--help",
  "-h",
  "--version",
  "-V",
]);

/**
 * The command word of `argv` as {@linkcode extractGlobals} finds it: the
 * first word that is not a global option (nor `--db`'s value), before `--`.
 */
function commandWord(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") return undefined;
    if (a === "--db") i++;
    else if (!GLOBAL_FLAGS.has(a) && !a.startsWith("--db=")) return a;
  }
  return undefined;
}

/**
 * Pull global flags out of argv (only before a literal `--`, so a task's own
 * arguments are never touched; for `run`, only before the task name, since
 * everything after it is the task's). `-q` given to `run` also stays in its
 * arguments: deno task has a quiet mode of its own.
 */
export function extractGlobals(
  argv: string[],
  options: {
    /** Where a run's task name is in its arguments (src/cli/run_args.ts). */
    taskNameIndex?: (args: string[]) => number;
  } = {},
): {
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
  let stop = argv.length;
  let isRun = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (i >= stop) {
      args.push(...argv.slice(i));
      break;
    }
    if (a === "run" && args.length === 0 && options.taskNameIndex) {
      isRun = true;
      stop = i + 1 + options.taskNameIndex(argv.slice(i + 1));
    }
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
    } else if (a === "--quiet" || a === "-q") {
      quiet = true;
      if (isRun) args.push(a);
    } else if (a === "--verbose") verbose = true;
    else if (a === "--help" || a === "-h") help = true;
    else if ((a === "--version" || a === "-V") && args.length === 0) {
      version = true;
    } else args.push(a);
  }
  return { args, db, quiet, verbose, help, version };
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
