/**
 * Multipart upload of a body in memory: parts of a fixed size, a few at a
 * time, each with its own timeout and retries; a failed upload is aborted on
 * the server so no orphaned parts stay behind.
 * @module
 */
import type * as S3 from "@aws-sdk/client-s3";
import { BucketError, quoteForMessage } from "../bucket.ts";
import type { Attempt } from "./retry.ts";
import type { S3Sdk } from "./sdk.ts";

/** Everything one multipart upload needs. */
export interface MultipartUpload {
  /** The loaded SDK. */
  sdk: S3Sdk;
  /** The client. */
  client: S3.S3Client;
  /** The bucket name. */
  bucket: string;
  /** The full object key (root prefix included). */
  fullKey: string;
  /** The key as the caller named it (for messages). */
  key: string;
  /** The bucket's description (for messages). */
  description: string;
  /** Content type of the object. */
  contentType: string;
  /** User metadata. */
  metadata: Record<string, string>;
  /** Size of one part. */
  partSize: number;
  /** Parts in flight at once. */
  partConcurrency: number;
  /** Per-request timeout, for the abort. */
  requestTimeoutMs: number;
  /** Run one request with the bucket's retry policy. */
  retry<T>(fn: (a: Attempt) => Promise<T>): Promise<T>;
}

/** Upload `body` in parts. */
export async function putMultipart(
  up: MultipartUpload,
  body: Uint8Array,
): Promise<void> {
  const { sdk, client, bucket, fullKey: Key } = up;
  const created = await up.retry((a) =>
    client.send(
      new sdk.CreateMultipartUploadCommand({
        Bucket: bucket,
        Key,
        ContentType: up.contentType,
        Metadata: up.metadata,
      }),
      { abortSignal: a.signal },
    )
  );
  const uploadId = created.UploadId;
  if (!uploadId) {
    throw new BucketError(
      "other",
      `The server started no multipart upload for ${
        quoteForMessage(up.key)
      } in ${up.description}`,
      { operation: "put", key: up.key },
    );
  }
  try {
    const etags = await uploadParts(up, uploadId, body);
    await up.retry((a) =>
      client.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key,
          UploadId: uploadId,
          MultipartUpload: {
            Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })),
          },
        }),
        { abortSignal: a.signal },
      )
    );
  } catch (err) {
    // Best effort: do not leave orphaned parts behind.
    await client.send(
      new sdk.AbortMultipartUploadCommand({
        Bucket: bucket,
        Key,
        UploadId: uploadId,
      }),
      { abortSignal: AbortSignal.timeout(up.requestTimeoutMs) },
    ).catch(() => {});
    throw err;
  }
}

async function uploadParts(
  up: MultipartUpload,
  uploadId: string,
  body: Uint8Array,
): Promise<string[]> {
  const size = up.partSize;
  const count = Math.ceil(body.byteLength / size);
  const etags: string[] = new Array(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      const part = body.subarray(index * size, (index + 1) * size);
      const out = await up.retry((a) =>
        up.client.send(
          new up.sdk.UploadPartCommand({
            Bucket: up.bucket,
            Key: up.fullKey,
            UploadId: uploadId,
            PartNumber: index + 1,
            Body: part,
            ContentLength: part.byteLength,
          }),
          { abortSignal: a.signal },
        )
      );
      if (!out.ETag) {
        throw new BucketError(
          "other",
          `The server returned no ETag for part ${index + 1} of ${
            quoteForMessage(up.key)
          } in ${up.description}`,
          { operation: "put", key: up.key },
        );
      }
      etags[index] = out.ETag;
    }
  };
  const workers = Math.min(up.partConcurrency, count);
  const results = await Promise.allSettled(
    Array.from({ length: workers }, worker),
  );
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return etags;
}
