/**
 * Cross-host liveness. Only the host that recorded a run can judge it by
 * pid, so other hosts judge it by the host's heartbeat instead: while a host
 * has running runs its pushes keep an object of its own fresh in the bucket,
 * and every pull notes, per host, the newest write it saw and when it
 * looked. A `running` record of a host that was silent for longer than its
 * staleness bound when we last looked is shown as `lost` ("host silent
 * since ...") — shown, never written, so it reads `running` again as soon as
 * the host pushes again, and the record itself only ever changes on its host.
 * @module
 */
import { getMeta, hostId, setMeta } from "../meta.ts";
import type { Database } from "../sqlite.ts";

const PREFIX = "host_seen.";

/** What the last look at the bucket said about one host. */
export interface HostSeen {
  /** The newest write of that host in the bucket (bucket time, ms). */
  last: number;
  /** When we looked (bucket time, ms). */
  listed: number;
  /** Silent for longer than this means gone (ms). */
  staleAfter: number;
}

/** Note what a listing showed of other hosts. Call inside a write transaction. */
export function recordHostsSeen(
  db: Database,
  seen: Map<string, number>,
  look: { listed: number; staleAfter: number },
): void {
  for (const [host, last] of seen) {
    setMeta(
      db,
      PREFIX + host,
      JSON.stringify({ last, listed: look.listed, stale: look.staleAfter }),
    );
  }
}

/** What was last seen of `host`, if it was ever listed. */
export function hostSeen(db: Database, host: string): HostSeen | null {
  const raw = getMeta(db, PREFIX + host);
  if (raw === undefined) return null;
  try {
    const v = JSON.parse(raw);
    const out = {
      last: Number(v.last),
      listed: Number(v.listed),
      staleAfter: Number(v.stale),
    };
    return Object.values(out).every(Number.isFinite) ? out : null;
  } catch {
    return null;
  }
}

/** When `host` went silent, if the last look showed it silent for too long. */
export function silentSince(db: Database, host: string): number | null {
  const seen = hostSeen(db, host);
  return seen && seen.listed - seen.last > seen.staleAfter ? seen.last : null;
}

/** A record that can be shown as lost. */
interface RunLike {
  status: string;
  hostId: string;
  error: string | null;
}

/**
 * `runs`, with the `running` ones of hosts that went silent shown as
 * `lost`. Costs nothing when no run of another host is running.
 */
export function showSilentHostsLost<T extends RunLike>(
  db: Database,
  runs: T[],
): T[] {
  if (!runs.some((r) => r.status === "running")) return runs;
  let self: string;
  try {
    self = hostId(db);
  } catch {
    return runs;
  }
  const since = new Map<string, number | null>();
  return runs.map((r) => {
    if (r.status !== "running" || r.hostId === self) return r;
    if (!since.has(r.hostId)) since.set(r.hostId, silentSince(db, r.hostId));
    const at = since.get(r.hostId);
    if (at === null || at === undefined) return r;
    return {
      ...r,
      status: "lost",
      error: `Host ${r.hostId} silent since ${
        new Date(at).toISOString()
      }: no heartbeat in the bucket since then (shown as lost until it pushes again)`,
    };
  });
}
