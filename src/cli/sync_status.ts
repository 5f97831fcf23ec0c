/**
 * `stint sync status`: the local view of sync, from the same facts
 * `stint status` reads (`src/sync/facts.ts`), without a request: the
 * bucket, the host id, the last push and pull, unpushed changes, other
 * hosts' cursors, failures not followed by a success, refused objects.
 * @module
 */
import { StintError } from "../errors.ts";
import type { SyncConfig } from "../sync/config.ts";
import type { GatheredFacts, SyncFacts } from "../sync/facts.ts";
import type { Context } from "./context.ts";
import { printJson, println, relativeTime } from "./output.ts";

/** Print the sync status of `ctx`'s store for `config` (null: sync is off). */
export async function syncStatus(
  ctx: Context,
  config: SyncConfig | null,
  options: { json: boolean },
): Promise<number> {
  const spec = "../sync/facts.ts";
  const { gatherSyncFacts } = await import(
    spec
  ) as typeof import("../sync/facts.ts");
  const gathered = gatherSyncFacts(ctx.dbPath, { location: config });
  if (gathered.error) throw new StintError(gathered.error);
  const f = gathered.facts?.hostId ? gathered.facts : null;
  if (options.json) {
    printJson(syncStatusJson(ctx.dbPath, config, gathered));
  } else {
    printText(ctx, config, gathered.exists, f);
  }
  return 0;
}

function iso(ms: number | null | undefined): string | null {
  return ms === undefined || ms === null ? null : new Date(ms).toISOString();
}

/**
 * The `stint sync status --json` object of `gathered` (the dashboard's
 * hosts page serves the same).
 */
export function syncStatusJson(
  dbPath: string,
  config: SyncConfig | null,
  gathered: GatheredFacts,
): Record<string, unknown> {
  const exists = gathered.exists;
  const f = gathered.facts?.hostId ? gathered.facts : null;
  const error = (e: { at: number; kind: string; message: string } | null) =>
    e ? { at: iso(e.at), kind: e.kind, message: e.message } : null;
  return {
    configured: config !== null,
    bucket: config?.bucket ?? null,
    endpoint: config?.endpoint ?? null,
    region: config?.region ?? null,
    prefix: config?.prefix ?? null,
    flush_interval_s: config ? config.flushIntervalMs / 1000 : null,
    deadline_s: config ? config.deadlineMs / 1000 : null,
    store: dbPath,
    store_exists: exists,
    host_id: f?.hostId ?? null,
    seq: f?.seq ?? null,
    last_push_at: iso(f?.lastPush?.at),
    pushed_seq: f?.lastPush?.seq ?? 0,
    unpushed: f?.unpushed ?? 0,
    last_pull_at: iso(f?.lastPullAt),
    restored_at: iso(f?.restoredAt),
    clock_offset_ms: f?.clockOffsetMs ?? null,
    last_error: error(f?.lastError ?? null),
    last_errors: Object.fromEntries(
      Object.entries(f?.failures ?? {}).map(([op, e]) => [op, error(e)]),
    ),
    rejected: (f?.rejected ?? []).map((r) => ({
      key: r.key,
      reason: r.reason,
      at: iso(r.at),
    })),
    missing: f?.gaps ?? [],
    cursors: Object.entries(f?.cursors ?? {}).map(([host, seq]) => ({
      host,
      seq,
    })),
  };
}

function printText(
  ctx: Context,
  config: SyncConfig | null,
  exists: boolean,
  f: SyncFacts | null,
): void {
  const where = config ? `s3://${config.bucket}/${config.prefix}` : "";
  println(
    config
      ? `Bucket:       ${where}${
        config.endpoint ? ` at ${config.endpoint}` : ` (AWS, ${config.region})`
      }`
      : "Bucket:       not configured (set STINT_BUCKET)",
  );
  if (config) {
    println(`Flush every:  ${config.flushIntervalMs / 1000} s`);
  }
  println(
    `Store:        ${ctx.dbPath}${exists ? "" : " (does not exist yet)"}`,
  );
  if (!f) return;
  println(`Host id:      ${f.hostId}`);
  if (!config) return;
  println(
    `Last push:    ${
      f.lastPush
        ? `${
          relativeTime(f.lastPush.at)
        } (up to change ${f.lastPush.seq} of ${f.seq})`
        : "never"
    }`,
  );
  println(`Unpushed:     ${f.unpushed ?? "?"} change(s)`);
  println(
    `Last pull:    ${f.lastPullAt ? relativeTime(f.lastPullAt) : "never"}`,
  );
  // Each failure stays until a later success of the same kind.
  for (const [op, e] of Object.entries(f.failures)) {
    println(
      `${`Failed ${op}:`.padEnd(14)}${relativeTime(e.at)}: ${e.message}`,
    );
  }
  for (const r of f.rejected) {
    println(`Refused:      ${r.key}: ${r.reason}`);
  }
  for (const g of f.gaps) {
    println(`Missing:      changes ${g.from}-${g.to} of host ${g.host}`);
  }
  const cursors = Object.entries(f.cursors);
  if (cursors.length === 0) println("Other hosts:  none seen yet");
  else {
    println("Other hosts:");
    for (const [host, seq] of cursors) {
      println(`  ${host}  up to change ${seq}`);
    }
  }
}
