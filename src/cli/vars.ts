/**
 * `stint vars set | get | list | unset`: scoped variables. A process inside a
 * run reads and writes its run's scope (STINT_SCOPE) and sees its callers'
 * scopes and root through the chain; outside a run everything is root.
 *
 * `get` is on scripts' hot path (`$(stint vars get k)`), so this module's
 * static imports are only what `get` needs (the read-only lookup); the write
 * side of the store, stdin and the sync seam are loaded by the subcommands
 * that use them. The checks and messages live in the store, shared with the
 * typed API (mod.ts).
 * @module
 */
import { UsageError } from "../errors.ts";
import {
  currentScope,
  missingVar,
  readVar,
  ROOT_SCOPE,
} from "../store/var_lookup.ts";
import { FULL_OPEN } from "../store/point_read.ts";
import { MAX_VAR_BYTES, validateKey } from "../store/validate.ts";
import type { Context } from "./context.ts";
import type { FastFlagSpec } from "./fast_flags.ts";
import { lazyImport } from "../lazy_import.ts";
import {
  eprintln,
  plainText,
  printJson,
  println,
  printTable,
  write,
} from "./output.ts";

/** Help for `stint vars`. */
export const help = `Usage: stint vars <subcommand>

Scoped variables. Inside a task run by stint, each run has its own scope
(STINT_SCOPE): what a step sets is seen by the run's later steps and by
nested stint runs, never by other runs, and is deleted when the run ends.
Lookups walk this run, the runs that started it, then the root scope.
Outside a run (or with --global) the root scope is used; root vars persist.

  set <key> <value|->  Set a var in this run's scope (- reads the value from stdin)
  get <key>            Print the value followed by a newline (-n: without it)
  list                 Every visible var and the scope it comes from
  unset <key>          Remove a var from this run's scope

Options:
  --global             (set, get, list, unset) use the root scope only
  -n, --no-newline     (get) print the value exactly, without a trailing newline
  --json               (list) print JSON: key, value, scope (root | this_run |
                       outer_run), scope_id, run_id, ref, updated_at

Keys: 1-256 bytes, no control characters. Values: UTF-8 text up to 1 MiB.
A value that starts with "-" goes after "--": stint vars set delta -- -5

Exit codes: 0 ok, 1 missing var (or a scope whose run has ended), 2 bad usage.

Examples:
  stint vars set --global region eu-west-1
  stint vars set build_id "$(git rev-parse HEAD)"
  VERSION=$(stint vars get version)
  git log -1 --format=%B | stint vars set message -
  stint vars list --json`;

/**
 * The flag parser, loaded only for a call with flags: the plain `get <key>`
 * scripts make in loops has none.
 */
function flagParser(): Promise<typeof import("./fast_flags.ts")> {
  return lazyImport(new URL("./fast_flags.ts", import.meta.url));
}

const SUBCOMMANDS = "set, get, list or unset";

/** Run `stint vars`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "get":
      return await get(rest, ctx);
    case "set":
      return await set(rest, ctx);
    case "list":
      return await list(rest, ctx);
    case "unset":
      return await unset(rest, ctx);
    case undefined:
      throw new UsageError(`stint vars needs a subcommand: ${SUBCOMMANDS}`);
    default:
      throw new UsageError(
        `Unknown subcommand "vars ${sub}"; use ${SUBCOMMANDS}`,
      );
  }
}

/** The boolean flags each subcommand accepts: long name -> short letter. */
type FlagSpec = FastFlagSpec;

const GLOBAL: FlagSpec = { global: { type: "boolean" } };

/** Parsed flags (the boolean ones that were given) and positionals. */
interface Parsed {
  flags: Set<string>;
  positionals: string[];
}

/**
 * Strict parsing of the boolean flags vars takes, plus an exact count of
 * positionals (`names`). Arguments after `--` (and a lone `-`) are
 * positionals, so a value may start with `-`.
 */
async function parse(
  args: string[],
  spec: FlagSpec,
  options: { command: string; names: string[] },
): Promise<Parsed> {
  const see = `(see stint ${options.command} --help)`;
  const { parseFastFlags } = await flagParser();
  const p = parseFastFlags(args, spec, {
    command: options.command,
    unknownHint: options.names.includes("value")
      ? (o) =>
        `a value starting with "-" goes after "--": stint vars set <key> -- ${o}`
      : undefined,
  });
  const flags = new Set(Object.keys(p.values));
  const positionals = [...p.positionals, ...p.rest];
  const want = options.names.length;
  if (positionals.length < want) {
    throw new UsageError(
      `stint ${options.command} needs ${
        options.names.slice(positionals.length).map((n) => `<${n}>`).join(
          " and ",
        )
      } ${see}`,
    );
  }
  if (positionals.length > want) {
    throw new UsageError(
      `Unexpected argument ${
        JSON.stringify(positionals[want])
      } for stint ${options.command} (quote a value with spaces; see stint vars --help)`,
    );
  }
  return { flags, positionals };
}

async function get(args: string[], ctx: Context): Promise<number> {
  // The call scripts make in loops, `stint vars get <key>`, has no flag
  // to parse (the parser's first run costs more than the lookup's SQL).
  const { flags, positionals: [key] } =
    args.length === 1 && !args[0].startsWith("-")
      ? { flags: new Set<string>(), positionals: args }
      : await parse(args, {
        ...GLOBAL,
        "no-newline": { type: "boolean", short: "n" },
      }, { command: "vars get", names: ["key"] });
  const global = flags.has("global");
  // A scope that no longer exists (its run ended) still resolves: the chain
  // is empty above it, so the lookup falls back to root.
  const first = readVar(ctx.dbPath, key, { global });
  const entry = first !== FULL_OPEN && !first.pending
    ? first.entry
    : (await lazyImport<typeof import("../store/full_var_lookup.ts")>(
      new URL("../store/full_var_lookup.ts", import.meta.url),
    )).lookupVar(ctx.dbPath, key, { global });
  if (!entry) throw missingVar(key, currentScope({ global }));
  // A trailing newline reads well on a terminal and `$(...)` strips it;
  // -n gives the exact bytes for files and pipes.
  write(flags.has("no-newline") ? entry.value : entry.value + "\n");
  return 0;
}

async function set(args: string[], ctx: Context): Promise<number> {
  const { flags, positionals: [key, raw] } = await parse(args, GLOBAL, {
    command: "vars set",
    names: ["key", "value"],
  });
  validateKey(key);
  let value = raw;
  if (raw === "-") {
    const { decodeText, readStdin } = await lazyImport<
      typeof import("./stdin.ts")
    >(new URL("./stdin.ts", import.meta.url));
    value = decodeText(
      await readStdin(MAX_VAR_BYTES, { what: "value" }),
      "value",
    );
  }
  const { checkVarInput, setScopedVar } = await scopedVars();
  // Checked before the store is opened, so bad input writes nothing at all.
  checkVarInput(key, value);
  const global = flags.has("global");
  await writing(ctx, () => setScopedVar(ctx.dbPath, key, value, { global }));
  return 0;
}

async function unset(args: string[], ctx: Context): Promise<number> {
  const { flags, positionals: [key] } = await parse(args, GLOBAL, {
    command: "vars unset",
    names: ["key"],
  });
  validateKey(key);
  const global = flags.has("global");
  // No file, nothing to unset: answered before the sync seam is loaded.
  const { storeExists } = await lazyImport<typeof import("../store/read.ts")>(
    new URL("../store/read.ts", import.meta.url),
  );
  if (!storeExists(ctx.dbPath)) {
    throw missingVar(key, currentScope({ global }));
  }
  const { unsetScopedVar } = await scopedVars();
  await writing(ctx, () => unsetScopedVar(ctx.dbPath, key, { global }));
  return 0;
}

async function list(args: string[], ctx: Context): Promise<number> {
  const { flags } = await parse(
    args,
    { ...GLOBAL, json: { type: "boolean" } },
    {
      command: "vars list",
      names: [],
    },
  );
  const { listScopedVars } = await scopedVars();
  const { scope, scopeGone, vars } = listScopedVars(ctx.dbPath, {
    global: flags.has("global"),
  });
  if (scopeGone) {
    eprintln(
      `stint: warning: the scope of this run (${scope}) no longer exists; showing root vars`,
    );
  }
  if (flags.has("json")) {
    printJson(vars.map((v) => ({
      key: v.key,
      value: v.value,
      scope: v.where.kind,
      scope_id: v.scopeId,
      run_id: v.where.runId,
      ref: v.where.ref,
      updated_at: new Date(v.updatedAt).toISOString(),
    })));
    return 0;
  }
  if (vars.length === 0) {
    println(
      scope === ROOT_SCOPE
        ? "No vars in the root scope (set one with stint vars set <key> <value>)"
        : "No vars visible from this run (set one with stint vars set <key> <value>)",
    );
    return 0;
  }
  await printTable(
    ctx,
    ["KEY", "VALUE", "FROM"],
    vars.map((v) => [v.key, preview(v.value), plainText(v.where.label)]),
  );
  return 0;
}

const PREVIEW = 60;

/** One line of a value for a table: control characters escaped, long values cut. */
function preview(value: string): string {
  const flat = plainText(value);
  const chars = [...flat];
  return chars.length > PREVIEW
    ? chars.slice(0, PREVIEW - 1).join("") + "…"
    : flat;
}

/** The store's scoped vars (the write side: loaded only by set, unset, list). */
function scopedVars(): Promise<typeof import("../store/scoped_vars.ts")> {
  return lazyImport(new URL("../store/scoped_vars.ts", import.meta.url));
}

/** Run a write inside the sync seam (loaded only here, never for `get`). */
async function writing(ctx: Context, fn: () => void): Promise<void> {
  const { withSyncSession } = await lazyImport<
    typeof import("./sync_session.ts")
  >(new URL("./sync_session.ts", import.meta.url));
  await withSyncSession(ctx, { pull: false, flushLoop: false }, () => {
    fn();
    return Promise.resolve();
  });
}
