/**
 * The bucket probes of `stint status`: one listing under one timeout says
 * whether the bucket exists and these credentials can list it, and which
 * hosts push to it. A listing rather than HeadBucket, because a HEAD error
 * has no body and so no error code to name (Swift answers a wrong signature
 * on HEAD with a bare 403).
 * @module
 */
import { BucketError } from "./bucket.ts";
import type { SyncConfig } from "./config.ts";
import { HOST_ID, HOSTS_PREFIX } from "./layout.ts";
import { openBucket } from "./open.ts";
import { elapsed, type ProbeResult, skipped } from "./probe_result.ts";
import { loadS3Sdk } from "./s3/sdk.ts";

/** A host seen in the bucket. */
interface HostSeen {
  hostId: string;
  lastPushAt: number | null;
  objects: number;
  self: boolean;
}

/** What one bounded listing found. */
interface Listing {
  firstPageMs: number | null;
  error: unknown;
  timedOut: boolean;
  hosts: Map<string, HostSeen>;
  ms: number;
}

/** Probe the bucket and list its hosts, within `timeoutMs`. */
export async function probeBucket(
  config: SyncConfig,
  options: { timeoutMs: number; selfHost: string | null },
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
  return [
    {
      name: "bucket",
      ok: true,
      durationMs: l.firstPageMs,
      data: { bucket: name, exists: true },
    },
    hostsProbe(l, config.prefix),
  ];
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

async function listWithin(
  config: SyncConfig,
  options: { timeoutMs: number; selfHost: string | null },
): Promise<Listing> {
  const bucket = openBucket(config, {
    requestTimeoutMs: options.timeoutMs,
    totalTimeoutMs: options.timeoutMs,
    maxAttempts: 1,
  });
  const started = performance.now();
  const l: Listing = {
    firstPageMs: null,
    error: null,
    timedOut: false,
    hosts: new Map(),
    ms: 0,
  };
  const listing = (async () => {
    try {
      for await (const obj of bucket.list(HOSTS_PREFIX)) {
        l.firstPageMs ??= elapsed(started);
        if (l.timedOut) return;
        // Only folders named like a host id (as sync reads them): a key is
        // anyone's text, and a control character in it would reach the
        // terminal.
        const host = obj.key.slice(HOSTS_PREFIX.length).split("/")[0];
        if (!HOST_ID.test(host)) continue;
        const h = l.hosts.get(host) ??
          {
            hostId: host,
            lastPushAt: null,
            objects: 0,
            self: host === options.selfHost,
          };
        h.objects++;
        const t = obj.lastModified?.getTime();
        if (t !== undefined && (h.lastPushAt === null || t > h.lastPushAt)) {
          h.lastPushAt = t;
        }
        l.hosts.set(host, h);
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
