/**
 * Deleting up to 1000 objects in one DeleteObjects request, one by one on
 * servers without multi-object delete (GCS's S3 API); a key that is already
 * gone is not an error.
 * @module
 */
import type * as S3 from "@aws-sdk/client-s3";
import { BucketError, quoteForMessage } from "../bucket.ts";
import type { Attempt } from "./retry.ts";
import type { S3Sdk } from "./sdk.ts";

/** What one batch delete needs. */
export interface DeleteContext {
  /** The loaded SDK. */
  sdk: S3Sdk;
  /** The client. */
  client: S3.S3Client;
  /** The bucket name. */
  bucket: string;
  /** The root prefix of every key. */
  prefix: string;
  /** The bucket's description (for messages). */
  description: string;
  /** Run one request for `key` with the bucket's retry policy. */
  retry<T>(key: string, fn: (a: Attempt) => Promise<T>): Promise<T>;
}

/** Delete `batch` (at most 1000 keys, relative to the prefix). */
export async function deleteBatch(
  d: DeleteContext,
  batch: string[],
): Promise<void> {
  let out: S3.DeleteObjectsCommandOutput;
  try {
    out = await d.retry(batch[0], (a) =>
      d.client.send(
        new d.sdk.DeleteObjectsCommand({
          Bucket: d.bucket,
          Delete: {
            Objects: batch.map((k) => ({ Key: d.prefix + k })),
            Quiet: true,
          },
        }),
        { abortSignal: a.signal },
      ));
  } catch (err) {
    if (!(err instanceof BucketError && err.code === "NotImplemented")) {
      throw err;
    }
    for (const k of batch) {
      await d.retry(k, (a) =>
        d.client.send(
          new d.sdk.DeleteObjectCommand({
            Bucket: d.bucket,
            Key: d.prefix + k,
          }),
          { abortSignal: a.signal },
        ));
    }
    return;
  }
  const failed = (out.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
  if (failed.length > 0) {
    const key = (failed[0].Key ?? "").slice(d.prefix.length);
    const code = failed[0].Code ?? "UnknownError";
    throw new BucketError(
      code === "AccessDenied" ? "access-denied" : "other",
      `Could not delete ${failed.length} object(s) from ${d.description}: ${
        quoteForMessage(key)
      } failed with ${code}`,
      { operation: "delete", key, code },
    );
  }
}
