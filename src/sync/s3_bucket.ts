/**
 * The S3 implementation of {@link Bucket}, on `@aws-sdk/client-s3`.
 *
 * The SDK is loaded on the first request with a computed specifier, so
 * importing this module (or constructing an {@link S3Bucket}) costs nothing;
 * commands that never touch the bucket never load the SDK.
 *
 * - Credentials come only from the SDK's default chain (env, profiles, SSO,
 *   web identity, container/instance metadata); they are never options here.
 * - Path-style addressing whenever a custom endpoint is set (MinIO, Swift,
 *   R2, fauxqs).
 * - Request checksums only where an operation requires them
 *   (`WHEN_REQUIRED`), plus `Content-MD5` on DeleteObjects, for servers that
 *   predate the newer checksum headers (Swift s3api, older MinIO, R2).
 *   Integrity is ours instead: every put stores the body's SHA-256 in the
 *   `stint-sha256` metadata and every get verifies it (kind `corrupt`).
 * - Bodies over 8 MiB go up as a multipart upload with 8 MiB parts (fauxqs
 *   caps a request at 11 MiB); each part has its own timeout and retries, and
 *   a failed upload is aborted on the server.
 * - Our own retry loop (the SDK's is off): exponential backoff with full
 *   jitter for network errors, timeouts, 5xx and throttling, never for other
 *   4xx; no new attempt starts after `totalTimeoutMs`; each HTTP request is
 *   cut off after `requestTimeoutMs` with an AbortSignal.
 * @module
 */
import type * as S3 from "@aws-sdk/client-s3";
import {
  type Bucket,
  BucketError,
  type BucketErrorKind,
  type GetOptions,
  type ObjectInfo,
  type PutOptions,
  quoteForMessage,
  validateKey,
  validatePrefix,
} from "./bucket.ts";

/** The `@aws-sdk/client-s3` module type (types only; erased at run time). */
export type S3Sdk = typeof S3;

/** Where the bucket is and how patient to be with it. */
export interface S3BucketOptions {
  /** The bucket name. */
  bucket: string;
  /** A custom endpoint URL (MinIO, Swift, R2, fauxqs); unset means AWS. */
  endpoint?: string;
  /** The signing region (default `us-east-1`). */
  region?: string;
  /** Root prefix prepended to every key ("" or ending in `/`; default ""). */
  prefix?: string;
  /** Cut one HTTP request off after this many ms (default 30 000). */
  requestTimeoutMs?: number;
  /** Attempts per request, first one included (default 3; 1 = no retry). */
  maxAttempts?: number;
  /** No retry starts after this many ms from the first attempt (default 20 000). */
  totalTimeoutMs?: number;
  /** First backoff delay in ms; doubles per attempt, full jitter (default 200). */
  backoffBaseMs?: number;
  /** Largest backoff delay in ms (default 3 000). */
  backoffMaxMs?: number;
  /** Keys per ListObjectsV2 page (1..1000, default 1000). */
  listPageSize?: number;
  /** Bodies larger than this go up in parts (default 8 MiB, min 5 MiB). */
  multipartThreshold?: number;
  /** Size of one multipart part (default 8 MiB, min 5 MiB). */
  partSize?: number;
  /** Parts uploaded at once (default 4). */
  partConcurrency?: number;
}

/** The metadata name under which every object's SHA-256 (hex) is kept. */
export const CHECKSUM_METADATA = "stint-sha256";

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
  partConcurrency: 4,
};

let sdkPromise: Promise<S3Sdk> | null = null;

/**
 * Load `@aws-sdk/client-s3` (once per process). The specifier is computed so
 * that neither `deno run` nor a bundler pulls the SDK in ahead of time.
 */
export function loadS3Sdk(): Promise<S3Sdk> {
  if (sdkPromise === null) {
    const spec = "@aws-sdk/client-s3";
    sdkPromise = (import(spec) as Promise<S3Sdk>).catch((err) => {
      sdkPromise = null;
      throw new BucketError(
        "other",
        `Cannot load the AWS SDK (${spec}): ${
          firstLine(err)
        }; run "deno install" in the stint checkout`,
      );
    });
  }
  return sdkPromise;
}

/** An {@link S3Bucket} for a loaded sync configuration. */
export function openS3Bucket(
  config: {
    bucket: string;
    endpoint?: string;
    region?: string;
    prefix?: string;
  },
  options: Omit<S3BucketOptions, "bucket" | "endpoint" | "region" | "prefix"> =
    {},
): S3Bucket {
  return new S3Bucket({ ...options, ...config });
}

interface Attempt {
  signal: AbortSignal;
  timeoutMs: number;
}

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
  #opts: Required<Omit<S3BucketOptions, "endpoint">>;
  #client: Promise<S3.S3Client> | null = null;
  #requests = 0;
  #closed = false;

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
    const pick = <K extends keyof typeof DEFAULTS>(k: K): number => {
      const v = options[k];
      return typeof v === "number" && Number.isFinite(v) && v > 0
        ? v
        : DEFAULTS[k] as number;
    };
    this.#opts = {
      bucket: this.bucket,
      region: this.region,
      prefix,
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

  /** {@inheritDoc Bucket.put} */
  async put(
    key: string,
    body: Uint8Array,
    options: PutOptions = {},
  ): Promise<void> {
    validateKey(key);
    const metadata = checkMetadata(options.metadata ?? {}, key);
    metadata[CHECKSUM_METADATA] = await sha256Hex(body);
    const contentType = options.contentType ?? "application/octet-stream";
    if (body.byteLength > this.#opts.multipartThreshold) {
      await this.#putMultipart(key, body, contentType, metadata);
      return;
    }
    const sdk = await loadS3Sdk();
    const client = await this.#getClient();
    await this.#retry("put", key, (a) =>
      client.send(
        new sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: body,
          ContentLength: body.byteLength,
          ContentType: contentType,
          Metadata: metadata,
        }),
        { abortSignal: a.signal },
      ));
  }

  /** {@inheritDoc Bucket.get} */
  async get(key: string, options?: GetOptions): Promise<Uint8Array | null> {
    validateKey(key);
    const sdk = await loadS3Sdk();
    const client = await this.#getClient();
    const result = await this.#retry("get", key, async (a) => {
      try {
        const out = await client.send(
          new sdk.GetObjectCommand({
            Bucket: this.bucket,
            Key: this.prefix + key,
          }),
          { abortSignal: a.signal },
        );
        const bytes = out.Body
          ? await out.Body.transformToByteArray()
          : new Uint8Array();
        return { bytes, metadata: out.Metadata ?? {} };
      } catch (err) {
        if (isMissingObject(err)) return null;
        throw err;
      }
    });
    if (result === null) return null;
    const want = result.metadata[CHECKSUM_METADATA];
    if (want === undefined && options?.requireChecksum) {
      throw new BucketError(
        "corrupt",
        `Object ${
          quoteForMessage(key)
        } in ${this.description} has no stored SHA-256, so it cannot be verified (it was not written by stint)`,
        { operation: "get", key, code: "ChecksumMissing" },
      );
    }
    if (want !== undefined) {
      const got = await sha256Hex(result.bytes);
      if (got !== want.toLowerCase()) {
        throw new BucketError(
          "corrupt",
          `Object ${
            quoteForMessage(key)
          } in ${this.description} is corrupt: its SHA-256 does not match the one stored with it`,
          { operation: "get", key, code: "ChecksumMismatch" },
        );
      }
    }
    return result.bytes;
  }

  /** {@inheritDoc Bucket.head} A missing bucket also reads as null here (HEAD has no error body). */
  async head(key: string): Promise<ObjectInfo | null> {
    validateKey(key);
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
    });
  }

  /** {@inheritDoc Bucket.list} */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
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
  async delete(keys: string[]): Promise<void> {
    for (const key of keys) validateKey(key);
    const unique = [...new Set(keys)];
    if (unique.length === 0) return;
    const sdk = await loadS3Sdk();
    const client = await this.#getClient();
    for (let i = 0; i < unique.length; i += 1000) {
      const batch = unique.slice(i, i + 1000);
      let out: S3.DeleteObjectsCommandOutput;
      try {
        out = await this.#retry("delete", batch[0], (a) =>
          client.send(
            new sdk.DeleteObjectsCommand({
              Bucket: this.bucket,
              Delete: {
                Objects: batch.map((k) => ({ Key: this.prefix + k })),
                Quiet: true,
              },
            }),
            { abortSignal: a.signal },
          ));
      } catch (err) {
        // Servers without multi-object delete (GCS's S3 API): one by one.
        if (err instanceof BucketError && err.code === "NotImplemented") {
          for (const k of batch) {
            await this.#retry("delete", k, (a) =>
              client.send(
                new sdk.DeleteObjectCommand({
                  Bucket: this.bucket,
                  Key: this.prefix + k,
                }),
                { abortSignal: a.signal },
              ));
          }
          continue;
        }
        throw err;
      }
      const failed = (out.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
      if (failed.length > 0) {
        const first = failed[0];
        const key = (first.Key ?? "").slice(this.prefix.length);
        const code = first.Code ?? "UnknownError";
        throw new BucketError(
          code === "AccessDenied" ? "access-denied" : "other",
          `Could not delete ${failed.length} object(s) from ${this.description}: ${
            quoteForMessage(key)
          } failed with ${code}`,
          { operation: "delete", key, code },
        );
      }
    }
  }

  /**
   * Create the bucket (for tests and first-time setup). An existing bucket
   * that we own is not an error.
   */
  async createBucket(): Promise<void> {
    const sdk = await loadS3Sdk();
    const client = await this.#getClient();
    try {
      await this.#retry("create bucket", undefined, (a) =>
        client.send(
          new sdk.CreateBucketCommand({
            Bucket: this.bucket,
            // AWS wants a location outside us-east-1; custom servers have their own.
            ...(!this.endpoint && this.region !== "us-east-1"
              ? {
                CreateBucketConfiguration: {
                  LocationConstraint: this
                    .region as S3.BucketLocationConstraint,
                },
              }
              : {}),
          }),
          { abortSignal: a.signal },
        ));
    } catch (err) {
      if (
        err instanceof BucketError &&
        (err.code === "BucketAlreadyOwnedByYou" ||
          err.code === "BucketAlreadyExists")
      ) return;
      throw err;
    }
  }

  /**
   * Whether the bucket exists (HeadBucket): false on 404, a `BucketError`
   * for anything else that is not a yes (credentials, access, network).
   */
  async bucketExists(): Promise<boolean> {
    const sdk = await loadS3Sdk();
    const client = await this.#getClient();
    try {
      await this.#retry(
        "head bucket",
        undefined,
        (a) =>
          client.send(new sdk.HeadBucketCommand({ Bucket: this.bucket }), {
            abortSignal: a.signal,
          }),
      );
      return true;
    } catch (err) {
      if (err instanceof BucketError && err.kind === "no-bucket") return false;
      throw err;
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

  async #putMultipart(
    key: string,
    body: Uint8Array,
    contentType: string,
    metadata: Record<string, string>,
  ): Promise<void> {
    const sdk = await loadS3Sdk();
    const client = await this.#getClient();
    const Key = this.prefix + key;
    const created = await this.#retry("put", key, (a) =>
      client.send(
        new sdk.CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key,
          ContentType: contentType,
          Metadata: metadata,
        }),
        { abortSignal: a.signal },
      ));
    const uploadId = created.UploadId;
    if (!uploadId) {
      throw new BucketError(
        "other",
        `The server started no multipart upload for ${
          quoteForMessage(key)
        } in ${this.description}`,
        { operation: "put", key },
      );
    }
    try {
      const size = this.#opts.partSize;
      const count = Math.ceil(body.byteLength / size);
      const etags: string[] = new Array(count);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < count) {
          const index = next++;
          const part = body.subarray(index * size, (index + 1) * size);
          const out = await this.#retry("put", key, (a) =>
            client.send(
              new sdk.UploadPartCommand({
                Bucket: this.bucket,
                Key,
                UploadId: uploadId,
                PartNumber: index + 1,
                Body: part,
                ContentLength: part.byteLength,
              }),
              { abortSignal: a.signal },
            ));
          if (!out.ETag) {
            throw new BucketError(
              "other",
              `The server returned no ETag for part ${index + 1} of ${
                quoteForMessage(key)
              } in ${this.description}`,
              { operation: "put", key },
            );
          }
          etags[index] = out.ETag;
        }
      };
      const workers = Math.min(this.#opts.partConcurrency, count);
      const results = await Promise.allSettled(
        Array.from({ length: workers }, worker),
      );
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
      await this.#retry("put", key, (a) =>
        client.send(
          new sdk.CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key,
            UploadId: uploadId,
            MultipartUpload: {
              Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })),
            },
          }),
          { abortSignal: a.signal },
        ));
    } catch (err) {
      // Best effort: do not leave orphaned parts behind.
      await client.send(
        new sdk.AbortMultipartUploadCommand({
          Bucket: this.bucket,
          Key,
          UploadId: uploadId,
        }),
        { abortSignal: AbortSignal.timeout(this.#opts.requestTimeoutMs) },
      ).catch(() => {});
      throw err;
    }
  }

  #getClient(): Promise<S3.S3Client> {
    if (this.#closed) {
      return Promise.reject(
        new BucketError("other", `The bucket ${this.description} was closed`),
      );
    }
    if (this.#client === null) {
      this.#client = loadS3Sdk().then((sdk) => this.#makeClient(sdk));
      this.#client.catch(() => {
        this.#client = null;
      });
    }
    return this.#client;
  }

  #makeClient(sdk: S3Sdk): S3.S3Client {
    const client = new sdk.S3Client({
      region: this.region,
      ...(this.endpoint
        ? { endpoint: this.endpoint, forcePathStyle: true }
        : {}),
      maxAttempts: 1,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    // Count every request that goes on the wire (per attempt, per part).
    client.middlewareStack.add(
      (next) => (args) => {
        this.#requests++;
        return next(args);
      },
      { step: "deserialize", name: "stintRequestCounter", priority: "low" },
    );
    // Content-MD5 on multi-object delete, which older servers require.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const req = args.request as {
          body?: unknown;
          headers?: Record<string, string>;
        };
        if (
          context.commandName === "DeleteObjectsCommand" && req.headers &&
          (typeof req.body === "string" || req.body instanceof Uint8Array)
        ) {
          req.headers["content-md5"] = await md5Base64(req.body);
        }
        return next(args);
      },
      { step: "build", name: "stintContentMd5", priority: "low" },
    );
    return client;
  }

  /**
   * Run `fn` with retries: each attempt gets an AbortSignal that fires after
   * the per-request timeout; transient failures back off with full jitter.
   */
  async #retry<T>(
    operation: string,
    key: string | undefined,
    fn: (attempt: Attempt) => Promise<T>,
  ): Promise<T> {
    const o = this.#opts;
    const started = Date.now();
    for (let attempt = 1;; attempt++) {
      const remaining = o.totalTimeoutMs - (Date.now() - started);
      const timeoutMs = Math.max(
        1,
        Math.min(o.requestTimeoutMs, attempt === 1 ? Infinity : remaining),
      );
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      try {
        return await fn({ signal: controller.signal, timeoutMs });
      } catch (err) {
        const { error, retryable } = this.#classify(err, {
          operation,
          key,
          timedOut: controller.signal.aborted,
          timeoutMs,
        });
        if (!retryable || attempt >= o.maxAttempts) throw error;
        const cap = Math.min(
          o.backoffMaxMs,
          o.backoffBaseMs * 2 ** (attempt - 1),
        );
        const delay = Math.random() * cap;
        if (Date.now() - started + delay >= o.totalTimeoutMs) throw error;
        await new Promise((r) => setTimeout(r, delay));
      } finally {
        clearTimeout(timer);
      }
    }
  }

  #classify(
    err: unknown,
    ctx: {
      operation: string;
      key: string | undefined;
      timedOut: boolean;
      timeoutMs: number;
    },
  ): { error: BucketError; retryable: boolean } {
    if (err instanceof BucketError) return { error: err, retryable: false };
    const what = ctx.key !== undefined
      ? `${ctx.operation} ${quoteForMessage(ctx.key)}`
      : ctx.operation;
    const where = this.description;
    const details = { operation: ctx.operation, key: ctx.key };
    const make = (
      kind: BucketErrorKind,
      message: string,
      code: string | undefined,
      status?: number,
    ) =>
      new BucketError(kind, scrubSecrets(message), {
        ...details,
        code,
        status,
      });

    if (ctx.timedOut) {
      return {
        error: make(
          "timeout",
          `S3 request timed out after ${ctx.timeoutMs} ms (${what} on ${where})`,
          "Timeout",
        ),
        retryable: true,
      };
    }
    const e = (err ?? {}) as Record<string, unknown>;
    const name = typeof e.name === "string" ? e.name : "";
    const status = httpStatus(err);
    const netCode = networkCode(err);
    if (
      name === "CredentialsProviderError" ||
      /could not load credentials/i.test(firstLine(err))
    ) {
      return {
        error: make(
          "credentials",
          `No AWS credentials found for ${where}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE`,
          "CredentialsProviderError",
        ),
        retryable: false,
      };
    }
    if (netCode !== null && status === undefined) {
      const permanent = netCode === "ENOTFOUND";
      return {
        error: make(
          "unreachable",
          `Cannot reach the S3 endpoint for ${where} (${netCode}); check STINT_S3_ENDPOINT and the network`,
          netCode,
        ),
        retryable: !permanent,
      };
    }
    const code = typeof e.Code === "string"
      ? e.Code
      : name && name !== "Error" && name !== "UnknownError"
      ? name
      : status !== undefined
      ? `HTTP${status}`
      : "UnknownError";
    const codeText = status !== undefined ? `${code}, HTTP ${status}` : code;
    if (
      code === "NoSuchBucket" ||
      (ctx.operation === "head bucket" && status === 404)
    ) {
      return {
        error: make(
          "no-bucket",
          `Bucket "${this.bucket}" does not exist${
            this.endpoint ? ` at ${displayEndpoint(this.endpoint)}` : ""
          } (${codeText}); create it or check STINT_BUCKET`,
          code,
          status,
        ),
        retryable: false,
      };
    }
    if (CREDENTIAL_CODES.has(code)) {
      return {
        error: make(
          "credentials",
          `S3 rejected the credentials for ${where} (${codeText}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE`,
          code,
          status,
        ),
        retryable: false,
      };
    }
    if (
      code === "AuthorizationHeaderMalformed" || code === "PermanentRedirect" ||
      status === 301
    ) {
      return {
        error: make(
          "other",
          `S3 refused ${what} on ${where} (${codeText}); check STINT_S3_REGION`,
          code,
          status,
        ),
        retryable: false,
      };
    }
    if (ACCESS_CODES.has(code) || status === 403) {
      return {
        error: make(
          "access-denied",
          `Access denied to ${where} (${codeText}) for ${what}; check the bucket policy for these credentials`,
          code,
          status,
        ),
        retryable: false,
      };
    }
    if (CORRUPT_CODES.has(code) || /checksum mismatch/i.test(firstLine(err))) {
      return {
        error: make(
          "corrupt",
          `Data was corrupted in transit (${what} on ${where}, ${codeText})`,
          code,
          status,
        ),
        retryable: true,
      };
    }
    const transient =
      (status !== undefined && (status >= 500 || status === 429)) ||
      TRANSIENT_CODES.has(code);
    if (transient) {
      return {
        error: make(
          "other",
          `The S3 server failed ${what} on ${where} (${codeText}); try again later`,
          code,
          status,
        ),
        retryable: true,
      };
    }
    if (name === "AbortError") {
      return {
        error: make(
          "timeout",
          `S3 request was aborted (${what} on ${where})`,
          "Aborted",
        ),
        retryable: false,
      };
    }
    return {
      error: make(
        "other",
        `S3 refused ${what} on ${where} (${codeText})`,
        code,
        status,
      ),
      retryable: false,
    };
  }
}

const CREDENTIAL_CODES = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "MissingSecurityHeader",
]);
const ACCESS_CODES = new Set([
  "AccessDenied",
  "AllAccessDisabled",
  "AccountProblem",
  "Forbidden",
]);
const CORRUPT_CODES = new Set([
  "BadDigest",
  "InvalidDigest",
  "XAmzContentSHA256Mismatch",
]);
const TRANSIENT_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalError",
  "ServiceUnavailable",
  "TooManyRequests",
  "TimeoutError",
]);
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EADDRNOTAVAIL",
]);
const DENO_NETWORK_ERRORS: Record<string, string> = {
  ConnectionRefused: "ECONNREFUSED",
  ConnectionReset: "ECONNRESET",
  ConnectionAborted: "ECONNABORTED",
  BrokenPipe: "EPIPE",
  TimedOut: "ETIMEDOUT",
  AddrNotAvailable: "EADDRNOTAVAIL",
  NetworkUnreachable: "ENETUNREACH",
};

/** The network-level error code of `err` (or its causes), or null. */
function networkCode(err: unknown): string | null {
  let cur: unknown = err;
  for (let depth = 0; depth < 4 && cur && typeof cur === "object"; depth++) {
    const e = cur as Record<string, unknown>;
    if (typeof e.code === "string" && NETWORK_CODES.has(e.code)) return e.code;
    if (typeof e.name === "string" && e.name in DENO_NETWORK_ERRORS) {
      return DENO_NETWORK_ERRORS[e.name];
    }
    const msg = typeof e.message === "string" ? e.message : "";
    if (/socket hang up/i.test(msg)) return "ECONNRESET";
    const m = msg.match(/\b(E[A-Z]{4,})\b/);
    if (m && NETWORK_CODES.has(m[1])) return m[1];
    cur = e.cause;
  }
  return null;
}

function httpStatus(err: unknown): number | undefined {
  const meta = (err as { $metadata?: { httpStatusCode?: number } } | null)
    ?.$metadata;
  return typeof meta?.httpStatusCode === "number"
    ? meta.httpStatusCode
    : undefined;
}

function isMissingObject(err: unknown): boolean {
  const e = (err ?? {}) as Record<string, unknown>;
  const code = typeof e.Code === "string" ? e.Code : e.name;
  if (code === "NoSuchBucket") return false;
  return code === "NoSuchKey" || code === "NotFound" ||
    (httpStatus(err) === 404 && code !== "NoSuchUpload");
}

function checkMetadata(
  metadata: Record<string, string>,
  key: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) {
    const lower = name.toLowerCase();
    if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(lower)) {
      throw new BucketError(
        "other",
        `Invalid metadata name ${quoteForMessage(name)} for ${
          quoteForMessage(key)
        }: use letters, digits and -`,
        { operation: "put", key },
      );
    }
    if (typeof value !== "string" || !/^[\x20-\x7e]*$/.test(value)) {
      throw new BucketError(
        "other",
        `Invalid metadata value for ${quoteForMessage(name)} on ${
          quoteForMessage(key)
        }: use printable ASCII`,
        { operation: "put", key },
      );
    }
    out[lower] = value;
  }
  return out;
}

/** The endpoint as safe to print: no user info, query or fragment. */
export function displayEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = "";
    url.password = "";
    url.search = "";
    url.hash = "";
    return url.toString().replace(/\/$/, "");
  } catch {
    return "(an invalid endpoint)";
  }
}

/** Replace any credential from the environment that appears in `text`. */
export function scrubSecrets(
  text: string,
  env: { get(key: string): string | undefined } = Deno.env,
): string {
  let out = text;
  for (const name of ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]) {
    let value: string | undefined;
    try {
      value = env.get(name);
    } catch {
      value = undefined; // no env permission: nothing to scrub
    }
    if (value && value.length >= 4) out = out.split(value).join("****");
  }
  return out;
}

function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, "");
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split("\n")[0];
}

async function sha256Hex(body: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    body as Uint8Array<ArrayBuffer>,
  );
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

async function md5Base64(body: string | Uint8Array): Promise<string> {
  const { createHash } = await import("node:crypto");
  return createHash("md5").update(body).digest("base64");
}
