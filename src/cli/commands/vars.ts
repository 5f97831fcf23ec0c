/**
 * The command table for `stint vars` and `stint cache`. Their modules parse
 * their flags themselves (the `vars get` / `cache get` start-up path loads
 * nothing else); tests/commands_test.ts checks that the flags here are the
 * ones those modules accept.
 * @module
 */
import type { Command, Flag } from "./types.ts";

const GLOBAL: Flag = { name: "global", help: "Use the root scope only" };

/** `stint vars`. */
export const VARS: Command = {
  name: "vars",
  summary: "Scoped variables (this run, its callers, then root)",
  usage: ["vars <subcommand> [options]"],
  about:
    `Scoped variables. Inside a task run by stint, each run has its own scope
(STINT_SCOPE): what a step sets is seen by the run's later steps and by
nested stint runs, never by other runs, and is deleted when the run ends.
Lookups walk this run, the runs that started it, then the root scope.
Outside a run (or with --global) the root scope is used; root vars persist.`,
  flags: [],
  needsSubcommand: true,
  subcommands: [
    {
      name: "vars set",
      summary: "Set a var in this run's scope (- reads the value from stdin)",
      usage: ["vars set <key> <value|-> [--global]"],
      about:
        'A value that starts with "-" goes after "--": stint vars set delta -- -5',
      flags: [GLOBAL],
      examples: [
        "stint vars set --global region eu-west-1",
        'stint vars set build_id "$(git rev-parse HEAD)"',
        "git log -1 --format=%B | stint vars set message -",
      ],
    },
    {
      name: "vars get",
      summary: "Print the value followed by a newline (-n: without it)",
      usage: ["vars get <key> [-n] [--global]"],
      flags: [
        GLOBAL,
        {
          name: "no-newline",
          short: "n",
          help: "Print the value exactly, without a trailing newline",
        },
      ],
      notes: "Exit codes: 0 ok, 1 no such var, 2 bad usage.",
      examples: ["VERSION=$(stint vars get version)"],
    },
    {
      name: "vars list",
      summary: "Every visible var and the scope it comes from",
      usage: ["vars list [--global] [--json]"],
      flags: [GLOBAL, {
        name: "json",
        help:
          "Print JSON: key, value, scope (root | this_run | outer_run), scope_id, run_id, ref, updated_at",
      }],
      examples: ["stint vars list --json"],
    },
    {
      name: "vars unset",
      summary: "Remove a var from this run's scope",
      usage: ["vars unset <key> [--global]"],
      flags: [GLOBAL],
      notes:
        `A var that comes from an outer run or from root is not removed: the
error says where it lives (exit 1).`,
      examples: ["stint vars unset --global region"],
    },
  ],
  notes:
    `Keys: 1-256 bytes, no control characters. Values: UTF-8 text up to 1 MiB.

Exit codes: 0 ok, 1 missing var (or a scope whose run has ended), 2 bad usage.`,
  examples: [
    "stint vars set --global region eu-west-1",
    'stint vars set build_id "$(git rev-parse HEAD)"',
    "VERSION=$(stint vars get version)",
    "git log -1 --format=%B | stint vars set message -",
    "stint vars list --json",
  ],
};

/** `stint cache`. */
export const CACHE: Command = {
  name: "cache",
  summary: "A key-value cache with optional expiry",
  usage: ["cache <subcommand> [options]"],
  about:
    `A key-value cache shared by every task and process using this store. Values
are bytes: they round-trip exactly, binary included.`,
  flags: [],
  needsSubcommand: true,
  subcommands: [
    {
      name: "cache set",
      summary: "Store a value (no value or - reads it from stdin)",
      usage: ["cache set <key> [value|-] [--ttl D]"],
      flags: [{
        name: "ttl",
        value: "<D>",
        help: "Expire after e.g. 90s, 15m, 1h, 7d (default: never)",
      }],
      examples: [
        "stint cache set token abc123 --ttl 1h",
        "tar -c dist | stint cache set dist.tar",
      ],
    },
    {
      name: "cache get",
      summary: "Write the value to stdout exactly as stored (no newline added)",
      usage: ["cache get <key>"],
      flags: [],
      examples: ["stint cache get dist.tar | tar -x"],
    },
    {
      name: "cache list",
      summary: "Keys with size, last update and expiry",
      usage: ["cache list [--json]"],
      flags: [{
        name: "json",
        help: "Print JSON: key, size, updated_at, expires_at",
      }],
    },
    {
      name: "cache delete",
      summary: "Remove an entry",
      usage: ["cache delete <key>"],
      flags: [],
    },
    {
      name: "cache clear",
      summary: "Remove every entry (asks first on a terminal)",
      usage: ["cache clear [--yes]"],
      flags: [{ name: "yes", short: "y", help: "Do not ask" }],
    },
  ],
  notes: `Keys: 1-256 bytes, no control characters. Values: up to 16 MiB.
Expired entries are never returned and are pruned on the next write or list.

Exit codes: 0 ok, 1 missing (or expired) key, 2 bad usage.`,
  examples: [
    "stint cache set token abc123 --ttl 1h",
    "tar -c dist | stint cache set dist.tar",
    "stint cache get dist.tar | tar -x",
    "stint cache list --json",
  ],
};
