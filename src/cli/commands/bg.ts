/**
 * The command table for `stint bg` and its subcommands (src/cli/bg.ts
 * parses with these flags).
 * @module
 */
import type { Command, Flag } from "./types.ts";

const JSON_FLAG: Flag = { name: "json", help: "Print JSON" };

/** The signals `bg kill --signal` completes to. */
const SIGNALS = ["TERM", "INT", "HUP", "QUIT", "KILL", "USR1", "USR2"];

const LIST: Command = {
  name: "bg list",
  summary: "Running background runs (--all: finished ones too)",
  usage: ["bg list [--all] [--json]"],
  flags: [
    { name: "all", short: "a", help: "Finished runs too" },
    { ...JSON_FLAG, help: "Print JSON: an array of background runs" },
  ],
  examples: ["stint bg list", "stint bg list --all --json"],
};

const SHOW: Command = {
  name: "bg show",
  summary: "Everything about one background run",
  usage: ["bg show <id> [--json]"],
  about:
    `Everything about one background run. "supervisor" is the detached stint
process that runs it (pid and pgid in --json), "task" the task's own process
group (task_pid and task_pgid in --json): bg kill signals that group.`,
  flags: [{
    ...JSON_FLAG,
    help: "Print JSON: the run, its execution and its log path",
  }],
  args: ["bg"],
  examples: ["stint bg show k3x"],
};

const LOGS: Command = {
  name: "bg logs",
  summary: "Print its log; -f follows until the run ends",
  usage: ["bg logs <id> [-f]"],
  flags: [{
    name: "follow",
    short: "f",
    help: "Keep printing new output until the run ends",
  }],
  args: ["bg"],
  examples: ["stint bg logs k3x9q2mf -f"],
};

const KILL: Command = {
  name: "bg kill",
  summary: "Signal the run's whole process group; SIGKILL after a grace period",
  usage: ["bg kill <id> [--signal S] [--grace D]"],
  about:
    `Send a signal (default TERM) to the run's whole process group; whatever is
left after the grace period (default 10s) gets SIGKILL. The run ends killed.
A lost run's leftover task is killed too.`,
  flags: [
    {
      name: "signal",
      short: "s",
      value: "<S>",
      help:
        "The signal: TERM, INT, HUP, QUIT, KILL, USR1, USR2 (SIG prefix optional)",
      complete: SIGNALS,
    },
    {
      name: "grace",
      value: "<D>",
      help: "How long before SIGKILL (10s, 1m, ...; default 10s)",
    },
  ],
  args: ["bg"],
  notes: `Exit codes: 0 killed, 1 no such run, it already ended, or it runs on
another host; 2 bad usage.`,
  examples: [
    "stint bg kill k3x9q2mf",
    "stint bg kill k3x9q2mf --signal INT --grace 30s",
  ],
};

const WAIT: Command = {
  name: "bg wait",
  summary: "Wait for the run to end; exit with its code",
  usage: ["bg wait <id> [--timeout D] [--json]"],
  flags: [
    {
      name: "timeout",
      short: "t",
      value: "<D>",
      help: "Give up after this long (exit 124; the run goes on)",
    },
    { ...JSON_FLAG, help: "Print the finished background run as JSON" },
  ],
  args: ["bg"],
  notes:
    `Exit codes: the run's own exit code (128+n if killed by signal n); 124 the
timeout ran out; 125 the run was lost (its exit code is unknown); 1 no such run.`,
  examples: ['stint bg wait k3x9q2mf --timeout 10m; echo "exit $?"'],
};

const RESTART: Command = {
  name: "bg restart",
  summary: "Start the same task or command again in the background",
  usage: ["bg restart <id> [--grace D] [--json]"],
  about:
    `Start the run's task (or command) again, with the same arguments and in
the same directory, as a new background run whose execution names the one it
repeats (rerun_of). A run that is still running on this host is killed first
(TERM, then KILL after the grace period), as for a dev server. Prints the new
background run id.`,
  flags: [
    {
      name: "grace",
      value: "<D>",
      help: "When killing a running run: how long before SIGKILL (default 10s)",
    },
    { ...JSON_FLAG, help: "Print the new background run as JSON" },
  ],
  args: ["bg"],
  notes:
    "Exit codes: 0 started, 1 no such run, or it runs on another host; 2 bad usage.",
  examples: ['id=$(stint bg restart k3x9q2mf) && stint bg logs "$id" -f'],
};

const CLEAN: Command = {
  name: "bg clean",
  summary: "Delete finished runs and their logs (default: every finished run)",
  usage: ["bg clean [--older-than D] [--json]"],
  flags: [
    {
      name: "older-than",
      value: "<D>",
      help: "Only runs that finished longer ago than this (7d, 12h, ...)",
    },
    { ...JSON_FLAG, help: "Print JSON: removed, ids" },
  ],
  examples: ["stint bg clean --older-than 7d"],
};

const SUPERVISE: Command = {
  name: "bg __supervise",
  summary: "The detached supervisor (internal)",
  usage: ["bg __supervise <payload>"],
  flags: [],
  hidden: true,
};

/** `stint bg`. */
export const BG: Command = {
  name: "bg",
  summary: "List, follow, kill, wait for and restart background runs",
  usage: ["bg <subcommand> [options]"],
  about:
    `Background runs are started with stint run -b <task> or stint exec -b -- <cmd>.
A detached supervisor runs each one (own session, no terminal, output to the
run's log) and records its end. <id> may be a unique prefix of the id (at
least 2 characters).

Statuses, the same words as stint history: running, succeeded, failed,
killed, lost (the supervisor died without recording the end; found when runs
are read).`,
  flags: [],
  subcommands: [LIST, SHOW, LOGS, KILL, WAIT, RESTART, CLEAN, SUPERVISE],
  needsSubcommand: true,
  notes: `Exit codes:
  0        success (bg wait: the run's own exit code instead)
  1        unknown id, ambiguous prefix, no log, killing a run that already
           ended, or acting on a running run of another host
  2        bad usage
  124      bg wait --timeout ran out (the run goes on)
  125      bg wait on a run that was lost (its exit code is unknown)`,
  examples: [
    "id=$(stint run -b dev)",
    "stint bg list",
    'stint bg logs "$id" -f',
    'stint bg kill "$id" --signal INT',
    'stint bg restart "$id"',
    'stint bg wait "$id" --timeout 10m; echo "exit $?"',
    "stint bg clean --older-than 7d",
  ],
};
