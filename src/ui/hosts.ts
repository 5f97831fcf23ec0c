/**
 * The dashboard's one seam to sync (everything else in src/ui reads only
 * the store): this host's local sync facts, the same fields as
 * `stint sync status --json`, and the probes of `stint status --json`.
 * Sync modules are imported here lazily, so the other pages never load
 * them. Re-point this file, and only this file, when sync changes.
 * @module
 */
import { getMeta, hostId } from "../store/meta.ts";
import { readUiStore } from "./request.ts";

/** This host's view of sync, as `stint sync status --json` names it. */
export interface SyncFacts {
  configured: boolean;
  bucket: string | null;
  endpoint: string | null;
  region: string | null;
  prefix: string | null;
  flush_interval_s: number | null;
  store_exists: boolean;
  host_id: string | null;
  last_push_at: string | null;
  pushed_seq: number;
  unpushed: number;
  last_pull_at: string | null;
  restored_at: string | null;
  last_error: { at: string | null; kind: string; message: string } | null;
  /** Other hosts' changes applied here: up to which of their seqs. */
  cursors: { host: string; seq: number }[];
  /** Heartbeats of other hosts' running runs (not reported by this version of sync). */
  heartbeats: { host: string; at: string }[] | null;
  warnings: string[];
}

function iso(ms: number | string | null | undefined): string | null {
  return ms === null || ms === undefined || ms === ""
    ? null
    : new Date(Number(ms)).toISOString();
}

/** Gather this host's sync facts from the store and the config (no network). */
export async function syncFacts(dbPath: string): Promise<SyncFacts> {
  const config = await import("../sync/config.ts");
  const { config: cfg, warnings } = config.loadSyncConfig({ env: Deno.env });
  const host = readUiStore(dbPath, (db) => hostId(db), () => null);
  // Without a bucket there is nothing to push: skip counting (it reads
  // every change not pushed yet, which is every change).
  const changelog = cfg ? await import("../sync/changelog.ts") : null;
  const local = changelog
    ? readUiStore(dbPath, (db) => ({
      lastPush: changelog.lastPush(db),
      unpushed: changelog.unpushedCount(db),
      cursors: changelog.remoteCursors(db),
      lastPullAt: getMeta(db, changelog.SYNC_META.lastPullAt) ?? null,
      restoredAt: getMeta(db, changelog.SYNC_META.restoredAt) ?? null,
      lastError: changelog.lastSyncError(db),
    }), () => null)
    : null;
  return {
    configured: cfg !== null,
    bucket: cfg?.bucket ?? null,
    endpoint: cfg?.endpoint ?? null,
    region: cfg?.region ?? null,
    prefix: cfg?.prefix ?? null,
    flush_interval_s: cfg ? cfg.flushIntervalMs / 1000 : null,
    store_exists: host !== null,
    host_id: host,
    last_push_at: iso(local?.lastPush?.at),
    pushed_seq: local?.lastPush?.seq ?? 0,
    unpushed: local?.unpushed ?? 0,
    last_pull_at: iso(local?.lastPullAt),
    restored_at: iso(local?.restoredAt),
    last_error: local?.lastError
      ? {
        at: iso(local.lastError.at),
        kind: local.lastError.kind,
        message: local.lastError.message,
      }
      : null,
    cursors: Object.entries(local?.cursors ?? {}).map(([host, seq]) => ({
      host,
      seq,
    })),
    heartbeats: null,
    warnings,
  };
}

/**
 * Run the probes of `stint status` (read-only; each bounded by
 * STINT_PROBE_TIMEOUT) and return its `--json` report.
 */
export async function probeReport(
  dbPath: string,
): Promise<Record<string, unknown>> {
  const { runProbes } = await import("../sync/probes.ts");
  const { statusToJson } = await import("../cli/status.ts");
  return statusToJson(await runProbes(dbPath));
}
