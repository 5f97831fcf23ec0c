/**
 * `stint cache set | get | list | delete | clear`: a key-value cache of bytes
 * with an optional expiry. Values round-trip exactly (binary-safe through
 * stdin and stdout); expired entries are never returned and are pruned.
 * @module
 */
import { NotFoundError, UsageError } from "../errors.ts";
import {
  cacheClear,
  cacheDelete,
  cacheGet,
  cacheList,
  cacheSet,
  pruneExpiredEntries,
} from "../store/cache.ts";
import { withStore } from "../store/open.ts";
import { bucketNow } from "../store/replication/clock.ts";
import {
  MAX_CACHE_BYTES,
  validateKey,
  validateSize,
} from "../store/validate.ts";
import {
  boolFlag,
  type FlagSpec,
  type Parsed,
  parseDuration,
  parseFlags,
  stringFlag,
} from "./args.ts";
import { confirm } from "./confirm.ts";
import type { Context } from "./context.ts";
import {
  formatBytes,
  printJson,
  println,
  printTable,
  relativeTime,
  writeAll,
} from "./output.ts";
import { readStdin } from "./stdin.ts";

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

const SUBCOMMANDS = "set, get, list, delete or clear";
// Longer expiries are almost certainly a typo (and overflow a timestamp).
const MAX_TTL_MS = 100 * 365 * 86_400_000;

/** Run `stint cache`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "set":
      return await set(rest, ctx);
    case "get":
      return get(rest, ctx);
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
function parse(
  args: string[],
  spec: FlagSpec,
  options: { command: string; names: string[]; optional?: number },
): { values: Parsed; positionals: string[] } {
  const p = parseFlags(args, spec, { command: options.command });
  const positionals = p.positionals;
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
  return { values: p, positionals };
}

/** A read never creates the store: no file means an empty cache. */
function storeExists(dbPath: string): boolean {
  try {
    Deno.statSync(dbPath);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

function missing(key: string): NotFoundError {
  return new NotFoundError(
    `No cache entry ${
      JSON.stringify(key)
    } (never set, deleted or expired); see stint cache list`,
  );
}

async function set(args: string[], ctx: Context): Promise<number> {
  const { values: p, positionals: [key, raw] } = parse(args, {
    ttl: { type: "string" },
  }, { command: "cache set", names: ["key", "value"], optional: 1 });
  validateKey(key);
  const ttl = stringFlag(p, "ttl");
  let ttlMs: number | undefined;
  if (ttl !== undefined) {
    ttlMs = parseDuration(ttl, "--ttl");
    if (ttlMs <= 0) {
      throw new UsageError(
        `--ttl must be longer than zero, not "${ttl}"; use stint cache delete to drop an entry`,
      );
    }
    if (ttlMs > MAX_TTL_MS) {
      throw new UsageError(
        `--ttl must be at most 100 years, not "${ttl}"; leave it out for no expiry`,
      );
    }
  }
  let value: Uint8Array;
  if (raw === undefined || raw === "-") {
    if (raw === undefined && Deno.stdin.isTerminal()) {
      throw new UsageError(
        "stint cache set needs a value: give it after the key or pipe it on stdin",
      );
    }
    value = await readStdin(MAX_CACHE_BYTES, { what: "cache value" });
  } else {
    value = new TextEncoder().encode(raw);
  }
  // Validate before the store is opened, so bad input writes nothing at all.
  validateSize(value.length, MAX_CACHE_BYTES, "cache value");
  await writing(ctx, () => {
    withStore(ctx.dbPath, (db) => cacheSet(db, key, value, { ttlMs }));
  });
  return 0;
}

function get(args: string[], ctx: Context): number {
  const { positionals: [key] } = parse(args, {}, {
    command: "cache get",
    names: ["key"],
  });
  validateKey(key);
  const value = storeExists(ctx.dbPath)
    ? withStore(ctx.dbPath, (db) => cacheGet(db, key))
    : undefined;
  if (!value) throw missing(key);
  writeAll(Deno.stdout, value);
  return 0;
}

async function list(args: string[], ctx: Context): Promise<number> {
  const { values: p } = parse(args, { json: { type: "boolean" } }, {
    command: "cache list",
    names: [],
  });
  // Expiry is in bucket time (the store knows this host's offset from it).
  let now = Date.now();
  const entries = storeExists(ctx.dbPath)
    ? withStore(ctx.dbPath, (db) => {
      now = bucketNow(db);
      pruneExpiredEntries(db, { now });
      return cacheList(db, { now });
    })
    : [];
  if (boolFlag(p, "json")) {
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

async function remove(args: string[], ctx: Context): Promise<number> {
  const { positionals: [key] } = parse(args, {}, {
    command: "cache delete",
    names: ["key"],
  });
  validateKey(key);
  if (!storeExists(ctx.dbPath)) throw missing(key);
  let existed = false;
  await writing(ctx, () => {
    existed = withStore(ctx.dbPath, (db) => cacheDelete(db, key));
  });
  if (!existed) throw missing(key);
  return 0;
}

async function clear(args: string[], ctx: Context): Promise<number> {
  const { values: p } = parse(args, { yes: { type: "boolean", short: "y" } }, {
    command: "cache clear",
    names: [],
  });
  if (
    !confirm("Delete every cache entry?", {
      yes: boolFlag(p, "yes"),
      command: "cache clear",
    })
  ) {
    println("Nothing deleted");
    return 1;
  }
  let cleared = 0;
  if (storeExists(ctx.dbPath)) {
    await writing(ctx, () => {
      cleared = withStore(ctx.dbPath, cacheClear);
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

/** Run a write inside the sync seam (loaded only for writes). */
async function writing(ctx: Context, fn: () => void): Promise<void> {
  const { withSyncSession } = await import("./sync_session.ts");
  await withSyncSession(ctx, { pull: false, flushLoop: false }, () => {
    fn();
    return Promise.resolve();
  });
}
