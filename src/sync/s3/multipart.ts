/**
 * Big uploads in parts: CreateMultipartUpload, then the parts, a few at a
 * time, each read straight from its source into one of a few reused
 * buffers (a file is read at the part's offset; a stream is read in
 * order), each its own request with its own timeout and retries, then
 * CompleteMultipartUpload. Memory holds `concurrency` parts whatever the
 * object's size (fauxqs caps one request at 11 MiB; Swift has real
 * multipart). A failed or aborted upload is aborted on the server, so no
 * parts stay behind.
 *
 * Why not lib-storage's `Upload`: its chunker copies every part out of the
 * stream (`Buffer.concat`), and V8 frees those copies only after some
 * 64 MB of them piled up, so a 200 MB log peaked at 176-224 MB (budget 128).
 * @module
 */
import type * as S3 from "@aws-sdk/client-s3";
import {
  type Body,
  type BodySource,
  BucketError,
  isSource,
  quoteForMessage,
} from "../bucket.ts";
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
  concurrency: number;
  /** Per-request timeout, for the abort. */
  requestTimeoutMs: number;
  /** Run one request with the bucket's retry policy. */
  retry<T>(fn: (a: Attempt) => Promise<T>): Promise<T>;
  /** Abort the upload when this fires. */
  signal?: AbortSignal;
  /** Bytes uploaded so far (whole parts), and in all. */
  onProgress?: (sent: number, total: number) => void;
}

/** Upload `body` in parts. */
export async function putMultipart(
  up: MultipartUpload,
  body: Body,
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

/** Reads the parts of a body, in any order (a file) or in order (a stream). */
interface PartReader {
  /** Fill `into` with part `index` (its first bytes); returns its length. */
  read(index: number, into: Uint8Array): Promise<number>;
  /** Release what reading holds. */
  close(): void;
}

async function uploadParts(
  up: MultipartUpload,
  uploadId: string,
  body: Body,
): Promise<string[]> {
  const size = isSource(body) ? body.size : body.byteLength;
  const partSize = up.partSize;
  const count = Math.max(1, Math.ceil(size / partSize));
  const etags: string[] = new Array(count);
  const reader = partReader(body, partSize);
  let next = 0;
  let sent = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    // One buffer per worker, reused for each of its parts.
    const buffer = isSource(body) ? new Uint8Array(partSize) : null;
    while (next < count && !failed) {
      if (up.signal?.aborted) throw up.signal.reason;
      const index = next++;
      const part = buffer
        ? buffer.subarray(0, await reader.read(index, buffer))
        : (body as Uint8Array).subarray(
          index * partSize,
          (index + 1) * partSize,
        );
      const want = Math.min(partSize, size - index * partSize);
      if (part.byteLength !== want) {
        throw new BucketError(
          "other",
          `The body of ${quoteForMessage(up.key)} ended early (part ${
            index + 1
          }: ${part.byteLength} of ${want} bytes); it changed while it was uploaded`,
          { operation: "put", key: up.key },
        );
      }
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
      sent += part.byteLength;
      up.onProgress?.(sent, size);
    }
  };
  try {
    const workers = Math.min(up.concurrency, count);
    const results = await Promise.allSettled(
      Array.from({ length: workers }, () =>
        worker().catch((err) => {
          failed = true;
          throw err;
        })),
    );
    const bad = results.find((r) => r.status === "rejected");
    if (bad) throw (bad as PromiseRejectedResult).reason;
    return etags;
  } finally {
    reader.close();
  }
}

/** How the parts of `body` are read. */
function partReader(body: Body, partSize: number): PartReader {
  if (!isSource(body)) {
    return { read: () => Promise.resolve(0), close() {} };
  }
  return body.readAt
    ? randomAccess(body as Required<BodySource>, partSize)
    : inOrder(body, partSize);
}

/** A source that can be read at an offset (a file): parts in any order. */
function randomAccess(
  body: Required<BodySource>,
  partSize: number,
): PartReader {
  return {
    read: (index, into) => body.readAt(index * partSize, into),
    close() {},
  };
}

/**
 * A stream: parts are read in order, one at a time (a worker waits for the
 * one before it), copying the stream's chunks into the part's buffer.
 */
function inOrder(body: BodySource, partSize: number): PartReader {
  const reader = body.open().getReader();
  let leftover: Uint8Array | null = null;
  let readNext = 0;
  let queue: Promise<unknown> = Promise.resolve();
  const fill = async (index: number, into: Uint8Array): Promise<number> => {
    if (index !== readNext) {
      throw new Error(`part ${index + 1} read out of order`);
    }
    readNext++;
    let n = 0;
    while (n < partSize) {
      let chunk = leftover;
      leftover = null;
      if (chunk === null) {
        const r = await reader.read();
        if (r.done) break;
        chunk = r.value;
      }
      const take = Math.min(chunk.byteLength, partSize - n);
      into.set(chunk.subarray(0, take), n);
      n += take;
      if (take < chunk.byteLength) leftover = chunk.subarray(take);
    }
    return n;
  };
  return {
    read(index, into) {
      // Workers take indexes in order, so chaining keeps the stream in order.
      const p = queue.then(() => fill(index, into));
      queue = p.catch(() => {});
      return p;
    },
    close() {
      reader.cancel().catch(() => {});
    },
  };
}
