/**
 * The command line of `stint run`, read the way `deno task` reads its own:
 * options come before the task name, and everything after the task name
 * belongs to the task, word for word (a `--` too, as deno passes it on).
 * stint keeps its own options (`-b`, `--json`, `--name`, and the
 * global `--db` / `--quiet` / `--help`, which the dispatcher takes) and
 * passes every `deno task` option through unchanged.
 * @module
 */

/** How an option takes its value. */
export type ValueKind =
  /** a flag: `-r` */
  | "none"
  /** `--cwd dir`, `--cwd=dir`, `-j4`, `-j 4` */
  | "required"
  /** `--lock` or `--lock file` (the next word when it is not an option) */
  | "optional"
  /** `--env-file` or `--env-file=.env` only */
  | "optional-equals";

/** One option of `stint run`. */
export interface RunOption {
  /** The long name, without `--`. */
  long: string;
  /** The one-letter form, if any. */
  short?: string;
  /** Other long names deno accepts. */
  aliases?: string[];
  /** How it takes a value. */
  value: ValueKind;
  /** What it does (for help and completions). */
  help: string;
}

/**
 * stint's own options for `stint run` (consumed, never passed to deno).
 * The global `--db <file>`, `-q/--quiet` and `-h/--help` are taken by the
 * dispatcher before the task name; `-q` is also passed to deno task.
 */
export const RUN_OWN_OPTIONS: readonly RunOption[] = [
  {
    long: "background",
    short: "b",
    value: "none",
    help: "Start detached, print the background run id, return at once",
  },
  {
    long: "json",
    value: "none",
    help:
      "Print the finished run's record as JSON (with -b: the background run)",
  },
  {
    long: "name",
    value: "required",
    help: "Record the run under this ref instead of <project>:<task>",
  },
];

/** `deno task`'s own options (2.9), passed through to it unchanged. */
export const DENO_TASK_OPTIONS: readonly RunOption[] = [
  { long: "cwd", value: "required", help: "The directory to run the task in" },
  {
    long: "config",
    short: "c",
    value: "required",
    help: "The config file to read tasks from",
  },
  {
    long: "recursive",
    short: "r",
    value: "none",
    help: "Run the task in every workspace folder",
  },
  {
    long: "members",
    value: "none",
    help: "Run the task in every workspace member (not the root)",
  },
  {
    long: "filter",
    short: "f",
    value: "required",
    help: "Run the task in the workspace members whose name matches",
  },
  {
    long: "eval",
    value: "none",
    help: "Run the task name as a command line",
  },
  {
    long: "if-present",
    value: "none",
    help: "Exit 0 when the task is not defined",
  },
  {
    long: "no-prefix",
    value: "none",
    help: "Do not prefix the output of concurrent tasks",
  },
  {
    long: "jobs",
    short: "j",
    aliases: ["concurrency"],
    value: "required",
    help: "How many tasks run at once",
  },
  {
    long: "env-file",
    aliases: ["env"],
    value: "optional-equals",
    help: "Load environment variables from a file (default .env)",
  },
  {
    long: "node-modules-dir",
    value: "optional-equals",
    help: "The node_modules mode: auto, manual or none",
  },
  {
    long: "lock",
    value: "optional",
    help: "Check this lock file (default ./deno.lock)",
  },
  { long: "no-lock", value: "none", help: "Do not use a lock file" },
  {
    long: "frozen-lockfile",
    aliases: ["frozen"],
    value: "optional-equals",
    help: "Fail when the lock file is out of date",
  },
  {
    long: "log-level",
    short: "L",
    value: "required",
    help: "deno's log level: trace, debug or info",
  },
  {
    long: "quiet",
    short: "q",
    value: "none",
    help: "deno's quiet mode (no Task line); also stint's --quiet",
  },
  {
    long: "tunnel",
    value: "none",
    help: "(hidden in deno) Deno Deploy tunnel",
  },
  { long: "unstable", value: "none", help: "(deprecated in deno)" },
];

/** The global options the dispatcher takes before a run's task name. */
const GLOBAL_OPTIONS: readonly RunOption[] = [
  { long: "db", value: "required", help: "The store file" },
  { long: "quiet", short: "q", value: "none", help: "Quiet" },
  { long: "help", short: "h", value: "none", help: "Help" },
];

/** A parsed `stint run` command line. */
export interface RunArgs {
  /** `-b` / `--background`. */
  background: boolean;
  /** `--json`. */
  json: boolean;
  /** `--name <ref>`. */
  name: string | undefined;
  /** The deno task options as given (each a word to pass on), in order. */
  denoOptions: string[];
  /** The values of the deno task options stint reads (last one wins). */
  deno: Record<string, string | true>;
  /** The task name (or the `--eval` command line); undefined when none. */
  task: string | undefined;
  /** The task's own arguments. */
  taskArgs: string[];
  /** The first option stint does not know (it is passed on; deno judges it). */
  unknownOption: string | null;
  /** One of stint's own options given without its value (a usage error). */
  missingValue: string | null;
}

/** Parse `args` (what follows `run`, globals already removed). */
export function parseRunArgs(args: string[]): RunArgs {
  const out: RunArgs = {
    background: false,
    json: false,
    name: undefined,
    denoOptions: [],
    deno: {},
    task: undefined,
    taskArgs: [],
    unknownOption: null,
    missingValue: null,
  };
  const at = scan(args, [...RUN_OWN_OPTIONS, ...DENO_TASK_OPTIONS], {
    option(opt, words, value) {
      if (opt === null) {
        out.unknownOption ??= words[0].split("=")[0];
        out.denoOptions.push(...words);
      } else if (opt.long === "background") out.background = true;
      else if (opt.long === "json") out.json = true;
      else if (opt.long === "name") {
        if (value === undefined) out.missingValue ??= words[0];
        out.name = value;
      } else {
        out.deno[opt.long] = value ?? true;
        out.denoOptions.push(...words);
      }
    },
  });
  if (at < args.length) {
    out.task = args[at] === "--" ? args[at + 1] : args[at];
    // Word for word, a `--` too: deno task passes it on to the task.
    out.taskArgs = args.slice(args[at] === "--" ? at + 2 : at + 1);
  }
  return out;
}

/**
 * Where the task name is in `args` (what follows `run`, globals included),
 * or `args.length` when there is none: the dispatcher takes global options
 * only before it, so `stint run test --help` passes `--help` to the task.
 */
export function taskNameIndex(args: string[]): number {
  return scan(args, [
    ...GLOBAL_OPTIONS,
    ...RUN_OWN_OPTIONS,
    ...DENO_TASK_OPTIONS,
  ], {
    option() {},
  });
}

interface ScanHandler {
  /** An option: its definition (null if unknown), the words that spell it, its value. */
  option(
    opt: RunOption | null,
    words: string[],
    value: string | undefined,
  ): void;
}

/** Walk the options before the task name; returns the task name's index. */
function scan(
  args: string[],
  options: readonly RunOption[],
  handler: ScanHandler,
): number {
  const byLong = new Map<string, RunOption>();
  const byShort = new Map<string, RunOption>();
  for (const o of options) {
    byLong.set(o.long, o);
    for (const a of o.aliases ?? []) byLong.set(a, o);
    if (o.short) byShort.set(o.short, o);
  }
  for (let i = 0; i < args.length; i++) {
    const word = args[i];
    if (word === "--" || !word.startsWith("-") || word === "-") return i;
    if (word.startsWith("--")) {
      const eq = word.indexOf("=");
      const name = word.slice(2, eq === -1 ? undefined : eq);
      const opt = byLong.get(name) ??
        (name.startsWith("unstable-") ? UNSTABLE : undefined);
      if (!opt) {
        handler.option(null, [word], undefined);
        continue;
      }
      const words = [word];
      let value = eq === -1 ? undefined : word.slice(eq + 1);
      const next = args[i + 1];
      if (
        value === undefined && next !== undefined &&
        (opt.value === "required" ||
          opt.value === "optional" && !next.startsWith("-"))
      ) {
        value = next;
        words.push(args[++i]);
      }
      handler.option(opt, words, value);
      continue;
    }
    // A cluster of short options: -rj4, -cdeno.json, -bq.
    for (let k = 1; k < word.length; k++) {
      const opt = byShort.get(word[k]);
      if (!opt) {
        handler.option(null, [`-${word.slice(k)}`], undefined);
        break;
      }
      if (opt.value === "none") {
        handler.option(opt, [`-${word[k]}`], undefined);
        continue;
      }
      const inline = word.slice(k + 1);
      if (inline !== "") {
        handler.option(opt, [`-${word.slice(k)}`], inline.replace(/^=/, ""));
      } else if (i + 1 < args.length) {
        handler.option(opt, [`-${word[k]}`, args[i + 1]], args[++i]);
      } else {
        handler.option(opt, [`-${word[k]}`], undefined);
      }
      break;
    }
  }
  return args.length;
}

const UNSTABLE: RunOption = { long: "unstable-*", value: "none", help: "" };
