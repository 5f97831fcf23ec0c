/**
 * Sync test support: a "host" is a temp state dir pointed at a bucket of a
 * real S3 endpoint, and stint commands that must succeed on it.
 * @module
 */
import assert from "node:assert/strict";
import { stint, type TempState, tempState } from "./cli.ts";
import type { S3Endpoint } from "./s3.ts";
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
