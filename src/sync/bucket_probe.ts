/**
 * The bucket probes of `stint status`: one listing of the whole prefix under
 * one timeout says whether the bucket exists and these credentials can list
 * it, which hosts push to it, and whether it is damaged: objects outside
 * stint's layout (foreign), objects this host's pulls refused or that are
 * over a size cap (corrupt), and changes of a host that are not there
 * (missing). A listing rather than HeadBucket, because a HEAD error has no
 * body and so no error code to name (Swift answers a wrong signature on HEAD
 * with a bare 403).
 * @module
 */
import { BucketError, type ObjectInfo } from "./bucket.ts";
import type { SyncConfig } from "./config.ts";
import type { SyncFacts } from "./facts.ts";
import { classifyKey, HOSTS_PREFIX, parseSegmentKey } from "./layout.ts";
import { openBucket } from "./open.ts";
import { elapsed, type ProbeResult, skipped } from "./probe_result.ts";
import { MAX_SNAPSHOT_BYTES } from "./snapshots.ts";
import { loadS3Sdk } from "./s3/sdk.ts";
import { MAX_SEGMENT_BYTES } from "./segment.ts";

/** A host seen in the bucket. */
interface HostSeen {
  hostId: string;
  lastPushAt: number | null;
  objects: number;
  self: boolean;
  /** Segment ranges, to find holes in a host without a snapshot. */
  ranges: [number, number][];
  snapshot: boolean;
}

/** One kind of damage: how many, and the first found. */
interface Damage {
  count: number;
  first: string | null;
}

/** What one bounded listing found. */
interface Listing {
  firstPageMs: number | null;
  error: unknown;
  timedOut: boolean;
  objects: number;
  hosts: Map<string, HostSeen>;
  foreign: Damage;
  corrupt: Damage;
  ms: number;
}

/** Probe the bucket and list its hosts, within `timeoutMs`. */
export async function probeBucket(
  config: SyncConfig,
  options: { timeoutMs: number; facts: SyncFacts | null },
): Promise<[ProbeResult, ProbeResult]> {
  // Load the SDK before the clock starts: its load time is not the server's.
  try {
    await loadS3Sdk();
  } catch (err) {
    return [
      {
        name: "bucket",
        ok: false,
        durationMs: 0,
        data: { bucket: config.bucket, error: message(err) },
      },
      skipped("hosts", "sdk-failed"),
    ];
  }
  const l = await listWithin(config, options);
  const name = config.bucket;
  if (l.error !== null) {
    const be = l.error instanceof BucketError ? l.error : null;
    return [
      {
        name: "bucket",
        ok: false,
        durationMs: l.ms,
        data: {
          bucket: name,
          exists: be?.kind === "no-bucket" ? false : null,
          error: be?.code ?? "UnknownError",
          error_kind: be?.kind ?? "other",
          http_status: be?.status ?? null,
          message: message(l.error),
        },
      },
      skipped("hosts", "bucket-failed"),
    ];
  }
  if (l.firstPageMs === null) {
    return [
      {
        name: "bucket",
        ok: false,
        durationMs: l.ms,
        data: { bucket: name, exists: null, error: "Timeout" },
      },
      skipped("hosts", "bucket-silent"),
    ];
  }
  const missing = missingChanges(l, options.facts);
  const clean = l.corrupt.count + l.foreign.count + missing.count === 0;
  return [
    {
      name: "bucket",
      ok: clean,
      durationMs: l.firstPageMs,
      data: {
        bucket: name,
        exists: true,
        objects: l.objects,
        complete: !l.timedOut,
        corrupt: l.corrupt.count,
        first_corrupt: l.corrupt.first,
        foreign: l.foreign.count,
        first_foreign: l.foreign.first,
        missing: missing.count,
        first_missing: missing.first,
      },
    },
    hostsProbe(l, config.prefix),
  ];
}

/**
 * Changes that should be in the bucket and are not: the holes this host's
 * pulls found (still unfilled), and holes in the segments of a host that
 * has no snapshot to fill them.
 */
function missingChanges(l: Listing, facts: SyncFacts | null): Damage {
  const found: string[] = [];
  for (const g of facts?.gaps ?? []) {
    if (l.hosts.has(g.host)) {
      found.push(`changes ${g.from}-${g.to} of host ${g.host}`);
    }
  }
  for (const h of l.hosts.values()) {
    if (h.snapshot || h.self || facts?.gaps.some((g) => g.host === h.hostId)) {
      continue;
    }
    let next = 1;
    for (const [from, to] of h.ranges.sort((a, b) => a[0] - b[0])) {
      if (from > next) {
        found.push(`changes ${next}-${from - 1} of host ${h.hostId}`);
      }
      next = Math.max(next, to + 1);
    }
  }
  return { count: found.length, first: found[0] ?? null };
}

function hostsProbe(l: Listing, prefix: string): ProbeResult {
  const hosts = [...l.hosts.values()].sort((a, b) =>
    (b.lastPushAt ?? 0) - (a.lastPushAt ?? 0) ||
    a.hostId.localeCompare(b.hostId)
  );
  return {
    name: "hosts",
    ok: !l.timedOut,
    durationMs: l.ms,
    data: {
      count: hosts.length,
      prefix: prefix + HOSTS_PREFIX,
      complete: !l.timedOut,
      hosts: hosts.map((h) => ({
        host_id: h.hostId,
        last_push: h.lastPushAt === null
          ? null
          : new Date(h.lastPushAt).toISOString(),
        objects: h.objects,
        self: h.self,
      })),
    },
  };
}

/** Sort one listed object into hosts, foreign or corrupt. */
function classify(
  l: Listing,
  obj: ObjectInfo,
  facts: SyncFacts | null,
  refused: Map<string, string>,
): void {
  l.objects++;
  const kind = classifyKey(obj.key);
  const note = (d: Damage, what: string) => {
    d.count++;
    d.first ??= what;
  };
  if (kind === null) return note(l.foreign, obj.key);
  const reason = refused.get(
    `${obj.key}\u0000${obj.etag ?? `size:${obj.size}`}`,
  );
  if (reason !== undefined) return note(l.corrupt, `${obj.key}: ${reason}`);
  if (kind.kind === "log") return;
  const cap = kind.kind === "segment"
    ? MAX_SEGMENT_BYTES
    : kind.kind === "snapshot"
    ? MAX_SNAPSHOT_BYTES
    : 64 * 1024;
  if (obj.size > cap) {
    return note(l.corrupt, `${obj.key}: ${obj.size} bytes, over the cap`);
  }
  const h = l.hosts.get(kind.host) ??
    {
      hostId: kind.host,
      lastPushAt: null,
      objects: 0,
      self: kind.host === facts?.hostId,
      ranges: [],
      snapshot: false,
    };
  h.objects++;
  if (kind.kind === "snapshot") h.snapshot = true;
  const seg = kind.kind === "segment" ? parseSegmentKey(obj.key) : null;
  if (seg) h.ranges.push([seg.from, seg.to]);
  const t = obj.lastModified?.getTime();
  if (t !== undefined && (h.lastPushAt === null || t > h.lastPushAt)) {
    h.lastPushAt = t;
  }
  l.hosts.set(kind.host, h);
}

async function listWithin(
  config: SyncConfig,
  options: { timeoutMs: number; facts: SyncFacts | null },
): Promise<Listing> {
  const bucket = openBucket(config, {
    requestTimeoutMs: options.timeoutMs,
    totalTimeoutMs: options.timeoutMs,
    maxAttempts: 1,
  });
  const refused = new Map(
    (options.facts?.rejected ?? []).map((r) => [
      `${r.key}\u0000${r.etag}`,
      r.reason,
    ]),
  );
  const started = performance.now();
  const l: Listing = {
    firstPageMs: null,
    error: null,
    timedOut: false,
    objects: 0,
    hosts: new Map(),
    foreign: { count: 0, first: null },
    corrupt: { count: 0, first: null },
    ms: 0,
  };
  const listing = (async () => {
    try {
      for await (const obj of bucket.list("")) {
        l.firstPageMs ??= elapsed(started);
        if (l.timedOut) return;
        classify(l, obj, options.facts, refused);
      }
      l.firstPageMs ??= elapsed(started);
    } catch (err) {
      l.error = err;
    }
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    listing,
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        l.timedOut = true;
        resolve();
      }, options.timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  l.ms = elapsed(started);
  // Closing releases sockets; a request still in flight is abandoned.
  bucket.close().catch(() => {});
  return l;
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}
