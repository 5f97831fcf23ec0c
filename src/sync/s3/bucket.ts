/**
 * The S3 implementation of {@link Bucket}, on `@aws-sdk/client-s3`. Only
 * `../open.ts` builds one; everything else sees the interface.
 *
 * - The SDK is loaded on the first request, so constructing one costs nothing.
 * - Credentials come only from the SDK's default chain (env, profiles, SSO,
 *   web identity, container/instance metadata); they are never options here.
 * - Path-style addressing whenever a custom endpoint is set (MinIO, Swift,
 *   R2, fauxqs).
 * - Request checksums only where an operation requires them
 *   (`WHEN_REQUIRED`), plus `Content-MD5` on DeleteObjects, for servers that
 *   predate the newer checksum headers (Swift s3api, older MinIO, R2).
 *   Integrity is ours instead (`../checksum.ts`).
 * - Bodies over 8 MiB go up in parts (`multipart.ts`; fauxqs caps a request
 *   at 11 MiB), read from their source into a few reused buffers;
 *   downloads can be streamed too (`getStream`), with the size cap and a
 *   stall timeout applied as the bytes come.
 * - Our own retry loop (`retry.ts`) and error classification (`errors.ts`).
 * @module
 */
import type * as S3 from "@aws-sdk/client-s3";
import {
  type Body,
  type Bucket,
  BucketError,
  type GetOptions,
  isSource,
  type ObjectInfo,
  type PutOptions,
  quoteForMessage,
  type RequestOptions,
  type StoredObject,
  type StreamedObject,
  tooLarge,
  validateObjectKey,
  validatePrefix,
} from "../bucket.ts";
import { ClockSampler, type OffsetBounds } from "../clock.ts";
import { displayEndpoint } from "../config.ts";
import { classifyS3Error, httpStatus, isMissingObject } from "./errors.ts";
import { checkMetadata, makeS3Client, unquote } from "./client.ts";
import { deleteBatch } from "./delete.ts";
import { counting, guarded } from "../streams.ts";
import { putMultipart } from "./multipart.ts";
import { type Attempt, type RetryPolicy, withRetry } from "./retry.ts";
import { loadS3Sdk } from "./sdk.ts";

/** Where the bucket is and how patient to be with it. */
export interface S3BucketOptions extends Partial<RetryPolicy> {
  /** The bucket name. */
  bucket: string;
  /** A custom endpoint URL (MinIO, Swift, R2, fauxqs); unset means AWS. */
  endpoint?: string;
  /** The signing region (default `us-east-1`). */
  region?: string;
  /** Root prefix prepended to every key ("" or ending in `/`; default ""). */
  prefix?: string;
  /** Keys per ListObjectsV2 page (1..1000, default 1000). */
  listPageSize?: number;
  /** Bodies larger than this go up in parts (default 8 MiB, min 5 MiB). */
  multipartThreshold?: number;
  /** Size of one multipart part (default 8 MiB, min 5 MiB). */
  partSize?: number;
  /** Parts uploaded at once (default 3). */
  partConcurrency?: number;
  /** Bucket time minus local time, to sign requests with (default 0). */
  clockOffsetMs?: number;
}

const MiB = 1024 * 1024;
const DEFAULTS = {
  region: "us-east-1",
  requestTimeoutMs: 30_000,
  maxAttempts: 3,
  totalTimeoutMs: 20_000,
  backoffBaseMs: 200,
  backoffMaxMs: 3_000,
  listPageSize: 1000,
  multipartThreshold: 8 * MiB,
  partSize: 8 * MiB,
  partConcurrency: 3,
};

type Tuning = Omit<typeof DEFAULTS, "region">;

/** A {@link Bucket} on S3 or any S3-compatible server. */
export class S3Bucket implements Bucket {
  /** The bucket name. */
  readonly bucket: string;
  /** The custom endpoint, if any (as configured). */
  readonly endpoint?: string;
  /** The signing region. */
  readonly region: string;
  /** The root prefix ("" or ending in `/`). */
  readonly prefix: string;
  #opts: Tuning;
  #client: Promise<S3.S3Client> | null = null;
  #requests = 0;
  #closed = false;
  #clock = new ClockSampler();
  #clockOffsetMs: number;

  /** Describe a bucket; no SDK is loaded and no request is made until used. */
  constructor(options: S3BucketOptions) {
    if (!options.bucket) {
      throw new BucketError("no-bucket", "No bucket name was given");
    }
    const prefix = options.prefix ?? "";
    if (prefix !== "") {
      if (!prefix.endsWith("/")) {
        throw new BucketError(
          "invalid-key",
          `Invalid root prefix ${quoteForMessage(prefix)}: it must end with /`,
        );
      }
      validatePrefix(prefix);
    }
    this.bucket = options.bucket;
    this.endpoint = options.endpoint || undefined;
    this.region = options.region || DEFAULTS.region;
    this.prefix = prefix;
    this.#clockOffsetMs = Number.isFinite(options.clockOffsetMs)
      ? options.clockOffsetMs!
      : 0;
    const pick = (k: keyof Tuning): number => {
      const v = options[k];
      return typeof v === "number" && Number.isFinite(v) && v > 0
        ? v
        : DEFAULTS[k];
    };
    this.#opts = {
      requestTimeoutMs: pick("requestTimeoutMs"),
      maxAttempts: Math.floor(pick("maxAttempts")),
      totalTimeoutMs: pick("totalTimeoutMs"),
      backoffBaseMs: pick("backoffBaseMs"),
      backoffMaxMs: pick("backoffMaxMs"),
      listPageSize: Math.min(1000, Math.floor(pick("listPageSize"))),
      multipartThreshold: Math.max(5 * MiB, pick("multipartThreshold")),
      partSize: Math.max(5 * MiB, pick("partSize")),
      partConcurrency: Math.floor(pick("partConcurrency")),
    };
  }

  /** How many HTTP requests this bucket has sent (retries and parts included). */
  get requestCount(): number {
    return this.#requests;
  }

  /** `s3://bucket/prefix at <endpoint>` or `s3://bucket/prefix (AWS, region)`. */
  get description(): string {
    const where = this.endpoint
      ? `at ${displayEndpoint(this.endpoint)}`
      : `(AWS S3, ${this.region})`;
    return `s3://${this.bucket}/${this.prefix} ${where}`;
  }

  /** {@inheritDoc Bucket.clock} */
  clock(): OffsetBounds | null {
    return this.#clock.bounds();
  }

  /** {@inheritDoc Bucket.put} */
  async put(
    key: string,
    body: Body,
    options: PutOptions = {},
  ): Promise<void> {
    validateObjectKey(key);
    const metadata = checkMetadata(options.metadata ?? {}, key);
    const contentType = options.contentType ?? "application/octet-stream";
    const size = isSource(body) ? body.size : body.byteLength;
    if (size > this.#opts.multipartThreshold) {
      await putMultipart({
        sdk: await loadS3Sdk(),
        client: await this.#getClient(),
        bucket: this.bucket,
        fullKey: this.prefix + key,
        key,
        description: this.description,
        contentType,
        metadata,
        partSize: this.#opts.partSize,
        concurrency: this.#opts.partConcurrency,
        requestTimeoutMs: this.#opts.requestTimeoutMs,
        retry: (fn) => this.#retry("put", key, fn, options.signal),
        signal: options.signal,
        onProgress: options.onProgress,
      }, body);
      return;
    }
    // Small enough for one request: read into memory (at most the
    // threshold), so a retry can send the same bytes again.
    const bytes = isSource(body)
      ? new Uint8Array(await new Response(body.open()).arrayBuffer())
      : body;
    const sdk = await loadS3Sdk();
    const client = await this.#getClient();
    await this.#retry("put", key, (a) =>
      client.send(
        new sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: bytes,
          ContentLength: bytes.byteLength,
          ContentType: contentType,
          Metadata: metadata,
        }),
        { abortSignal: a.signal },
      ), options.signal);
    options.onProgress?.(bytes.byteLength, bytes.byteLength);
  }

  /** {@inheritDoc Bucket.get} */
  async get(key: string, options?: GetOptions): Promise<StoredObject | null> {
    validateObjectKey(key);
    const max = options?.maxBytes;
    return await this.#retry("get", key, async (a) => {
      const out = await this.#getObject(key, max, a.signal);
      if (out === null) return null;
      const body = out.Body
        ? await out.Body.transformToByteArray()
        : new Uint8Array();
      if (max !== undefined && body.byteLength > max) {
        throw tooLarge(key, body.byteLength, max);
      }
      const obj: StoredObject = { body, metadata: out.Metadata ?? {} };
      if (out.ETag) obj.etag = unquote(out.ETag);
      return obj;
    }, options?.signal);
  }

  /** {@inheritDoc Bucket.getStream} */
  async getStream(
    key: string,
    options?: GetOptions,
  ): Promise<StreamedObject | null> {
    validateObjectKey(key);
    const max = options?.maxBytes;
    const out = await this.#retry(
      "get",
      key,
      (a) => this.#getObject(key, max, a.signal),
      options?.signal,
    );
    if (out === null) return null;
    const raw = out.Body
      ? out.Body.transformToWebStream() as ReadableStream<Uint8Array>
      : new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    const timeoutMs = this.#opts.requestTimeoutMs;
    // The answer came within the request's timeout; the bytes after it
    // must keep coming (a stall is a timeout) and stay under the cap.
    const body = guarded(raw, {
      idleMs: timeoutMs,
      signal: options?.signal,
      stalled: () =>
        this.#classify(new Error("stalled"), "get", key, true, timeoutMs).error,
    }).pipeThrough(
      counting(() => {}, {
        max,
        tooMany: (n) => tooLarge(key, n, max!),
      }),
    );
    const obj: StreamedObject = {
      body,
      size: out.ContentLength ?? 0,
      metadata: out.Metadata ?? {},
    };
    if (out.ETag) obj.etag = unquote(out.ETag);
    return obj;
  }

  /**
   * One GetObject of `key` (one attempt): null when it is missing, a
   * too-large error when its announced size is over `max` (the body is not
   * read). The body is left to the caller.
   */
  async #getObject(
    key: string,
    max: number | undefined,
    signal: AbortSignal,
  ): Promise<S3.GetObjectCommandOutput | null> {
    const sdk = await loadS3Sdk();
    const client = await this.#getClient();
    try {
      const out = await client.send(
        new sdk.GetObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
        }),
        { abortSignal: signal },
      );
      if (max !== undefined && (out.ContentLength ?? 0) > max) {
        await out.Body?.transformToWebStream().cancel().catch(() => {});
        throw tooLarge(key, out.ContentLength ?? 0, max);
      }
      return out;
    } catch (err) {
      if (isMissingObject(err)) return null;
      throw err;
    }
  }

  /** {@inheritDoc Bucket.head} A missing bucket also reads as null here (HEAD has no error body). */
  async head(
    key: string,
    options?: RequestOptions,
  ): Promise<ObjectInfo | null> {
    validateObjectKey(key);
    const sdk = await loadS3Sdk();
    const client = await this.#getClient();
    return await this.#retry("head", key, async (a) => {
      try {
        const out = await client.send(
          new sdk.HeadObjectCommand({
            Bucket: this.bucket,
            Key: this.prefix + key,
          }),
          { abortSignal: a.signal },
        );
        const info: ObjectInfo = {
          key,
          size: out.ContentLength ?? 0,
          metadata: out.Metadata ?? {},
        };
        if (out.ETag) info.etag = unquote(out.ETag);
        if (out.LastModified) info.lastModified = out.LastModified;
        return info;
      } catch (err) {
        if (isMissingObject(err) || httpStatus(err) === 404) return null;
        throw err;
      }
    }, options?.signal);
  }

  /** {@inheritDoc Bucket.list} */
  async *list(
    prefix: string,
    options?: RequestOptions,
  ): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    const sdk = await loadS3Sdk();
    const client = await this.#getClient();
    let token: string | undefined;
    do {
      const page: S3.ListObjectsV2CommandOutput = await this.#retry(
        "list",
        prefix,
        (a) =>
          client.send(
            new sdk.ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: this.prefix + prefix,
              MaxKeys: this.#opts.listPageSize,
              ContinuationToken: token,
            }),
            { abortSignal: a.signal },
          ),
        options?.signal,
      );
      for (const obj of page.Contents ?? []) {
        if (!obj.Key || !obj.Key.startsWith(this.prefix)) continue;
        const info: ObjectInfo = {
          key: obj.Key.slice(this.prefix.length),
          size: obj.Size ?? 0,
        };
        if (obj.ETag) info.etag = unquote(obj.ETag);
        if (obj.LastModified) info.lastModified = obj.LastModified;
        yield info;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** {@inheritDoc Bucket.delete} */
  async delete(keys: string[], options?: RequestOptions): Promise<void> {
    for (const key of keys) validateObjectKey(key);
    const unique = [...new Set(keys)];
    if (unique.length === 0) return;
    const sdk = await loadS3Sdk();
    const client = await this.#getClient();
    for (let i = 0; i < unique.length; i += 1000) {
      await deleteBatch({
        sdk,
        client,
        bucket: this.bucket,
        prefix: this.prefix,
        description: this.description,
        retry: (key, fn) => this.#retry("delete", key, fn, options?.signal),
      }, unique.slice(i, i + 1000));
    }
  }

  /** {@inheritDoc Bucket.close} */
  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = null;
    if (client) {
      try {
        (await client).destroy();
      } catch {
        // The client never came up; nothing to release.
      }
    }
  }

  #getClient(): Promise<S3.S3Client> {
    if (this.#closed) {
      return Promise.reject(
        new BucketError("other", `The bucket ${this.description} was closed`),
      );
    }
    if (this.#client === null) {
      this.#client = loadS3Sdk().then((sdk) =>
        makeS3Client(sdk, {
          region: this.region,
          endpoint: this.endpoint,
          clockOffsetMs: this.#clockOffsetMs,
          onRequest: () => this.#requests++,
          onDate: (date, sent, received) =>
            this.#clock.add(date, sent, received),
        })
      );
      this.#client.catch(() => {
        this.#client = null;
      });
    }
    return this.#client;
  }

  #classify(
    err: unknown,
    operation: string,
    key: string | undefined,
    timedOut: boolean,
    timeoutMs: number,
  ) {
    return classifyS3Error(err, {
      operation,
      key,
      timedOut,
      timeoutMs,
      description: this.description,
      bucket: this.bucket,
      endpoint: this.endpoint,
    });
  }

  #retry<T>(
    operation: string,
    key: string | undefined,
    fn: (attempt: Attempt) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    return withRetry(
      this.#opts,
      fn,
      (err, a) => this.#classify(err, operation, key, a.timedOut, a.timeoutMs),
      signal,
    );
  }
}
