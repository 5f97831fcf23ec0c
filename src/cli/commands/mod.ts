/**
 * The command table: every command, subcommand and flag stint has, loaded
 * per group on demand. `--help`, the flag parsers of the commands that use
 * node:util, subcommand did-you-mean and `stint completions` are generated
 * from it, so they cannot disagree.
 * @module
 */
import type { FlagSpec } from "../args.ts";
import { closeMatches } from "../suggest.ts";
import type { Command, Flag } from "./types.ts";

export type { Command, Completion, Flag } from "./types.ts";

/** The top-level commands in help order, each loading its table entry. */
const GROUPS: Record<string, () => Promise<Command>> = {
  run: async () => (await import("./running.ts")).RUN,
  exec: async () => (await import("./running.ts")).EXEC,
  rerun: async () => (await import("./running.ts")).RERUN,
  tasks: async () => (await import("./history.ts")).TASKS,
  history: async () => (await import("./history.ts")).HISTORY,
  logs: async () => (await import("./history.ts")).LOGS,
  stats: async () => (await import("./history.ts")).STATS,
  bg: async () => (await import("./bg.ts")).BG,
  vars: async () => (await import("./vars.ts")).VARS,
  cache: async () => (await import("./vars.ts")).CACHE,
  sync: async () => (await import("./sync.ts")).SYNC,
  status: async () => (await import("./sync.ts")).STATUS,
  store: async () => (await import("./sync.ts")).STORE,
  ui: async () => (await import("./ui.ts")).UI,
  completions: async () => (await import("./shell.ts")).COMPLETIONS,
};

/** Options every command accepts (handled by the dispatcher). */
export const GLOBAL_FLAGS: readonly Flag[] = [
  {
    name: "db",
    value: "<file>",
    help: "Use this store file (default: $STINT_DB, else the XDG state dir)",
    complete: "files",
  },
  {
    name: "quiet",
    short: "q",
    help: "No sync or progress messages on stderr (also STINT_QUIET=1)",
  },
  {
    name: "verbose",
    help: "Also report routine sync successes (also STINT_VERBOSE=1)",
  },
  {
    name: "help",
    short: "h",
    help: "Show help (also: stint <command> --help)",
  },
  { name: "version", short: "V", help: "Show the version" },
];

/** The names of the top-level commands, in help order. */
export const COMMAND_NAMES: readonly string[] = Object.keys(GROUPS);

/** The table entry of a top-level command, or undefined. */
export async function commandTable(
  name: string,
): Promise<Command | undefined> {
  const load = Object.hasOwn(GROUPS, name) ? GROUPS[name] : undefined;
  return load ? await load() : undefined;
}

/** Every top-level command's table entry, in help order. */
export async function allCommands(): Promise<Command[]> {
  return await Promise.all(COMMAND_NAMES.map((n) => GROUPS[n]()));
}

/** The visible subcommand of `cmd` named `word`. */
export function findSubcommand(
  cmd: Command,
  word: string | undefined,
): Command | undefined {
  if (word === undefined) return undefined;
  return cmd.subcommands?.find((s) =>
    s.name.split(" ").at(-1) === word && !s.hidden
  );
}

/** The names of `cmd`'s visible subcommands. */
export function subcommandNames(cmd: Command): string[] {
  return (cmd.subcommands ?? []).filter((s) => !s.hidden).map((s) =>
    s.name.split(" ").at(-1)!
  );
}

/**
 * The one-line error for `stint <group> <word>` when `word` is not one of
 * the group's subcommands: what they are, and the closest if it looks like
 * a typo (`bg lsit`: did you mean list?).
 */
export function unknownSubcommand(cmd: Command, word: string): string {
  const names = subcommandNames(cmd);
  const near = closeMatches(word, names);
  return `Unknown subcommand "${cmd.name} ${word}"${
    near.length ? `; did you mean ${near.join(" or ")}?` : ""
  } (${cmd.name} has ${names.join(", ")}; see stint ${cmd.name} --help)`;
}

/** The node:util parseArgs options for `flags`. */
export function parseSpec(flags: readonly Flag[]): FlagSpec {
  const spec: FlagSpec = {};
  for (const f of flags) {
    spec[f.name] = f.short
      ? { type: f.value ? "string" : "boolean", short: f.short }
      : { type: f.value ? "string" : "boolean" };
  }
  return spec;
}

/** The long names of the flags that take a value. */
export function valuedFlags(flags: readonly Flag[]): Set<string> {
  const set = new Set<string>();
  for (const f of flags) {
    if (!f.value || f.inline) continue;
    set.add(`--${f.name}`);
    if (f.short) set.add(`-${f.short}`);
  }
  return set;
}

/** Full help for a command: usage, about, options, subcommands, notes, examples. */
export function renderHelp(cmd: Command): string {
  const out: string[] = [];
  cmd.usage.forEach((u, i) =>
    out.push(...wrapUsage(`${i === 0 ? "Usage: " : "       "}stint ${u}`))
  );
  if (cmd.about) out.push("", cmd.about);
  const flags = cmd.flags.filter((f) => !f.hidden);
  if (flags.length) {
    out.push("", "Options:");
    out.push(...twoColumns(flags.map((f) => [flagLabel(f, flags), f.help])));
  }
  const subs = (cmd.subcommands ?? []).filter((s) => !s.hidden);
  if (subs.length) {
    out.push("", "Subcommands:");
    out.push(
      ...twoColumns(subs.map((s) => [
        s.usage[0].slice(cmd.name.length + 1),
        s.summary,
      ])),
    );
    out.push("", `Help for one: stint ${cmd.name} <subcommand> --help`);
  }
  if (cmd.notes) out.push("", cmd.notes);
  if (cmd.examples?.length) {
    out.push("", "Examples:", ...cmd.examples.map((e) => `  ${e}`));
  }
  return out.join("\n");
}

/**
 * A usage line wider than 80 columns, broken before an option group (`[`)
 * and gone on under the first option.
 */
function wrapUsage(line: string): string[] {
  if (line.length <= 80) return [line];
  const first = line.indexOf(" [");
  if (first === -1) return [line];
  const indent = " ".repeat(first + 1);
  const words = line.slice(first + 1).split(/ (?=\[)/);
  const out = [line.slice(0, first)];
  for (const w of words) {
    const last = out[out.length - 1];
    if (last.length + 1 + w.length <= 80 || last.trim() === "") {
      out[out.length - 1] = `${last} ${w}`;
    } else out.push(`${indent}${w}`);
  }
  return out;
}

/** The top-level help: every command with its summary, and the global options. */
export async function renderTopHelp(): Promise<string> {
  const cmds = (await allCommands()).filter((c) => !c.hidden);
  return [
    "stint — run Deno tasks and remember everything about them",
    "",
    "Usage: stint [--db <file>] [--quiet] <command> [options]",
    "",
    "Commands:",
    ...twoColumns(cmds.map((c) => [c.name, c.summary])),
    "",
    "Global options:",
    ...twoColumns(
      GLOBAL_FLAGS.map((f) => [flagLabel(f, GLOBAL_FLAGS), f.help]),
    ),
    "",
    "Environment: STINT_DB, STINT_QUIET, STINT_VERBOSE, NO_COLOR, COLUMNS (the",
    "width tables fit), STINT_DEBUG=1 (stack traces for internal errors),",
    "STINT_BUSY_TIMEOUT (how long to wait for another process's write lock,",
    "default 30s), and the sync settings listed in stint sync --help.",
    "",
    "Shell completions: stint completions bash|zsh|fish (see its --help)",
  ].join("\n");
}

function flagLabel(f: Flag, all: readonly Flag[]): string {
  const anyShort = all.some((x) => x.short);
  const long = `--${f.name}${
    f.value ? (f.inline ? `[=${f.value}]` : ` ${f.value}`) : ""
  }`;
  return f.short ? `-${f.short}, ${long}` : anyShort ? `    ${long}` : long;
}

/** How wide help text is (what a terminal shows without wrapping). */
const HELP_WIDTH = 80;

/**
 * Rows of `[label, text]` as aligned lines; a long label puts its text on
 * the next line, and a long text wraps at word breaks under itself.
 */
function twoColumns(rows: [string, string][]): string[] {
  const fit = rows.map(([l]) => l.length).filter((n) => n <= 26);
  const width = Math.max(12, ...fit) + 2;
  const indent = " ".repeat(width + 2);
  const lines: string[] = [];
  for (const [label, text] of rows) {
    const [first, ...more] = wrapWords(text, HELP_WIDTH - width - 2);
    if (label.length + 2 > width) {
      lines.push(`  ${label}`, `${indent}${first}`);
    } else {
      lines.push(`  ${label.padEnd(width)}${first}`);
    }
    for (const line of more) lines.push(`${indent}${line}`);
  }
  return lines;
}

/** `text` in lines of at most `width` characters, broken between words. */
function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}
