/**
 * Object layout in the bucket (relative to the configured prefix, spec
 * section 6), and reading it back from a listing:
 * - `hosts/<host>/seg/<from>-<to>.ndjson.gz`: an immutable segment of that
 *   host's own changes with `from <= seq <= to` (seqs zero-padded, so keys
 *   sort in seq order).
 * - `hosts/<host>/snap.db`: a compaction of every row the host owns.
 * - `hosts/<host>/heartbeat.json`: rewritten by a push that has nothing
 *   else to send while the host has running runs (other hosts judge those
 *   runs by how fresh the host's newest object is).
 * - `logs/<sha256>.gz`: log files, content-addressed.
 *
 * Each host writes only under its own `hosts/<host>/`, so writers never
 * overwrite each other.
 * @module
 */
import type { Bucket, ObjectInfo } from "./bucket.ts";

/** A host id as it may appear in a key: what `newHostId` makes. */
export const HOST_ID = /^[a-z0-9][a-z0-9-]{0,79}$/;

const SEQ_WIDTH = 12;
const SEGMENT_KEY = /^hosts\/([^/]+)\/seg\/(\d{1,20})-(\d{1,20})\.ndjson\.gz$/;
const SNAPSHOT_KEY = /^hosts\/([^/]+)\/snap\.db$/;
const HEARTBEAT_KEY = /^hosts\/([^/]+)\/heartbeat\.json$/;

/** The folder that holds every host's objects. */
export const HOSTS_PREFIX = "hosts/";

function pad(n: number): string {
  return String(n).padStart(SEQ_WIDTH, "0");
}

/** The key of a change segment. */
export function segmentKey(host: string, from: number, to: number): string {
  return `hosts/${host}/seg/${pad(from)}-${pad(to)}.ndjson.gz`;
}

/** The listing prefix of a host's segments. */
export function segmentsPrefix(host: string): string {
  return `hosts/${host}/seg/`;
}

/** The key of a host's snapshot. */
export function snapshotKey(host: string): string {
  return `hosts/${host}/snap.db`;
}

/** The key of a host's heartbeat. */
export function heartbeatKey(host: string): string {
  return `hosts/${host}/heartbeat.json`;
}

/** The key of a log blob. */
export function logBlobKey(sha256: string): string {
  return `logs/${sha256}.gz`;
}

/** A segment seen in a listing. */
export interface SegmentInfo {
  /** Object key. */
  key: string;
  /** First seq covered. */
  from: number;
  /** Last seq covered. */
  to: number;
  /** Size in bytes. */
  size: number;
  /** The entity tag, when listed. */
  etag?: string;
}

/** What a listing says about one host. */
export interface HostListing {
  /** The host id. */
  host: string;
  /** Its segments, by `from`. */
  segments: SegmentInfo[];
  /** Its snapshot, if any. */
  snapshot?: ObjectInfo;
  /** Its heartbeat, if any. */
  heartbeat?: ObjectInfo;
  /** Its newest object's last-modified time (server time, ms), if known. */
  lastWrite?: number;
}

/** A segment key's host and range, or null when `key` is not one. */
export function parseSegmentKey(
  key: string,
): { host: string; from: number; to: number } | null {
  const m = key.match(SEGMENT_KEY);
  if (!m || !HOST_ID.test(m[1])) return null;
  const from = Number(m[2]), to = Number(m[3]);
  return from >= 1 && to >= from ? { host: m[1], from, to } : null;
}

/** A snapshot key's host, or null when `key` is not one. */
export function parseSnapshotKey(key: string): string | null {
  const m = key.match(SNAPSHOT_KEY);
  return m && HOST_ID.test(m[1]) ? m[1] : null;
}

/** A heartbeat key's host, or null when `key` is not one. */
export function parseHeartbeatKey(key: string): string | null {
  const m = key.match(HEARTBEAT_KEY);
  return m && HOST_ID.test(m[1]) ? m[1] : null;
}

/** What a key is in the layout, or null for an object outside it. */
export function classifyKey(
  key: string,
): { kind: "segment" | "snapshot" | "heartbeat"; host: string } | {
  kind: "log";
} | null {
  const seg = parseSegmentKey(key);
  if (seg) return { kind: "segment", host: seg.host };
  const snap = parseSnapshotKey(key);
  if (snap) return { kind: "snapshot", host: snap };
  const beat = parseHeartbeatKey(key);
  if (beat) return { kind: "heartbeat", host: beat };
  return /^logs\/[0-9a-f]{64}\.gz$/.test(key) ? { kind: "log" } : null;
}

/** Every host's segments, snapshot and heartbeat, from one listing of `hosts/`. */
export async function listHosts(
  bucket: Bucket,
): Promise<Map<string, HostListing>> {
  const hosts = new Map<string, HostListing>();
  const entry = (host: string): HostListing => {
    let e = hosts.get(host);
    if (!e) {
      e = { host, segments: [] };
      hosts.set(host, e);
    }
    return e;
  };
  for await (const obj of bucket.list(HOSTS_PREFIX)) {
    const seg = parseSegmentKey(obj.key);
    const host = seg?.host ?? parseSnapshotKey(obj.key) ??
      parseHeartbeatKey(obj.key);
    if (host === null) continue; // Not stint's: ignored.
    const e = entry(host);
    const t = obj.lastModified?.getTime();
    if (t !== undefined && t > (e.lastWrite ?? -Infinity)) e.lastWrite = t;
    if (seg) {
      entry(seg.host).segments.push({
        key: obj.key,
        from: seg.from,
        to: seg.to,
        size: obj.size,
        etag: obj.etag,
      });
      continue;
    }
    if (parseSnapshotKey(obj.key)) e.snapshot = obj;
    else e.heartbeat = obj;
  }
  for (const e of hosts.values()) {
    e.segments.sort((a, b) => a.from - b.from || a.to - b.to);
  }
  return hosts;
}
