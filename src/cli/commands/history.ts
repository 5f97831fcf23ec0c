/**
 * The command table for reading history: `tasks`, `history`, `logs`,
 * `stats`. Their modules parse with these flags.
 * @module
 */
import { STATUSES } from "../../store/history_query.ts";
import type { Command, Flag } from "./types.ts";

const JSON_FLAG: Flag = {
  name: "json",
  help: "Print JSON (snake_case fields, ISO-8601 times)",
};

/** The status words `--status` completes to (`completed` is accepted too). */
const STATUS_WORDS = STATUSES;

/** `stint tasks`. */
export const TASKS: Command = {
  name: "tasks",
  summary: "List the project's tasks with their last status and duration",
  usage: ["tasks [--json]"],
  about:
    `List the tasks deno task sees from here (the nearest deno.json / deno.jsonc /
package.json, then, in a workspace member, the workspace root's tasks, marked
"(workspace)") with their description, dependencies, and from history: the
last run's status and duration and the median duration (of the newest 1,000
runs that ran to their end). A task's runs are recorded under the ref
<project>:<task> (a root task run from a member: the root's ref). A task
without a description shows its command; the table fits the terminal
(COLUMNS).`,
  flags: [{
    ...JSON_FLAG,
    help:
      "Print JSON: { project, config_path, dir, workspace_root, tasks: [...] }",
  }],
  notes: "Exit codes: 0 ok, 1 no config file found, 2 bad usage.",
  examples: ["stint tasks", "stint tasks --json"],
};

const CLEAR: Command = {
  name: "history clear",
  summary: "Delete every finished run of <ref> and its log files",
  usage: ["history clear <ref> [--yes]"],
  about:
    `Delete every finished run of <ref> and their log files. Asks first on a
terminal; without one, --yes is required. Running runs are kept. A bare task
name (test) means the current project's ref for it, as for stint history.`,
  flags: [{ name: "yes", short: "y", help: "Do not ask" }],
  args: ["refs"],
  notes:
    "Exit codes: 0 deleted, 1 no finished runs of <ref> or declined, 2 bad usage.",
  examples: ["stint history clear myapp:test --yes"],
};

const PRUNE: Command = {
  name: "history prune",
  summary: "Delete finished runs (and their logs) beyond a retention policy",
  usage: [
    "history prune [--older-than <when>] [--keep <n>] [--ref <ref>] [--dry-run] [--yes]",
  ],
  about:
    `Delete the finished runs a retention policy lets go, with their log files.
Without --older-than or --keep, the configured policy applies (STINT_RETENTION
or "retention" in the config file; default: runs older than 90 days that are
not among the newest 100 of their ref). With either, the policy is exactly the
rules given: --older-than alone deletes every finished run older than that,
--keep alone keeps the newest n of each ref whatever their age, both together
delete a run only when both say so. Running runs are never deleted. With a
bucket configured the deletion syncs (tombstones), so every host ends up with
the same history. Asks first on a terminal; without one, --yes is required.
stint also applies the configured policy on its own, at most once an hour,
after a command that writes.`,
  flags: [
    {
      name: "older-than",
      value: "<when>",
      help: "Only runs started longer ago than <when> (90d, 12w, 36h)",
    },
    {
      name: "keep",
      value: "<n>",
      help: "Keep the newest n runs of each ref, however old",
    },
    {
      name: "ref",
      value: "<ref>",
      help: "Only runs of this ref (or a task name of the current project)",
      complete: "refs",
    },
    { name: "dry-run", help: "Print what would be deleted; delete nothing" },
    { name: "yes", short: "y", help: "Do not ask" },
    {
      ...JSON_FLAG,
      help:
        "Print JSON: { dry_run, runs, logs, log_bytes, refs: [...], ids: [...] }",
    },
  ],
  notes:
    `Exit codes: 0 done (nothing to delete is not an error), 1 declined, 2 bad usage.`,
  examples: [
    "stint history prune --dry-run",
    "stint history prune --older-than 30d --keep 20 --yes",
    "stint history prune --ref myapp:test --keep 10 --dry-run",
  ],
};

const REFS: Command = {
  name: "history refs",
  summary: "Every ref with its run count, last run and last status",
  usage: ["history refs [--json]"],
  flags: [JSON_FLAG],
  notes: "Exit codes: 0 ok, 2 bad usage.",
  examples: ["stint history refs", "stint history refs --json"],
};

/** `stint history`. */
export const HISTORY: Command = {
  name: "history",
  summary: "Show recorded runs (filters, refs, clear, prune)",
  usage: [
    "history [ref] [options]",
    "history refs [--json]",
    "history clear <ref> [--yes]",
    "history prune [--older-than <when>] [--keep <n>] [--ref <ref>] [--dry-run]",
  ],
  about: `Show recorded runs, newest first. Filters are applied in the store, so
--status failed --limit 5 gives the five newest failures however old they are.
Filters combine (AND).`,
  flags: [
    { name: "limit", value: "<n>", help: "Show at most n runs (default 20)" },
    { name: "all", help: "Show every matching run (no limit)" },
    {
      name: "status",
      value: "<s>",
      help: `Only this status: ${
        STATUS_WORDS.join(", ")
      } (completed = succeeded)`,
      complete: STATUS_WORDS,
    },
    {
      name: "exit",
      value: "<n>",
      help: "Only runs that exited with code n (0-255)",
    },
    {
      name: "grep",
      value: "<text>",
      help: "Only runs whose ref, command line or arguments contain text",
    },
    {
      name: "since",
      value: "<when>",
      help:
        "Only runs started in the last <when> (30m, 12h, 7d, 2w) or since a date",
    },
    {
      name: "until",
      value: "<when>",
      help:
        "Only runs started before <when> ago (or before a date, 2026-11-01)",
    },
    {
      name: "project",
      help: "Only runs of the current project (its directory and below)",
    },
    {
      name: "cwd",
      value: "<dir>",
      help:
        "Only runs recorded in <dir> or below (the task's project, exec's cwd)",
      complete: "dirs",
    },
    {
      name: "host",
      value: "<id>",
      help:
        "Only runs recorded on this host id (see the HOST column or --json)",
    },
    {
      ...JSON_FLAG,
      help: "Print JSON: an array of runs (snake_case fields, ISO-8601 times)",
    },
  ],
  args: ["refs"],
  subcommands: [REFS, CLEAR, PRUNE],
  notes:
    `Exit codes: 0 ok (an empty result is not an error), 1 nothing to clear,
2 bad usage.`,
  examples: [
    "stint history",
    "stint history myapp:test --status failed --limit 5",
    "stint history --exit 1 --since 7d",
    "stint history --grep parser --project",
    "stint history --since 2026-11-01 --until 2026-11-08 --json",
    "stint history refs",
    "stint history clear myapp:test --yes",
    "stint history prune --dry-run",
  ],
};

/** `stint logs`. */
export const LOGS: Command = {
  name: "logs",
  summary: "Print or follow the log of a run (default: the newest one here)",
  usage: ["logs [<run-or-background-id>|--last|--failed] [options]"],
  about:
    `Print the captured output (stdout and stderr, interleaved as they arrived) of
a run, byte for byte. The id is an execution id or a unique prefix of one (the
ID column of stint history), or a background run id (stint bg list). With no
id, the newest run of the current project (its directory and below; --failed:
the newest failed one); on a terminal, stderr names the run shown.`,
  flags: [
    {
      name: "last",
      help: "The newest run of the current project (the default)",
    },
    { name: "failed", help: "The newest failed run of the current project" },
    {
      name: "follow",
      short: "f",
      help: "Keep printing new output as it arrives; stops when the run ends",
    },
    {
      name: "tail",
      short: "n",
      value: "<n>",
      help: "Only the last n lines (with --follow: then everything new)",
    },
    {
      name: "grep",
      value: "<re>",
      help: "Only lines matching the regular expression (JavaScript syntax)",
    },
  ],
  args: ["runs"],
  notes:
    `Exit codes: 0 ok, 1 no such run (or none in this project) or no log for
it, 2 bad usage.`,
  examples: [
    "stint logs                       # the newest run here",
    "stint logs --failed --tail 30    # why did it fail?",
    "stint logs 0193a1b2 --grep 'error|warn'",
    "stint logs k3x9q2mf --follow",
  ],
};

/** `stint stats`. */
export const STATS: Command = {
  name: "stats",
  summary: "Success rate and duration percentiles per ref",
  usage: ["stats [ref] [options]"],
  about:
    `Per ref (or for one ref): how many runs were recorded, the success rate of
the finished runs, the median (p50) and p95 duration, and a sparkline of the
recent durations (oldest to newest). Rates and percentiles cover each ref's
newest runs (--window, default 1000) so they describe the task as it is now.
Durations count runs that ended on their own (succeeded or failed); killed
and lost runs measure the interruption, not the task.`,
  flags: [
    {
      name: "recent",
      value: "<n>",
      help: "Durations in the sparkline (default 20)",
    },
    {
      name: "window",
      value: "<n>",
      help: "Newest runs the rates and percentiles cover (default 1000)",
    },
    {
      ...JSON_FLAG,
      help: "Print JSON: an array of per-ref stats (durations in ms)",
    },
  ],
  args: ["refs"],
  notes: "Exit codes: 0 ok, 1 no runs recorded for the ref, 2 bad usage.",
  examples: ["stint stats", "stint stats myapp:test", "stint stats --json"],
};
