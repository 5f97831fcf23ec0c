/**
 * What an S3 failure means: one {@link BucketError} kind per thing the user
 * can fix (credentials, access, the bucket, the network, the region, the
 * clock), and whether trying again can help. Messages are one line, name
 * the bucket and the server's error code, and never hold a secret.
 * @module
 */
import {
  BucketError,
  type BucketErrorKind,
  quoteForMessage,
} from "../bucket.ts";
import { displayEndpoint } from "../config.ts";

/** Where a failed request went and what it did. */
export interface RequestContext {
  /** The bucket operation (`put`, `get`, `list`, ...). */
  operation: string;
  /** The key involved, when there was one. */
  key?: string;
  /** Whether the attempt's own timeout fired. */
  timedOut: boolean;
  /** That timeout, in ms. */
  timeoutMs: number;
  /** `s3://bucket/prefix at endpoint`. */
  description: string;
  /** The bucket name. */
  bucket: string;
  /** The custom endpoint, if any. */
  endpoint?: string;
}

/** A classified failure. */
export interface Classified {
  /** The error to report or throw. */
  error: BucketError;
  /** Whether another attempt may succeed. */
  retryable: boolean;
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
export function networkCode(err: unknown): string | null {
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

/** The HTTP status of an SDK error, when there was a response. */
export function httpStatus(err: unknown): number | undefined {
  const meta = (err as { $metadata?: { httpStatusCode?: number } } | null)
    ?.$metadata;
  return typeof meta?.httpStatusCode === "number"
    ? meta.httpStatusCode
    : undefined;
}

/** Whether an SDK error means "no such object" (not "no such bucket"). */
export function isMissingObject(err: unknown): boolean {
  const e = (err ?? {}) as Record<string, unknown>;
  const code = typeof e.Code === "string" ? e.Code : e.name;
  if (code === "NoSuchBucket") return false;
  return code === "NoSuchKey" || code === "NotFound" ||
    (httpStatus(err) === 404 && code !== "NoSuchUpload");
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

/** The first line of an error's message. */
export function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split("\n")[0];
}

/** The server's error code of an SDK error, else a stand-in. */
function errorCode(err: unknown): string {
  const e = (err ?? {}) as Record<string, unknown>;
  const name = typeof e.name === "string" ? e.name : "";
  const status = httpStatus(err);
  return typeof e.Code === "string"
    ? e.Code
    : name && name !== "Error" && name !== "UnknownError"
    ? name
    : status !== undefined
    ? `HTTP${status}`
    : "UnknownError";
}

/** Classify a failed S3 request. */
export function classifyS3Error(
  err: unknown,
  ctx: RequestContext,
): Classified {
  if (err instanceof BucketError) return { error: err, retryable: false };
  const what = ctx.key !== undefined
    ? `${ctx.operation} ${quoteForMessage(ctx.key)}`
    : ctx.operation;
  const where = ctx.description;
  const make = (
    kind: BucketErrorKind,
    message: string,
    code: string | undefined,
    status?: number,
  ) =>
    new BucketError(kind, scrubSecrets(message), {
      operation: ctx.operation,
      key: ctx.key,
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
  const name = String((err as { name?: unknown } | null)?.name ?? "");
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
    return {
      error: make(
        "unreachable",
        `Cannot reach the S3 endpoint for ${where} (${netCode}); check STINT_S3_ENDPOINT and the network`,
        netCode,
      ),
      retryable: netCode !== "ENOTFOUND",
    };
  }
  const code = errorCode(err);
  const codeText = status !== undefined ? `${code}, HTTP ${status}` : code;
  const byCode = /checksum mismatch/i.test(firstLine(err))
    ? classifyCode("BadDigest", status, { ...ctx, what, codeText })
    : classifyCode(code, status, { ...ctx, what, codeText });
  if (byCode) {
    return {
      error: make(byCode.kind, byCode.message, code, status),
      retryable: byCode.retryable,
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

/** The kind and message for a server error code, or null for "other". */
function classifyCode(
  code: string,
  status: number | undefined,
  ctx: RequestContext & { what: string; codeText: string },
): { kind: BucketErrorKind; message: string; retryable: boolean } | null {
  const { what, codeText, description: where } = ctx;
  if (
    code === "NoSuchBucket" ||
    (ctx.operation === "head bucket" && status === 404)
  ) {
    return {
      kind: "no-bucket",
      message: `Bucket "${ctx.bucket}" does not exist${
        ctx.endpoint ? ` at ${displayEndpoint(ctx.endpoint)}` : ""
      } (${codeText}); create it or check STINT_BUCKET`,
      retryable: false,
    };
  }
  if (code === "RequestTimeTooSkewed") {
    // The SDK corrects its clock from the error's Date header, so one more
    // attempt is signed in the server's time.
    return {
      kind: "clock",
      message:
        `The S3 server refused ${what} on ${where} because this machine's clock is too far from the server's (${codeText}); fix the clock (NTP)`,
      retryable: true,
    };
  }
  if (CREDENTIAL_CODES.has(code)) {
    return {
      kind: "credentials",
      message:
        `S3 rejected the credentials for ${where} (${codeText}); check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE`,
      retryable: false,
    };
  }
  if (
    code === "AuthorizationHeaderMalformed" || code === "PermanentRedirect" ||
    status === 301
  ) {
    return {
      kind: "other",
      message:
        `S3 refused ${what} on ${where} (${codeText}); check STINT_S3_REGION`,
      retryable: false,
    };
  }
  if (ACCESS_CODES.has(code) || status === 403) {
    return {
      kind: "access-denied",
      message:
        `Access denied to ${where} (${codeText}) for ${what}; check the bucket policy for these credentials`,
      retryable: false,
    };
  }
  if (CORRUPT_CODES.has(code)) {
    return {
      kind: "corrupt",
      message:
        `Data was corrupted in transit (${what} on ${where}, ${codeText})`,
      retryable: true,
    };
  }
  if (
    (status !== undefined && (status >= 500 || status === 429)) ||
    TRANSIENT_CODES.has(code)
  ) {
    return {
      kind: "other",
      message:
        `The S3 server failed ${what} on ${where} (${codeText}); try again later`,
      retryable: true,
    };
  }
  return null;
}
