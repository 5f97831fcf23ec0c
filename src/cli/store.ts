/**
 * `stint store path | migrate | destroy [--yes] | backup <file>`.
 * @module
 */
import { NotFoundError, UsageError } from "../errors.ts";
import { backupStore, destroyStore } from "../store/maintenance.ts";
import { withStore } from "../store/open.ts";
import { storeExists } from "../store/read.ts";
import { SCHEMA_VERSION, schemaVersion } from "../store/schema.ts";
import { boolFlag, parseFlags } from "./args.ts";
import { confirm } from "./confirm.ts";
import type { Context } from "./context.ts";
import { printJson, println } from "./output.ts";

/** Help for `stint store`. */
export const help = `Usage: stint store <subcommand>

  path               Print the store file path
  migrate            Bring the store to the current schema version (${SCHEMA_VERSION})
  backup <file>      Write a consistent copy of the store to <file> (must not exist)
  destroy [--yes]    Delete the store file, its WAL files and the logs its
                     runs name (logs/ too, if that leaves it empty)

Options:
  --json             (path, migrate) print JSON

Examples:
  stint store path
  stint store backup ~/stint-backup.db
  stint --db /tmp/scratch.db store destroy --yes`;

/** Run `stint store`. */
export function run(args: string[], ctx: Context): number {
  const [sub, ...rest] = args;
  switch (sub) {
    case "path": {
      const p = parseFlags(rest, { json: { type: "boolean" } }, {
        command: "store path",
        max: 0,
      });
      if (boolFlag(p, "json")) printJson({ path: ctx.dbPath });
      else println(ctx.dbPath);
      return 0;
    }
    case "migrate": {
      const p = parseFlags(rest, { json: { type: "boolean" } }, {
        command: "store migrate",
        max: 0,
      });
      if (!storeExists(ctx.dbPath)) {
        // Creating one here would turn a typo'd --db into a new store, and
        // on a new machine with sync it would stand in for the restore.
        throw new NotFoundError(
          `No store at ${ctx.dbPath}; nothing to migrate (check --db / STINT_DB; stint creates the store on first use)`,
        );
      }
      let before = 0;
      try {
        before = withStore(ctx.dbPath, schemaVersion, { readOnly: true });
      } catch {
        before = 0;
      }
      // Opening migrates, under the write lock, only what is behind; a
      // current store needs no write, so a held lock does not matter.
      const after = withStore(ctx.dbPath, schemaVersion, { create: false });
      if (boolFlag(p, "json")) {
        printJson({ path: ctx.dbPath, from: before, to: after });
      } else {
        println(
          before === after
            ? `Store ${ctx.dbPath} is at schema version ${after}; nothing to do`
            : `Migrated ${ctx.dbPath} from schema version ${before} to ${after}`,
        );
      }
      return 0;
    }
    case "backup": {
      const p = parseFlags(rest, {}, {
        command: "store backup",
        min: 1,
        max: 1,
      });
      backupStore(ctx.dbPath, p.positionals[0]);
      println(`Backed up ${ctx.dbPath} to ${p.positionals[0]}`);
      return 0;
    }
    case "destroy": {
      const p = parseFlags(rest, { yes: { type: "boolean", short: "y" } }, {
        command: "store destroy",
        max: 0,
      });
      if (
        !confirm(`Delete the store ${ctx.dbPath} and all its logs?`, {
          yes: boolFlag(p, "yes"),
          command: "store destroy",
        })
      ) {
        println("Nothing deleted");
        return 1;
      }
      const r = destroyStore(ctx.dbPath);
      if (r.files.length === 0 && r.logs === 0) {
        println(`No store at ${ctx.dbPath}`);
        return 0;
      }
      println(
        `Deleted ${r.files.join(", ")}${
          r.logs ? ` and ${r.logs} log file${r.logs === 1 ? "" : "s"}` : ""
        }${r.logsDir ? ` and the empty ${r.logsDir}` : ""}`,
      );
      for (const k of r.kept) println(`Kept: ${k}`);
      return 0;
    }
    case undefined:
      throw new UsageError(
        "stint store needs a subcommand: path, migrate, backup or destroy",
      );
    default:
      throw new UsageError(
        `Unknown subcommand "store ${sub}"; use path, migrate, backup or destroy`,
      );
  }
}
