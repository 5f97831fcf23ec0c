/**
 * Loading `@aws-sdk/client-s3`: once per process, on the first request, with
 * a computed specifier so that neither `deno run` nor a bundler pulls the SDK
 * in ahead of time (a static import costs ~75 ms of start-up on every
 * command).
 * @module
 */
import type * as S3 from "@aws-sdk/client-s3";
import { BucketError } from "../bucket.ts";

/** The `@aws-sdk/client-s3` module type (types only; erased at run time). */
export type S3Sdk = typeof S3;

let sdkPromise: Promise<S3Sdk> | null = null;

/** Load the SDK (once per process); a failure is a one-line `BucketError`. */
export function loadS3Sdk(): Promise<S3Sdk> {
  if (sdkPromise === null) {
    const spec = "@aws-sdk/client-s3";
    sdkPromise = (import(spec) as Promise<S3Sdk>).catch((err) => {
      sdkPromise = null;
      throw new BucketError(
        "other",
        `Cannot load the AWS SDK (${spec}): ${
          (err instanceof Error ? err.message : String(err)).split("\n")[0]
        }; run "deno install" in the stint checkout`,
      );
    });
  }
  return sdkPromise;
}
