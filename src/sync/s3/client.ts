/**
 * Building the SDK client the way every stint request needs it, and the
 * small checks around requests.
 * @module
 */
import type * as S3 from "@aws-sdk/client-s3";
import { BucketError, quoteForMessage } from "../bucket.ts";
import type { S3Sdk } from "./sdk.ts";

/** Where the client talks to, and who counts its requests. */
export interface ClientOptions {
  /** The signing region. */
  region: string;
  /** A custom endpoint (path-style requests), or AWS when unset. */
  endpoint?: string;
  /** Server time minus local time, for signing (the SDK corrects it on a skew error). */
  clockOffsetMs: number;

  /** Called once per request on the wire (per attempt, per part). */
  onRequest(): void;
  /** Called with each response's `Date` header and the request's send and receive times. */
  onDate(date: string | undefined, sentAt: number, receivedAt: number): void;
}

/**
 * An S3 client with the SDK's retries off (ours run instead), checksums only
 * where an operation requires them, a request counter, and `Content-MD5` on
 * DeleteObjects, which older servers (Swift s3api, MinIO, R2) require.
 */
export function makeS3Client(sdk: S3Sdk, options: ClientOptions): S3.S3Client {
  const client = new sdk.S3Client({
    region: options.region,
    ...(options.endpoint
      ? { endpoint: options.endpoint, forcePathStyle: true }
      : {}),
    maxAttempts: 1,
    systemClockOffset: options.clockOffsetMs,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  // Count every request on the wire, and read the server's clock off its
  // answer (error answers too: they carry a Date header as well).
  client.middlewareStack.add(
    (next) => async (args) => {
      options.onRequest();
      const sent = Date.now();
      try {
        const out = await next(args);
        options.onDate(dateOf(out.response), sent, Date.now());
        return out;
      } catch (err) {
        options.onDate(
          dateOf((err as { $response?: unknown } | null)?.$response),
          sent,
          Date.now(),
        );
        throw err;
      }
    },
    { step: "deserialize", name: "stintRequestCounter", priority: "low" },
  );
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

/** User metadata with lower-cased, checked names and printable values. */
export function checkMetadata(
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

function dateOf(response: unknown): string | undefined {
  const headers = (response as { headers?: Record<string, unknown> } | null)
    ?.headers;
  const date = headers?.date ?? headers?.Date;
  return typeof date === "string" ? date : undefined;
}

/** An etag without its quotes. */
export function unquote(etag: string): string {
  return etag.replace(/^"|"$/g, "");
}

async function md5Base64(body: string | Uint8Array): Promise<string> {
  const { createHash } = await import("node:crypto");
  return createHash("md5").update(body).digest("base64");
}
