/**
 * The typed API of stint, for TypeScript tasks: the store in-process instead
 * of a spawned `stint vars get` per value.
 *
 * - {@linkcode vars}: scoped variables. Inside a task run by `stint run` they
 *   follow `STINT_SCOPE` (this run, the runs that started it, then root)
 *   exactly like `stint vars`; outside a run, or with `{ global: true }`,
 *   the root scope.
 * - {@linkcode cache}: the key-value cache, as bytes or text, with a TTL.
 * - {@linkcode currentRun}: this task's own run record (`STINT_RUN_ID`).
 * - {@linkcode history} and {@linkcode refs}: recorded runs, with the
 *   filters of `stint history`, as typed records.
 *
 * Every call opens the store, does one operation and closes it, like every
 * stint command, so it is safe next to any number of stint processes. Keys
 * and values are checked exactly as the CLI checks them, and the errors are
 * the CLI's, as typed classes: {@linkcode UsageError} for bad input (the CLI
 * exits 2), {@linkcode NotFoundError} for an ended scope or a var that lives
 * in another scope (exit 1), {@linkcode StintError} for the store itself. A
 * missing key is not an error: getters return `undefined`.
 *
 * Importing this module loads the store only: no bucket sync, no AWS SDK, no
 * table library. Writes made inside a run are pushed to the bucket by the
 * `stint run` that started the task, like the writes of a nested `stint
 * vars set`; writes made outside any run are pushed by the next stint
 * command that syncs. The store file is `STINT_DB`, else the XDG state dir,
 * as for the CLI. Needs `--allow-env`, `--allow-read` and `--allow-write`
 * (for the state directory).
 *
 * @example A task step that reads and writes its run's vars
 * ```ts
 * import { cache, currentRun, vars } from "@stint/stint";
 *
 * const tag = vars.get("tag") ?? "dev";
 * vars.set("published", `${tag} at ${new Date().toISOString()}`);
 * cache.set("last-tag", tag, { ttl: "7d" });
 * console.log(`run ${currentRun()?.id ?? "(outside stint)"} published ${tag}`);
 * ```
 *
 * @module
 */
import { NotFoundError, StintError, UsageError } from "./src/errors.ts";
import {
  cacheClear,
  cacheDelete,
  type CacheInfo,
  cacheList,
  cacheSet,
  lookupCache,
  pruneExpiredEntries,
} from "./src/store/cache.ts";
import { parseTtl } from "./src/store/durations.ts";
import {
  type Execution,
  type ExecutionStatus,
  getExecutionExact,
  listExecutions,
  listRefs,
  reconcileExecutions,
} from "./src/store/executions.ts";
import {
  type HistoryFilters,
  historyQuery,
} from "./src/store/history_query.ts";
import { withStore } from "./src/store/open.ts";
import { resolveDbPath } from "./src/store/paths.ts";
import { readExisting, readOnly, storeExists } from "./src/store/read.ts";
import {
  listScopedVars,
  setScopedVar,
  unsetScopedVar,
} from "./src/store/scoped_vars.ts";
import {
  MAX_CACHE_BYTES,
  validateBytes,
  validateKey,
  validateSize,
} from "./src/store/validate.ts";
import type { EnvSource } from "./src/store/var_lookup.ts";
import { lookupVar } from "./src/store/full_var_lookup.ts";

export { NotFoundError, StintError, UsageError };
export type { EnvSource, ExecutionStatus as RunStatus, HistoryFilters };

/** Which scope a var operation uses. */
export interface VarOptions {
  /**
   * Use the root scope only, like `--global`: visible everywhere, persists
   * after the run, and syncs. Default: this run's scope inside a run.
   */
  global?: boolean;
}

/** A var visible from this process's scope, and where it comes from. */
export interface VarRecord {
  /** The key. */
  key: string;
  /** The value (UTF-8 text). */
  value: string;
  /** `root`, this task's run (`this_run`), or a run that started it (`outer_run`). */
  scope: "root" | "this_run" | "outer_run";
  /** The id of the scope that holds it (`root` for root). */
  scopeId: string;
  /** The run that owns that scope (null for root). */
  runId: string | null;
  /** That run's ref (null for root, or when the run is no longer recorded). */
  ref: string | null;
  /** When it was last set. */
  updatedAt: Date;
}

/** Scoped variables, as `stint vars` sees them from this process. */
export interface Vars {
  /**
   * The value of `key` from this run's scope, the runs that started it, or
   * root (nearest first); undefined when it is set in none of them. Throws
   * {@linkcode UsageError} for an invalid key.
   */
  get(key: string, options?: VarOptions): string | undefined;
  /**
   * Set `key` in this run's scope (root outside a run or with `global`).
   * Throws {@linkcode UsageError} for an invalid key or value (1-256 bytes
   * without control characters; up to 1 MiB of text without NUL) and
   * {@linkcode NotFoundError} when this run's scope has already ended.
   */
  set(key: string, value: string, options?: VarOptions): void;
  /**
   * Remove `key` from this run's own scope (root with `global`). Throws
   * {@linkcode NotFoundError}, with the CLI's message, when it is not set
   * there: also when it is visible from an outer run or root, which an
   * unset here would not change.
   */
  unset(key: string, options?: VarOptions): void;
  /** Every var visible from this run's scope, nearest scope winning, sorted by key. */
  list(options?: VarOptions): VarRecord[];
}

/** Options for {@linkcode Cache.set}. */
export interface CacheSetOptions {
  /**
   * Expire the entry after this long: a duration like the CLI's `--ttl`
   * (`90s`, `15m`, `1h`, `7d`) or milliseconds. Default: never.
   */
  ttl?: string | number;
}

/** A cache entry without its value. */
export interface CacheRecord {
  /** The key. */
  key: string;
  /** The value's size in bytes. */
  size: number;
  /** When it was last set. */
  updatedAt: Date;
  /** When it expires (null: never). */
  expiresAt: Date | null;
}

/** The key-value cache shared by every task and process using the store. */
export interface Cache {
  /**
   * The bytes under `key`, or undefined when never set, deleted or
   * expired. Throws {@linkcode UsageError} for an invalid key.
   */
  get(key: string): Uint8Array | undefined;
  /** {@linkcode Cache.get} decoded as UTF-8 (invalid bytes become U+FFFD). */
  getText(key: string): string | undefined;
  /**
   * Store `value` (text is stored as UTF-8) under `key`. Throws
   * {@linkcode UsageError} for an invalid key, a value over 16 MiB or a bad
   * `ttl` (not a duration, zero, or over 100 years).
   */
  set(key: string, value: string | Uint8Array, options?: CacheSetOptions): void;
  /** Remove `key`; returns whether a live entry was there. */
  delete(key: string): boolean;
  /** Every live entry, sorted by key. */
  list(): CacheRecord[];
  /** Remove every entry; returns how many were live. */
  clear(): number;
}

/** A recorded run of a task or command, as `stint history --json` shows it. */
export interface Run {
  /** The execution id (a UUIDv7: sorts by start time). */
  id: string;
  /** `<project>:<task>`, or the name given to `stint exec`. */
  ref: string;
  /** The task name (null for `stint exec`). */
  task: string | null;
  /** The directory of the task's config (null for `stint exec`). */
  projectDir: string | null;
  /** The command line as shown in history. */
  command: string;
  /** The user's own arguments. */
  args: string[];
  /** `running`, `succeeded`, `failed`, `killed` or `lost`. */
  status: ExecutionStatus;
  /** The real exit code (null while running, or when killed by a signal). */
  exitCode: number | null;
  /** The signal that ended it, e.g. `SIGINT`. */
  signal: string | null;
  /** Why it failed, was killed or was lost. */
  error: string | null;
  /** When it started. */
  startedAt: Date;
  /** When it ended (null while running). */
  completedAt: Date | null;
  /** How long it took in ms (null while running). */
  durationMs: number | null;
  /** The process that runs (or ran) the task. */
  pid: number | null;
  /** The log id (`stint logs <id>`); null when it has none. */
  logId: string | null;
  /** The host id of the machine that ran it. */
  hostId: string;
  /** The background run it belongs to (`stint run -b`). */
  backgroundId: string | null;
  /** The run that started it (a nested `stint run`). */
  parentId: string | null;
  /** The vars scope of the run (it exists while the run does). */
  scopeId: string | null;
}

/** A ref with its run count and latest run, as `stint history refs` shows it. */
export interface RefRecord {
  /** The ref. */
  ref: string;
  /** How many runs are recorded. */
  runs: number;
  /** When the latest run started. */
  lastStartedAt: Date;
  /** The latest run's status. */
  lastStatus: ExecutionStatus;
}

/** Where the API finds the store and the run it is in. */
export interface StintOptions {
  /** The store file (default: `STINT_DB`, else the XDG state dir, as for the CLI). */
  db?: string;
  /**
   * Where `STINT_DB`, `STINT_SCOPE`, `STINT_RUN_ID` and the XDG/HOME
   * variables are read, at each call (default: `Deno.env`).
   */
  env?: EnvSource;
}

/** The whole API bound to one store and environment (see {@linkcode createStint}). */
export interface Stint {
  /** The store file the next call will open. */
  dbPath(): string;
  /** Scoped variables. */
  readonly vars: Vars;
  /** The key-value cache. */
  readonly cache: Cache;
  /**
   * The record of the run this process belongs to (`STINT_RUN_ID`, set by
   * `stint run` for its task), or undefined outside a run.
   */
  currentRun(): Run | undefined;
  /**
   * Recorded runs, newest first, with the filters of `stint history`
   * (default limit 20; `all` for every run). Throws {@linkcode UsageError}
   * for a bad status, `since` or `limit`. A run whose process is gone is
   * marked `lost` as it is read, as the CLI does.
   */
  history(filters?: HistoryFilters): Run[];
  /** Every ref with its run count, most recently run first. */
  refs(): RefRecord[];
}

/**
 * The API for the store and scope given by `options` (by default those of
 * this process: `STINT_DB`, `STINT_SCOPE`, `STINT_RUN_ID`). Nothing is
 * opened until a call is made; each call opens the store once.
 */
export function createStint(options?: StintOptions): Stint {
  const env = options?.env ?? Deno.env;
  const dbPath = (): string => resolveDbPath(options?.db, env);
  const vars: Vars = {
    get(key, opts) {
      return lookupVar(dbPath(), key, { global: opts?.global, env })?.value;
    },
    set(key, value, opts) {
      setScopedVar(dbPath(), key, value, { global: opts?.global, env });
    },
    unset(key, opts) {
      unsetScopedVar(dbPath(), key, { global: opts?.global, env });
    },
    list(opts) {
      return listScopedVars(dbPath(), { global: opts?.global, env }).vars.map(
        (v) => ({
          key: v.key,
          value: v.value,
          scope: v.where.kind,
          scopeId: v.scopeId,
          runId: v.where.runId,
          ref: v.where.ref,
          updatedAt: new Date(v.updatedAt),
        }),
      );
    },
  };
  const cache: Cache = {
    get(key) {
      return lookupCache(dbPath(), key);
    },
    getText(key) {
      const bytes = lookupCache(dbPath(), key);
      return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
    },
    set(key, value, opts) {
      validateKey(key);
      validateBytes(value, "cache value");
      const ttlMs = opts?.ttl === undefined ? undefined : parseTtl(opts.ttl);
      const bytes = typeof value === "string"
        ? new TextEncoder().encode(value)
        : value;
      validateSize(bytes.length, MAX_CACHE_BYTES, "cache value");
      withStore(dbPath(), (db) => cacheSet(db, key, bytes, { ttlMs }));
    },
    delete(key) {
      validateKey(key);
      const path = dbPath();
      return storeExists(path) && withStore(path, (db) => cacheDelete(db, key));
    },
    list() {
      const now = Date.now();
      return readExisting(dbPath(), (db) => {
        try {
          pruneExpiredEntries(db, { now });
        } catch {
          // Housekeeping, as for stint cache list: expired entries are left
          // out either way, and a later listing or write prunes them.
        }
        return cacheList(db, { now });
      }, () => [] as CacheInfo[]).map((e) => ({
        key: e.key,
        size: e.size,
        updatedAt: new Date(e.updatedAt),
        expiresAt: e.expiresAt === null ? null : new Date(e.expiresAt),
      }));
    },
    clear() {
      const path = dbPath();
      return storeExists(path) ? withStore(path, cacheClear) : 0;
    },
  };
  return {
    dbPath,
    vars,
    cache,
    currentRun() {
      const id = env.get("STINT_RUN_ID");
      if (!id) return undefined;
      const run = readOnly(
        dbPath(),
        (db) => getExecutionExact(db, id),
        () => undefined,
      );
      return run && toRun(run);
    },
    history(filters) {
      const query = historyQuery(filters ?? {});
      return readExisting(dbPath(), (db) => {
        reconcileExecutions(db);
        return listExecutions(db, query);
      }, () => []).map(toRun);
    },
    refs() {
      return readExisting(dbPath(), (db) => {
        reconcileExecutions(db);
        return listRefs(db);
      }, () => []).map((r) => ({
        ref: r.ref,
        runs: r.runs,
        lastStartedAt: new Date(r.lastStartedAt),
        lastStatus: r.lastStatus,
      }));
    },
  };
}

function toRun(e: Execution): Run {
  return {
    id: e.id,
    ref: e.ref,
    task: e.task,
    projectDir: e.projectDir,
    command: e.command,
    args: e.args,
    status: e.status,
    exitCode: e.exitCode,
    signal: e.signal,
    error: e.error,
    startedAt: new Date(e.startedAt),
    completedAt: e.completedAt === null ? null : new Date(e.completedAt),
    durationMs: e.durationMs,
    pid: e.pid,
    logId: e.logId,
    hostId: e.hostId,
    backgroundId: e.backgroundId,
    parentId: e.parentId,
    scopeId: e.scopeId,
  };
}

const own: Stint = createStint();

/**
 * Scoped variables of this process (its run's `STINT_SCOPE`, the runs that
 * started it, root), in the store named by `STINT_DB`.
 *
 * @example
 * ```ts
 * import { vars } from "@stint/stint";
 *
 * vars.set("build_id", crypto.randomUUID()); // this run's scope
 * const region = vars.get("region") ?? "eu-west-1"; // nearest scope, then root
 * vars.set("region", region, { global: true }); // root: persists and syncs
 * ```
 */
export const vars: Vars = own.vars;

/**
 * The key-value cache of this process's store.
 *
 * @example
 * ```ts
 * import { cache } from "@stint/stint";
 *
 * cache.set("token", "abc123", { ttl: "1h" });
 * const token = cache.getText("token"); // undefined once expired
 * ```
 */
export const cache: Cache = own.cache;

/**
 * The record of the run this task belongs to (`STINT_RUN_ID`), or undefined
 * when the process was not started by stint.
 */
export function currentRun(): Run | undefined {
  return own.currentRun();
}

/**
 * Recorded runs, newest first, with the filters of `stint history`.
 *
 * @example
 * ```ts
 * import { history } from "@stint/stint";
 *
 * const failures = history({ ref: "myapp:test", status: "failed", since: "7d" });
 * ```
 */
export function history(filters?: HistoryFilters): Run[] {
  return own.history(filters);
}

/** Every ref with its run count, most recently run first. */
export function refs(): RefRecord[] {
  return own.refs();
}
