/**
 * `stint vars set | get | list | unset`: scoped variables. A process inside a
 * run reads and writes its run's scope (STINT_SCOPE) and sees its callers'
 * scopes and root through the chain; outside a run everything is root.
 *
 * `get` is on scripts' hot path (`$(stint vars get k)`), so this module keeps
 * its static imports to the store's small modules; the sync seam is loaded
 * only by the commands that write.
 * @module
 */
import { NotFoundError, UsageError } from "../errors.ts";
import { withStore } from "../store/open.ts";
import type { Database } from "../store/sqlite.ts";
import {
  MAX_VAR_BYTES,
  validateKey,
  validateSize,
  validateText,
} from "../store/validate.ts";
import {
  deleteVar,
  getAllVars,
  getVar,
  reclaimEndedScopes,
  ROOT_SCOPE,
  scopeChain,
  scopeExists,
  type ScopeInfo,
  setVar,
  type VarEntry,
} from "../store/vars.ts";
import type { Context } from "./context.ts";
import { type FastFlagSpec, parseFastFlags } from "./fast_flags.ts";
import { eprintln, printJson, println, printTable, write } from "./output.ts";
import { decodeText, readStdin } from "./stdin.ts";

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

const SUBCOMMANDS = "set, get, list or unset";

/** Run `stint vars`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "get":
      return get(rest, ctx);
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
function parse(
  args: string[],
  spec: FlagSpec,
  options: { command: string; names: string[] },
): Parsed {
  const see = `(see stint ${options.command} --help)`;
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

/** The scope this process works in: STINT_SCOPE (set by stint run) else root. */
function currentScope(global: boolean): string {
  if (global) return ROOT_SCOPE;
  const scope = Deno.env.get("STINT_SCOPE");
  return scope ? scope : ROOT_SCOPE;
}

/** A read never creates the store: no file means no vars. */
function storeExists(dbPath: string): boolean {
  try {
    Deno.statSync(dbPath);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

function missing(key: string, scope: string): NotFoundError {
  return new NotFoundError(
    `No var ${JSON.stringify(key)} ${
      scope === ROOT_SCOPE
        ? "in the root scope"
        : "in this run, the runs that started it or root"
    }; set it with stint vars set`,
  );
}

function get(args: string[], ctx: Context): number {
  const { flags, positionals: [key] } = parse(args, {
    ...GLOBAL,
    "no-newline": { type: "boolean", short: "n" },
  }, { command: "vars get", names: ["key"] });
  validateKey(key);
  const scope = currentScope(flags.has("global"));
  // A scope that no longer exists (its run ended) still resolves: the chain
  // is empty above it, so the lookup falls back to root.
  const entry = storeExists(ctx.dbPath)
    ? withStore(ctx.dbPath, (db) => getVar(db, key, { scope }))
    : undefined;
  if (!entry) throw missing(key, scope);
  // A trailing newline reads well on a terminal and `$(...)` strips it;
  // -n gives the exact bytes for files and pipes.
  write(flags.has("no-newline") ? entry.value : entry.value + "\n");
  return 0;
}

async function set(args: string[], ctx: Context): Promise<number> {
  const { flags, positionals: [key, raw] } = parse(args, GLOBAL, {
    command: "vars set",
    names: ["key", "value"],
  });
  validateKey(key);
  const value = raw === "-"
    ? decodeText(await readStdin(MAX_VAR_BYTES, { what: "value" }), "value")
    : raw;
  // Validate before the store is opened, so bad input writes nothing at all.
  validateSize(new TextEncoder().encode(value).length, MAX_VAR_BYTES, "value");
  validateText(value, "value");
  const scope = currentScope(flags.has("global"));
  await writing(ctx, () => {
    withStore(ctx.dbPath, (db) => {
      if (scope !== ROOT_SCOPE && !scopeExists(db, scope)) {
        throw scopeGone(scope);
      }
      setVar(db, key, value, { scope });
    });
  });
  return 0;
}

async function unset(args: string[], ctx: Context): Promise<number> {
  const { flags, positionals: [key] } = parse(args, GLOBAL, {
    command: "vars unset",
    names: ["key"],
  });
  validateKey(key);
  const global = flags.has("global");
  const scope = currentScope(global);
  if (!storeExists(ctx.dbPath)) throw missing(key, scope);
  await writing(ctx, () => {
    withStore(ctx.dbPath, (db) => {
      if (scope !== ROOT_SCOPE && !scopeExists(db, scope)) {
        throw scopeGone(scope);
      }
      if (deleteVar(db, key, { scope })) return;
      explainUnsetMiss(db, key, { scope, global });
    });
  });
  return 0;
}

/** Why `unset` found nothing to remove in its own scope (always throws). */
function explainUnsetMiss(
  db: Database,
  key: string,
  options: { scope: string; global: boolean },
): never {
  const name = JSON.stringify(key);
  const runScope = currentScope(false);
  if (options.global) {
    if (runScope !== ROOT_SCOPE) {
      const seen = getVar(db, key, { scope: runScope });
      if (seen) {
        const where = describeScope(scopeChain(db, { scope: runScope }), seen);
        throw new NotFoundError(
          `No var ${name} in the root scope; it is set in ${where.label}, so drop --global${
            where.kind === "outer_run"
              ? " (it goes away when that run ends)"
              : ""
          }`,
        );
      }
    }
    throw missing(key, ROOT_SCOPE);
  }
  const seen = getVar(db, key, { scope: options.scope });
  if (!seen) throw missing(key, options.scope);
  const where = describeScope(scopeChain(db, { scope: options.scope }), seen);
  if (where.kind === "root") {
    throw new NotFoundError(
      `${name} is not set in this run; it comes from the root scope, so use stint vars unset --global ${key} to remove it there`,
    );
  }
  throw new NotFoundError(
    `${name} is not set in this run; it comes from ${where.label} and is removed when that run ends`,
  );
}

async function list(args: string[], ctx: Context): Promise<number> {
  const { flags } = parse(args, { ...GLOBAL, json: { type: "boolean" } }, {
    command: "vars list",
    names: [],
  });
  const scope = currentScope(flags.has("global"));
  const { chain, vars } = storeExists(ctx.dbPath)
    ? withStore(ctx.dbPath, (db) => {
      // A listing is where a run killed with SIGKILL gets noticed: its
      // record becomes lost and its scope is reclaimed.
      reclaimEndedScopes(db);
      return {
        chain: scopeChain(db, { scope }),
        vars: getAllVars(db, { scope }),
      };
    })
    : { chain: [rootInfo()], vars: [] as VarEntry[] };
  if (scope !== ROOT_SCOPE && chain[0].id === ROOT_SCOPE) {
    eprintln(
      `stint: warning: the scope of this run (${scope}) no longer exists; showing root vars`,
    );
  }
  const rows = vars.map((v) => ({ v, where: describeScope(chain, v) }));
  if (flags.has("json")) {
    printJson(rows.map(({ v, where }) => ({
      key: v.key,
      value: v.value,
      scope: where.kind,
      scope_id: v.scopeId,
      run_id: where.runId,
      ref: where.ref,
      updated_at: new Date(v.updatedAt).toISOString(),
    })));
    return 0;
  }
  if (rows.length === 0) {
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
    rows.map(({ v, where }) => [v.key, preview(v.value), where.label]),
  );
  return 0;
}

interface Where {
  kind: "root" | "this_run" | "outer_run";
  label: string;
  runId: string | null;
  ref: string | null;
}

function rootInfo(): ScopeInfo {
  return { id: ROOT_SCOPE, parentId: null, runId: null, ref: null, depth: 0 };
}

/** Where a var came from, relative to the start of `chain`. */
function describeScope(chain: ScopeInfo[], v: VarEntry): Where {
  if (v.scopeId === ROOT_SCOPE) {
    return { kind: "root", label: "root", runId: null, ref: null };
  }
  const info = chain.find((s) => s.id === v.scopeId);
  if (info && info.depth === 0) {
    return {
      kind: "this_run",
      label: "this run",
      runId: info.runId,
      ref: info.ref,
    };
  }
  const run = info?.runId
    ? `${info.ref ?? "run"} (${info.runId.slice(0, 8)})`
    : `scope ${v.scopeId}`;
  return {
    kind: "outer_run",
    label: `the outer run ${run}`,
    runId: info?.runId ?? null,
    ref: info?.ref ?? null,
  };
}

function scopeGone(scope: string): NotFoundError {
  return new NotFoundError(
    `The scope of this run (${scope}) no longer exists because its run has ended; use --global to use the root scope`,
  );
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g;
const PREVIEW = 60;

/** One line of a value for a table: control characters escaped, long values cut. */
function preview(value: string): string {
  const flat = value.replace(
    CONTROL,
    (c) =>
      c === "\n"
        ? "\\n"
        : c === "\t"
        ? "\\t"
        : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
  const chars = [...flat];
  return chars.length > PREVIEW
    ? chars.slice(0, PREVIEW - 1).join("") + "…"
    : flat;
}

/** Run a write inside the sync seam (loaded only here, never for `get`). */
async function writing(ctx: Context, fn: () => void): Promise<void> {
  const { withSyncSession } = await import("./sync_session.ts");
  await withSyncSession(ctx, { pull: false, flushLoop: false }, () => {
    fn();
    return Promise.resolve();
  });
}
