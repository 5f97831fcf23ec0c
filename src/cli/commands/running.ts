/**
 * The command table for running things: `run`, `exec`, `rerun`.
 * `run` and `exec` parse their own flags on the start-up path
 * (src/cli/fast_flags.ts) and keep their own help text (src/cli/run.ts,
 * exec.ts); these entries describe stint's own flags for completions.
 * @module
 */
import {
  DENO_TASK_OPTIONS,
  RUN_OWN_OPTIONS,
  type RunOption,
} from "../run_args.ts";
import type { Command, Completion, Flag } from "./types.ts";

/** `exec`'s -b and --json (run's come from its option table). */
const LAUNCH_FLAGS: Flag[] = [
  {
    name: "background",
    short: "b",
    help: "Start detached, print the background run id, return at once",
  },
  {
    name: "json",
    help:
      "Print the finished run's record as JSON (with -b: the background run)",
  },
];

/** What the value of each of run's options is, for completions. */
const RUN_VALUES: Record<string, { value: string; complete?: Completion }> = {
  name: { value: "<ref>", complete: "refs" },
  cwd: { value: "<dir>", complete: "dirs" },
  config: { value: "<file>", complete: "files" },
  filter: { value: "<pattern>" },
  jobs: { value: "<n>" },
  "env-file": { value: "<file>", complete: "files" },
  "node-modules-dir": {
    value: "<mode>",
    complete: ["auto", "manual", "none"],
  },
  lock: { value: "<file>", complete: "files" },
  "frozen-lockfile": { value: "<bool>", complete: ["true", "false"] },
  "log-level": { value: "<level>", complete: ["trace", "debug", "info"] },
};

/** deno task's options stint passes on but does not offer (hidden in deno). */
const UNOFFERED = new Set(["tunnel", "unstable"]);

/**
 * run's flags for completions: stint's own and deno task's, from the option
 * tables run parses with (src/cli/run_args.ts), so they cannot drift.
 * Aliases are listed hidden, so a value after them is still skipped.
 */
function runFlags(options: readonly RunOption[]): Flag[] {
  const flags: Flag[] = [];
  for (const o of options) {
    const v = o.value === "none" ? undefined : RUN_VALUES[o.long];
    const flag: Flag = {
      name: o.long,
      short: o.short,
      help: o.help,
      ...(v && { value: v.value, complete: v.complete }),
      ...(o.value === "optional-equals" && { inline: true }),
      ...(UNOFFERED.has(o.long) && { hidden: true }),
    };
    flags.push(flag);
    for (const alias of o.aliases ?? []) {
      flags.push({ ...flag, name: alias, short: undefined, hidden: true });
    }
  }
  return flags;
}

/** `stint run`. */
export const RUN: Command = {
  name: "run",
  summary: "Run a deno.json task and record it (-b: in the background)",
  usage: ["run <task> [-b] [--json] [-- args...]"],
  moduleHelp: true,
  about:
    `Run a task of the nearest deno.json / deno.jsonc / package.json (found as
deno task finds it) with \`deno task <task> args...\` in that file's directory,
so dependencies, the task shell and wildcards behave exactly as in deno task.
Output streams to the terminal unchanged and is kept byte-exact in the run's
log (stint logs <id>). The run is recorded under the ref <project>:<task>.`,
  flags: runFlags([...RUN_OWN_OPTIONS, ...DENO_TASK_OPTIONS]),
  args: ["tasks", "files"],
  optionsBeforeArgs: true,
};

/** `stint exec`. */
export const EXEC: Command = {
  name: "exec",
  summary: "Run an ad-hoc command and record it",
  usage: [
    "exec [--name <ref>] [--shell] [-b] [--json] -- <command> [args...]",
  ],
  moduleHelp: true,
  flags: [
    {
      name: "name",
      value: "<ref>",
      help: "Record the run under this ref (default: exec:<program>)",
      complete: "refs",
    },
    { name: "shell", help: "Run the words after -- as one /bin/sh -c script" },
    ...LAUNCH_FLAGS,
  ],
  args: ["commands", "files"],
};

/** `stint rerun`. */
export const RERUN: Command = {
  name: "rerun",
  summary: "Run a recorded run again: same task or command, same arguments",
  usage: ["rerun [<id>|<ref>|<task>] [--failed] [-b] [--json]"],
  about: `Run the same task (or command) with the same arguments in the same
directory as a recorded run, recorded as a new run whose rerun_of names the
one it repeats. A task run goes through deno task again, so the task's
current definition in deno.json is what runs.

The run is picked by an execution id (or a unique prefix of one), a ref (its
newest run) or a task of the current project (its newest run); with nothing
given, the newest run of the current project (--failed: the newest failed
one).`,
  flags: [
    {
      name: "failed",
      help: "The newest failed run of the current project (or of <ref>)",
    },
    {
      name: "background",
      short: "b",
      help: "Start it detached and print the background run id",
    },
    { name: "json", help: "Print the new run's record as JSON" },
  ],
  args: ["runs"],
  notes:
    `Exit codes: the repeated run's own exit code (as stint run); 1 no such run,
or its directory no longer exists; 2 bad usage.`,
  examples: [
    "stint rerun                     # the newest run here, again",
    "stint rerun --failed            # the newest failure here, again",
    "stint rerun myapp:test          # the newest run of myapp:test",
    "stint rerun 01a2094f -b         # one run, in the background",
  ],
};
