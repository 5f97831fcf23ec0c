/**
 * Writing and listing vars as one process sees them (its run's scope, the
 * runs that started it, root), with the checks and messages of `stint vars`.
 * The CLI and the typed API both call these, so they accept and refuse the
 * same input the same way. Each function is one open-per-operation; the
 * hot-path read is `readVar` in var_lookup.ts.
 * @module
 */
import { NotFoundError } from "../errors.ts";
import { withStore } from "./open.ts";
import { waitForRunStart } from "./run_start.ts";
import { readExisting, storeExists } from "./read.ts";
import type { Database } from "./sqlite.ts";
import {
  MAX_VAR_BYTES,
  validateKey,
  validateSize,
  validateText,
} from "./validate.ts";
import {
  currentScope,
  type EnvSource,
  getAllVars,
  getVar,
  missingVar,
  ROOT_SCOPE,
  type VarEntry,
} from "./var_lookup.ts";
import {
  deleteVar,
  reclaimEndedScopes,
  scopeChain,
  scopeExists,
  type ScopeInfo,
  setVar,
} from "./vars.ts";

/** Which scope a process works in: its run's (`env`'s STINT_SCOPE) or root. */
export interface ScopeOptions {
  /** Use the root scope only (`--global`). */
  global?: boolean;
  /** Where STINT_SCOPE is read (default `Deno.env`). */
  env?: EnvSource;
}

/** Where a visible var comes from, relative to the process's own scope. */
export interface VarOrigin {
  /** `root`, this process's run (`this_run`) or a run that started it (`outer_run`). */
  kind: "root" | "this_run" | "outer_run";
  /** The same for people: `root`, `this run`, `the outer run <ref> (<id>)`. */
  label: string;
  /** The run that owns the scope (null for root). */
  runId: string | null;
  /** That run's ref, when it is still recorded. */
  ref: string | null;
}

/** A visible var and where it comes from. */
export interface ScopedVar extends VarEntry {
  /** Where it comes from. */
  where: VarOrigin;
}

/** Every var visible from a scope. */
export interface VarListing {
  /** The scope looked from. */
  scope: string;
  /** True when that scope no longer exists (its run ended): the vars are root's. */
  scopeGone: boolean;
  /** The visible vars, nearest scope winning, sorted by key. */
  vars: ScopedVar[];
}

/**
 * Check a var's key and value (1 MiB of UTF-8 without NUL) before anything
 * is opened, so bad input writes nothing at all. Throws a UsageError.
 */
export function checkVarInput(key: string, value: string): void {
  validateKey(key);
  validateText(value, "value");
  validateSize(new TextEncoder().encode(value).length, MAX_VAR_BYTES, "value");
}

/** The error for a write into the scope of a run that has ended. */
export function scopeGone(scope: string): NotFoundError {
  return new NotFoundError(
    `The scope of this run (${scope}) no longer exists because its run has ended; use --global to use the root scope`,
  );
}

/**
 * Set `key` in this process's scope (root outside a run or with `global`).
 * Throws a UsageError for bad input and a NotFoundError when the run's
 * scope has ended.
 */
export function setScopedVar(
  dbPath: string,
  key: string,
  value: string,
  options?: ScopeOptions,
): void {
  checkVarInput(key, value);
  const scope = currentScope(options);
  inOwnScope(dbPath, scope, options, (db) => setVar(db, key, value, { scope }));
}

/**
 * Run `fn` on the store once this process's scope is known to exist (root
 * always does). A scope that is not there may belong to a run still
 * recording its start (run_start.ts): that is waited for, outside any
 * connection, and looked at once more; after that the scope is gone.
 */
function inOwnScope<T>(
  dbPath: string,
  scope: string,
  options: ScopeOptions | undefined,
  fn: (db: Database) => T,
): T {
  const attempt = () =>
    withStore(
      dbPath,
      (db) =>
        scope !== ROOT_SCOPE && !scopeExists(db, scope)
          ? { missing: true as const }
          : { missing: false as const, value: fn(db) },
    );
  let result = attempt();
  if (result.missing && waitForRunStart(dbPath, options?.env ?? Deno.env)) {
    result = attempt();
  }
  if (result.missing) throw scopeGone(scope);
  return result.value;
}

/**
 * Remove `key` from this process's own scope only. A key that is visible
 * but lives in an outer run or in root is not removed: the NotFoundError
 * says where it lives (and for root, to use --global).
 */
export function unsetScopedVar(
  dbPath: string,
  key: string,
  options?: ScopeOptions,
): void {
  validateKey(key);
  const scope = currentScope(options);
  if (!storeExists(dbPath)) throw missingVar(key, scope);
  inOwnScope(dbPath, scope, options, (db) => {
    if (deleteVar(db, key, { scope })) return;
    explainUnsetMiss(db, key, {
      scope,
      runScope: currentScope({ env: options?.env }),
      global: options?.global ?? false,
    });
  });
}

/**
 * Every var visible from this process's scope and where each comes from.
 * A listing is where a run killed with SIGKILL gets noticed: its record
 * becomes lost and its scope is reclaimed. No store means no vars.
 */
export function listScopedVars(
  dbPath: string,
  options?: ScopeOptions,
): VarListing {
  const scope = currentScope(options);
  const read = () =>
    readExisting(dbPath, (db) => {
      reclaimEndedScopes(db);
      return {
        chain: scopeChain(db, { scope }),
        vars: getAllVars(db, { scope }),
      };
    }, () => ({ chain: [rootInfo()], vars: [] as VarEntry[] }));
  const missing = (chain: ScopeInfo[]) =>
    scope !== ROOT_SCOPE && chain[0].id === ROOT_SCOPE;
  let { chain, vars } = read();
  // A scope not there yet may be a run's that is still recording its start.
  if (
    missing(chain) && storeExists(dbPath) &&
    waitForRunStart(dbPath, options?.env ?? Deno.env)
  ) ({ chain, vars } = read());
  return {
    scope,
    scopeGone: missing(chain),
    vars: vars.map((v) => ({ ...v, where: describeScope(chain, v) })),
  };
}

/** Why `unset` found nothing to remove in its own scope (always throws). */
function explainUnsetMiss(
  db: Database,
  key: string,
  options: { scope: string; runScope: string; global: boolean },
): never {
  const name = JSON.stringify(key);
  const { runScope } = options;
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
    throw missingVar(key, ROOT_SCOPE);
  }
  const seen = getVar(db, key, { scope: options.scope });
  if (!seen) throw missingVar(key, options.scope);
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

function rootInfo(): ScopeInfo {
  return { id: ROOT_SCOPE, parentId: null, runId: null, ref: null, depth: 0 };
}

/** Where a var came from, relative to the start of `chain`. */
function describeScope(chain: ScopeInfo[], v: VarEntry): VarOrigin {
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
