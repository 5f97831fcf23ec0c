/**
 * Sync test support: a "host" is a temp state dir pointed at a bucket of a
 * real S3 endpoint, and stint commands that must succeed on it.
 * @module
 */
import assert from "node:assert/strict";
import { stint, type TempState, tempState } from "./cli.ts";
import { type S3Endpoint, startS3 } from "./s3.ts";
import { openSqlite } from "../../src/store/sqlite.ts";
import type { Bucket } from "../../src/sync/bucket.ts";
import { openBucket } from "../../src/sync/open.ts";

/** A host: a temp state dir, and optionally a command it runs under (faketime). */
export interface SyncHost extends TempState {
  /** Run this host's stint processes under this command. */
  wrap?: string[];
}

/** A host: its own state dir (its own store and host id), syncing to `bucket`. */
export function syncHost(
  s3: S3Endpoint,
  bucket: string,
  extra: Record<string, string> = {},
  options: { wrap?: string[] } = {},
): SyncHost {
  const st: SyncHost = tempState("stint-sync-");
  st.wrap = options.wrap;
  st.env = {
    ...st.env,
    ...s3.env,
    STINT_BUCKET: bucket,
    STINT_QUIET: "1",
    ...extra,
  };
  return st;
}

/** Run stint on `st`, assert it exited 0, and return its stdout. */
export async function okStint(st: SyncHost, args: string[]): Promise<string> {
  const r = await stint(args, { env: st.env, wrap: st.wrap });
  assert.equal(
    r.code,
    0,
    `stint ${args.join(" ")} exited ${r.code}: ${r.stderr}`,
  );
  return r.stdout;
}

/** Direct access to `bucket` for checks, under `prefix` ("" sees raw keys). */
export function bucketAt(
  s3: S3Endpoint,
  bucket: string,
  options: { prefix?: string } = {},
): Bucket {
  return openBucket({
    bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    prefix: options.prefix ?? "",
  });
}

/**
 * Run `fn` with a fresh S3 endpoint (fauxqs, or Swift with
 * STINT_TEST_SWIFT=1), its test credentials set for in-process clients.
 */
export async function withSyncS3(
  fn: (s3: S3Endpoint) => Promise<void>,
): Promise<void> {
  const s3 = await startS3();
  Deno.env.set("AWS_ACCESS_KEY_ID", s3.accessKeyId);
  Deno.env.set("AWS_SECRET_ACCESS_KEY", s3.secretAccessKey);
  try {
    await fn(s3);
  } finally {
    await s3.stop();
  }
}

/** Every key in `bucket` (raw, the prefix included). */
export async function listKeys(
  s3: S3Endpoint,
  bucket: string,
): Promise<string[]> {
  const b = bucketAt(s3, bucket);
  try {
    const out: string[] = [];
    for await (const o of b.list("")) out.push(o.key);
    return out;
  } finally {
    await b.close();
  }
}

/** The replicated tables of a store as one comparable string. */
export function dumpReplicated(dbPath: string): string {
  const db = openSqlite(dbPath, { timeoutMs: 5000, readOnly: true });
  try {
    const q = (sql: string) => db.prepare(sql).all();
    return JSON.stringify({
      executions: q("SELECT * FROM executions ORDER BY id"),
      background: q("SELECT * FROM background_runs ORDER BY id"),
      vars: q("SELECT * FROM vars WHERE scope_id = 'root' ORDER BY key"),
      cache: q(
        "SELECT key, hex(value) AS v, updated_at, expires_at, origin, seq FROM cache ORDER BY key",
      ),
      tombstones: q("SELECT * FROM tombstones ORDER BY kind, key"),
    });
  } finally {
    db.close();
  }
}
