/**
 * The dashboard's one seam to sync (everything else in src/ui reads only
 * the store): this host's local sync facts, the same object as
 * `stint sync status --json` plus what the last pull saw of each other
 * host's heartbeat, and the probes of `stint status --json`. Sync modules
 * are imported here lazily, so the other pages never load them.
 * @module
 */
import { hostSeen, silentSince } from "../store/replication/liveness.ts";
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
  /**
   * What the last pull saw of each other host: its newest write in the
   * bucket (its heartbeat while it has running runs), and since when it is
   * silent (null while it is not).
   */
  heartbeats: { host: string; at: string; silent_since: string | null }[];
  warnings: string[];
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Gather this host's sync facts from the store and the config (no network). */
export async function syncFacts(dbPath: string): Promise<SyncFacts> {
  const { loadSyncConfig } = await import("../sync/config.ts");
  const { gatherSyncFacts } = await import("../sync/facts.ts");
  const { syncStatusJson } = await import("../cli/sync_status.ts");
  const { config, warnings } = loadSyncConfig({ env: Deno.env });
  const gathered = gatherSyncFacts(dbPath, { location: config });
  const json = syncStatusJson(dbPath, config, gathered) as Omit<
    SyncFacts,
    "heartbeats" | "warnings"
  >;
  const heartbeats = readUiStore(
    dbPath,
    (db) =>
      json.cursors.flatMap(({ host }) => {
        const seen = hostSeen(db, host);
        if (!seen) return [];
        const silent = silentSince(db, host);
        return [{
          host,
          at: iso(seen.last),
          silent_since: silent === null ? null : iso(silent),
        }];
      }),
    () => [],
  );
  return { ...json, heartbeats, warnings };
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
