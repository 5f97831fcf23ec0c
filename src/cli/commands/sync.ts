/**
 * The command table for `stint sync`, `stint status` and `stint store`.
 * `sync` and `status` keep their module's help text (src/cli/sync.ts,
 * status.ts); their entries drive completions and subcommand help.
 * @module
 */
import type { Command, Flag } from "./types.ts";

const BUCKET_FLAGS: Flag[] = [
  { name: "json", help: "Print the result as JSON" },
  { name: "bucket", value: "<name>", help: "Override STINT_BUCKET" },
  { name: "endpoint", value: "<url>", help: "Override STINT_S3_ENDPOINT" },
  { name: "region", value: "<region>", help: "Override STINT_S3_REGION" },
  { name: "prefix", value: "<prefix>", help: "Override STINT_S3_PREFIX" },
];

/** `stint sync`. */
export const SYNC: Command = {
  name: "sync",
  summary: "Push, pull or restore the store with the bucket; collect garbage",
  usage: ["sync <subcommand> [options]"],
  moduleHelp: true,
  flags: [],
  needsSubcommand: true,
  subcommands: [
    {
      name: "sync push",
      summary: "Upload this host's changes (and new logs) since the last push",
      usage: ["sync push [--compact] [options]"],
      flags: [
        ...BUCKET_FLAGS,
        {
          name: "compact",
          help:
            "Also write hosts/<host>/snap.db and drop the segments it covers",
        },
      ],
    },
    {
      name: "sync pull",
      summary: "Apply other hosts' new changes",
      usage: ["sync pull [options]"],
      flags: BUCKET_FLAGS,
    },
    {
      name: "sync restore",
      summary:
        "Build the local store from the bucket (only if it does not exist)",
      usage: ["sync restore [--force] [options]"],
      flags: [
        ...BUCKET_FLAGS,
        {
          name: "force",
          help: "Rebuild an existing store (unpushed changes are lost)",
        },
      ],
    },
    {
      name: "sync status",
      summary:
        "Local view: configuration, last push, unpushed changes, cursors",
      usage: ["sync status [options]"],
      flags: BUCKET_FLAGS,
    },
    {
      name: "sync gc",
      summary:
        "Delete log blobs no run names (older than 48h) and covered segments",
      usage: ["sync gc [--dry-run] [options]"],
      flags: [
        ...BUCKET_FLAGS,
        {
          name: "dry-run",
          help: "Count what would be deleted; delete nothing",
        },
      ],
    },
  ],
};

/** `stint status`. */
export const STATUS: Command = {
  name: "status",
  summary: "Probe the store and the bucket (safe from cron)",
  usage: ["status [--json]"],
  moduleHelp: true,
  flags: [{ name: "json", help: "Print the report as JSON" }],
};

/** `stint store`. */
export const STORE: Command = {
  name: "store",
  summary: "Show, migrate, back up or destroy the store file",
  usage: ["store <subcommand> [options]"],
  flags: [],
  needsSubcommand: true,
  subcommands: [
    {
      name: "store path",
      summary: "Print the store file path",
      usage: ["store path [--json]"],
      flags: [{ name: "json", help: "Print JSON: { path }" }],
    },
    {
      name: "store migrate",
      summary: "Bring the store to the current schema version",
      usage: ["store migrate [--json]"],
      flags: [{ name: "json", help: "Print JSON: { path, from, to }" }],
    },
    {
      name: "store backup",
      summary:
        "Write a consistent copy of the store to <file> (must not exist)",
      usage: ["store backup <file>"],
      flags: [],
      args: ["files"],
    },
    {
      name: "store destroy",
      summary: "Delete the store file, its WAL files and its logs",
      usage: ["store destroy [--yes]"],
      flags: [{ name: "yes", short: "y", help: "Do not ask" }],
    },
  ],
  examples: [
    "stint store path",
    "stint store backup ~/stint-backup.db",
    "stint --db /tmp/scratch.db store destroy --yes",
  ],
};
