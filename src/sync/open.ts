/**
 * The one place that names S3: a configured location becomes a
 * {@link Bucket} (the S3 implementation, wrapped with SHA-256 checksums).
 * Everything else in stint is written against the `Bucket` interface.
 * @module
 */
import type { Bucket } from "./bucket.ts";
import { withChecksums } from "./checksum.ts";
import type { SyncConfig } from "./config.ts";
import { S3Bucket } from "./s3/bucket.ts";
import type { RetryPolicy } from "./s3/retry.ts";

/** Where the bucket is: the parts of a {@link SyncConfig} that name it. */
export type BucketLocation = Pick<SyncConfig, "bucket" | "endpoint"> & {
  region?: string;
  prefix?: string;
};

/** Open the bucket of `config`; no request is made until it is used. */
export function openBucket(
  config: BucketLocation,
  options: Partial<RetryPolicy> & {
    listPageSize?: number;
    /** Sign requests in bucket time: the offset this host measured before. */
    clockOffsetMs?: number;
  } = {},
): Bucket {
  return withChecksums(
    new S3Bucket({
      ...options,
      bucket: config.bucket,
      endpoint: config.endpoint,
      region: config.region,
      prefix: config.prefix,
    }),
  );
}
