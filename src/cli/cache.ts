/**
 * `stint cache set | get | list | delete | clear`: a key-value cache of bytes
 * with an optional expiry. Values round-trip exactly (binary-safe through
 * stdin and stdout); expired entries are never returned and are pruned.
 *
 * `get` is on scripts' hot path, so this module's static imports are only
 * what `get` needs (the read-only lookup and a small flag parser); the
 * write side of the store, tables, stdin and the sync seam are loaded by
 * the subcommands that use them.
 * @module
 */
import { UsageError } from "../errors.ts";
import { missingCacheEntry, readCache } from "../store/cache_lookup.ts";
import { FULL_OPEN } from "../store/point_read.ts";
// Already loaded with the lookup (expiry is in bucket time).
import { bucketNow } from "../store/replication/clock.ts";
import type { Database } from "../store/sqlite.ts";
import {
  MAX_CACHE_BYTES,
  validateKey,
  validateSize,
} from "../store/validate.ts";
import type { Context } from "./context.ts";
import type { FastFlagSpec } from "./fast_flags.ts";
import { lazyImport } from "../lazy_import.ts";
import {
  printJson,
  println,
  printTable,
  relativeTime,
  writeAll,
} from "./output.ts";

/** Help for `stint cache`. */
export const help = `Usage: stint cache <subcommand>

A key-value cache shared by every task and process using this store. Values
are bytes: they round-trip exactly, binary included.

  set <key> [value|-]  Store a value (no value or - reads it from stdin)
  get <key>            Write the value to stdout exactly as stored (no newline added)
  list                 Keys with size, last update and expiry
  delete <key>         Remove an entry
  clear [--yes]        Remove every entry (asks first on a terminal)

Options:
  --ttl <duration>     (set) expire after e.g. 90s, 15m, 1h, 7d (default: never)
  --json               (list) print JSON: key, size, updated_at, expires_at
  -y, --yes            (clear) do not ask

Keys: 1-256 bytes, no control characters. Values: up to 16 MiB.
Expired entries are never returned and are pruned on the next write or list.

Exit codes: 0 ok, 1 missing (or expired) key, 2 bad usage.

Examples:
  stint cache set token abc123 --ttl 1h
  tar -c dist | stint cache set dist.tar
  stint cache get dist.tar | tar -x
  stint cache list --json`;

/**
 * The flag parser, loaded only for a call with flags: the plain `get <key>`
 * scripts make in loops has none.
 */
function flagParser(): Promise<typeof import("./fast_flags.ts")> {
  return lazyImport(new URL("./fast_flags.ts", import.meta.url));
}

const SUBCOMMANDS = "set, get, list, delete or clear";

/** Run `stint cache`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "set":
      return await set(rest, ctx);
    case "get":
      return await get(rest, ctx);
    case "list":
      return await list(rest, ctx);
    case "delete":
      return await remove(rest, ctx);
    case "clear":
      return await clear(rest, ctx);
    case undefined:
      throw new UsageError(`stint cache needs a subcommand: ${SUBCOMMANDS}`);
    default:
      throw new UsageError(
        `Unknown subcommand "cache ${sub}"; use ${SUBCOMMANDS}`,
      );
  }
}

/** Parse flags; arguments after `--` count as positionals (values like "-5"). */
async function parse(
  args: string[],
  spec: FastFlagSpec,
  options: { command: string; names: string[]; optional?: number },
): Promise<
  { values: Record<string, string | boolean>; positionals: string[] }
> {
  const { parseFastFlags } = await flagParser();
  const p = parseFastFlags(args, spec, { command: options.command });
  const positionals = [...p.positionals, ...p.rest];
  const max = options.names.length;
  const min = max - (options.optional ?? 0);
  if (positionals.length < min) {
    throw new UsageError(
      `stint ${options.command} needs ${
        options.names.slice(positionals.length, min).map((n) => `<${n}>`)
          .join(" and ")
      } (see stint cache --help)`,
    );
  }
  if (positionals.length > max) {
    throw new UsageError(
      `Unexpected argument ${
        JSON.stringify(positionals[max])
      } for stint ${options.command} (quote a value with spaces; see stint cache --help)`,
    );
  }
  return { values: p.values, positionals };
}

async function set(args: string[], ctx: Context): Promise<number> {
  const { values: p, positionals: [key, raw] } = await parse(args, {
    ttl: { type: "string" },
  }, { command: "cache set", names: ["key", "value"], optional: 1 });
  validateKey(key);
  const ttl = p.ttl as string | undefined;
  const ttlMs = ttl === undefined ? undefined : (await lazyImport<
    typeof import("../store/durations.ts")
  >(new URL("../store/durations.ts", import.meta.url))).parseTtl(ttl);
  let value: Uint8Array;
  if (raw === undefined || raw === "-") {
    if (raw === undefined && Deno.stdin.isTerminal()) {
      throw new UsageError(
        "stint cache set needs a value: give it after the key or pipe it on stdin",
      );
    }
    const { readStdin } = await lazyImport<typeof import("./stdin.ts")>(
      new URL("./stdin.ts", import.meta.url),
    );
    value = await readStdin(MAX_CACHE_BYTES, { what: "cache value" });
  } else {
    value = new TextEncoder().encode(raw);
  }
  // Validate before the store is opened, so bad input writes nothing at all.
  validateSize(value.length, MAX_CACHE_BYTES, "cache value");
  const { cacheSet } = await storeCache();
  await writing(ctx, (db) => cacheSet(db, key, value, { ttlMs }));
  return 0;
}

async function get(args: string[], ctx: Context): Promise<number> {
  // The call scripts make in loops, `stint cache get <key>`, has no flag
  // to parse (the parser's first run costs more than the lookup's SQL).
  const [key] = args.length === 1 && !args[0].startsWith("-")
    ? args
    : (await parse(args, {}, { command: "cache get", names: ["key"] }))
      .positionals;
  const read = readCache(ctx.dbPath, key);
  const value = read !== FULL_OPEN
    ? read
    : (await storeCache()).lookupCache(ctx.dbPath, key);
  if (!value) throw missingCacheEntry(key);
  writeAll(Deno.stdout, value);
  return 0;
}

async function list(args: string[], ctx: Context): Promise<number> {
  const { values: p } = await parse(args, { json: { type: "boolean" } }, {
    command: "cache list",
    names: [],
  });
  const { cacheList, pruneExpiredEntries } = await storeCache();
  const { formatBytes } = await lazyImport<typeof import("../format.ts")>(
    new URL("../format.ts", import.meta.url),
  );
  // Expiry is in bucket time (the store knows this host's offset from it).
  let now = Date.now();
  const { readExisting } = await storeRead();
  const entries = readExisting(ctx.dbPath, (db) => {
    now = bucketNow(db);
    pruneQuietly(() => pruneExpiredEntries(db, { now }));
    return cacheList(db, { now });
  }, () => []);
  if (p.json === true) {
    printJson(entries.map((e) => ({
      key: e.key,
      size: e.size,
      updated_at: new Date(e.updatedAt).toISOString(),
      expires_at: e.expiresAt === null
        ? null
        : new Date(e.expiresAt).toISOString(),
    })));
    return 0;
  }
  if (entries.length === 0) {
    println(
      "The cache is empty (add an entry with stint cache set <key> <value>)",
    );
    return 0;
  }
  await printTable(
    ctx,
    ["KEY", "SIZE", "UPDATED", "EXPIRES"],
    entries.map((e) => [
      e.key,
      formatBytes(e.size),
      relativeTime(e.updatedAt, now),
      e.expiresAt === null ? "never" : untilTime(e.expiresAt, now),
    ]),
  );
  return 0;
}

/**
 * Pruning while listing is housekeeping: the listing leaves expired
 * entries out either way, so a store that cannot take the write now
 * (locked, read-only, full) still gets its listing, and a later one prunes.
 */
function pruneQuietly(prune: () => unknown): void {
  try {
    prune();
  } catch {
    // the next listing or write prunes
  }
}

async function remove(args: string[], ctx: Context): Promise<number> {
  const { positionals: [key] } = await parse(args, {}, {
    command: "cache delete",
    names: ["key"],
  });
  validateKey(key);
  if (!(await storeRead()).storeExists(ctx.dbPath)) {
    throw missingCacheEntry(key);
  }
  const { cacheDelete } = await storeCache();
  let existed = false;
  await writing(ctx, (db) => {
    existed = cacheDelete(db, key);
  });
  if (!existed) throw missingCacheEntry(key);
  return 0;
}

async function clear(args: string[], ctx: Context): Promise<number> {
  const { values: p } = await parse(args, {
    yes: { type: "boolean", short: "y" },
  }, {
    command: "cache clear",
    names: [],
  });
  if (
    !(await lazyImport<typeof import("./confirm.ts")>(
      new URL("./confirm.ts", import.meta.url),
    )).confirm("Delete every cache entry?", {
      yes: p.yes === true,
      command: "cache clear",
    })
  ) {
    println("Nothing deleted");
    return 1;
  }
  let cleared = 0;
  if ((await storeRead()).storeExists(ctx.dbPath)) {
    const { cacheClear } = await storeCache();
    await writing(ctx, (db) => {
      cleared = cacheClear(db);
    });
  }
  println(
    `Cleared ${cleared} cache ${cleared === 1 ? "entry" : "entries"}`,
  );
  return 0;
}

/** A future time as "in 45s", "in 12m", "in 3h", "in 2d". */
function untilTime(at: number, now: number): string {
  const d = at - now;
  if (d < 60_000) return `in ${Math.max(1, Math.ceil(d / 1000))}s`;
  if (d < 3_600_000) return `in ${Math.round(d / 60_000)}m`;
  if (d < 86_400_000) return `in ${Math.round(d / 3_600_000)}h`;
  return `in ${Math.round(d / 86_400_000)}d`;
}

/** Reading the store with the full open (loaded only off the `get` path). */
function storeRead(): Promise<typeof import("../store/read.ts")> {
  return lazyImport(new URL("../store/read.ts", import.meta.url));
}

/** The store's cache (the write side: loaded only by set, list, delete, clear). */
function storeCache(): Promise<typeof import("../store/cache.ts")> {
  return lazyImport(new URL("../store/cache.ts", import.meta.url));
}

/** Run a write on the store inside the sync seam (both loaded only for writes). */
async function writing(
  ctx: Context,
  fn: (db: Database) => void,
): Promise<void> {
  const [{ withSyncSession }, { withStore }] = await Promise.all([
    lazyImport<typeof import("./sync_session.ts")>(
      new URL("./sync_session.ts", import.meta.url),
    ),
    lazyImport<typeof import("../store/open.ts")>(
      new URL("../store/open.ts", import.meta.url),
    ),
  ]);
  await withSyncSession(ctx, { pull: false, flushLoop: false }, () => {
    withStore(ctx.dbPath, fn);
    return Promise.resolve();
  });
}
