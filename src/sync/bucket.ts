/**
 * The narrow object-store interface everything in `src/sync/` is written
 * against (after Litestream's ReplicaClient): put, get, head, list, delete.
 * One implementation talks S3 (`s3/bucket.ts`, built only by `open.ts`), one
 * keeps objects in memory for unit tests (`memory_bucket.ts`), and
 * `checksum.ts` wraps any of them with SHA-256 verification. This module has
 * no SDK import, so loading it costs nothing.
 *
 * Keys are relative to the bucket's root (its configured prefix); every key
 * is checked by {@link validateObjectKey} before any request is made.
 * @module
 */
import { StintError } from "../errors.ts";
import type { OffsetBounds } from "./clock.ts";

/** What the store knows about one object. */
export interface ObjectInfo {
  /** The key, relative to the bucket's root prefix. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** The entity tag, without quotes, when the server sent one. */
  etag?: string;
  /** When the object was last written, when the server said. */
  lastModified?: Date;
  /** User metadata (`x-amz-meta-*`, lower-case names); `head` only. */
  metadata?: Record<string, string>;
}

/** Options every request takes. */
export interface RequestOptions {
  /** Abort the request (and its retries) when this fires. */
  signal?: AbortSignal;
}

/**
 * A body read from disk (or anything that can be read again): opened once
 * per attempt, so it can be hashed before it is sent and sent again after a
 * failure, without ever being held in memory whole.
 */
export interface BodySource {
  /** Its size in bytes. */
  readonly size: number;
  /** A fresh stream of its bytes, from the start. */
  open(): ReadableStream<Uint8Array>;
  /**
   * Read the bytes at `offset` into `into` (as many as fit, fewer at the
   * end); returns how many. A file has it, so the parts of a big upload
   * are read straight into reused buffers, in any order.
   */
  readAt?(offset: number, into: Uint8Array): Promise<number>;
}

/** What {@link Bucket.put} uploads: bytes in memory, or a {@link BodySource}. */
export type Body = Uint8Array | BodySource;

/** Options for {@link Bucket.put}. */
export interface PutOptions extends RequestOptions {
  /** The object's content type (default `application/octet-stream`). */
  contentType?: string;
  /** User metadata; names are lower-cased `[a-z0-9-]` words. */
  metadata?: Record<string, string>;
  /**
   * The body's SHA-256 (hex) when the caller already computed it (while
   * writing the file it uploads); the checksum wrapper then does not read
   * the body an extra time. It must be right: readers refuse the object
   * otherwise.
   */
  sha256?: string;
  /** Called as the upload moves on: bytes handed to the upload so far, and in all. */
  onProgress?: (sent: number, total: number) => void;
}

/** Options for {@link Bucket.get}. */
export interface GetOptions extends RequestOptions {
  /** Treat an object without a stored SHA-256 as corrupt (see `checksum.ts`). */
  requireChecksum?: boolean;
  /** Refuse (kind `corrupt`, code `TooLarge`) an object bigger than this, unread. */
  maxBytes?: number;
}

/** An object read back: its bytes and what the server keeps with them. */
export interface StoredObject {
  /** The object's bytes. */
  body: Uint8Array;
  /** User metadata (`x-amz-meta-*`, lower-case names). */
  metadata: Record<string, string>;
  /** The entity tag, without quotes, when the server sent one. */
  etag?: string;
}

/**
 * An object being read: its bytes as a stream (to be consumed or cancelled
 * by the caller) and what the server keeps with them. A stream of a
 * checksummed bucket errors at its end when the bytes do not match.
 */
export interface StreamedObject {
  /** The object's bytes. */
  body: ReadableStream<Uint8Array>;
  /** Its size in bytes, as the server announced it. */
  size: number;
  /** User metadata (`x-amz-meta-*`, lower-case names). */
  metadata: Record<string, string>;
  /** The entity tag, without quotes, when the server sent one. */
  etag?: string;
}

/** A place to keep objects: the only thing sync code talks to. */
export interface Bucket {
  /**
   * Write `body` under `key`, replacing what was there. A
   * {@link BodySource} is streamed (in parts when it is big), never held
   * in memory whole.
   */
  put(key: string, body: Body, options?: PutOptions): Promise<void>;
  /** Read the object under `key` into memory; null when there is none. */
  get(key: string, options?: GetOptions): Promise<StoredObject | null>;
  /**
   * Read the object under `key` as a stream; null when there is none. The
   * size cap applies to the announced size and to the bytes as they come.
   */
  getStream(
    key: string,
    options?: GetOptions,
  ): Promise<StreamedObject | null>;
  /** What is known about `key` without reading it; null when missing. */
  head(key: string, options?: RequestOptions): Promise<ObjectInfo | null>;
  /** Every object whose key starts with `prefix` (may be ""), in key order. */
  list(prefix: string, options?: RequestOptions): AsyncIterable<ObjectInfo>;
  /** Delete `keys`; missing keys are not an error. */
  delete(keys: string[], options?: RequestOptions): Promise<void>;
  /** How many HTTP requests this bucket has sent (retries included). */
  readonly requestCount: number;
  /** One line naming the bucket, endpoint and prefix (never a credential). */
  readonly description: string;
  /** What the server's responses said about its clock so far, or null. */
  clock(): OffsetBounds | null;
  /** Release connections. The bucket must not be used afterwards. */
  close(): Promise<void>;
}

/** The kinds of bucket failure a reporter tells apart. */
export type BucketErrorKind =
  | "credentials"
  | "access-denied"
  | "no-bucket"
  | "unreachable"
  | "timeout"
  | "clock"
  | "corrupt"
  | "missing"
  | "invalid-key"
  | "other";

/** Optional facts attached to a {@link BucketError}. */
export interface BucketErrorDetails {
  /** The server's error code (`NoSuchBucket`) or the network code (`ECONNREFUSED`). */
  code?: string;
  /** The HTTP status, when there was a response. */
  status?: number;
  /** The bucket operation that failed (`put`, `get`, ...). */
  operation?: string;
  /** The key involved, when there was one. */
  key?: string;
}

/**
 * A bucket operation failed. `message` is one sentence-case line naming the
 * bucket or endpoint and the server's error code; it never holds a secret.
 */
export class BucketError extends StintError {
  /** What went wrong, for reporters that report once per kind. */
  readonly kind: BucketErrorKind;
  /** The server's or the network's error code, when known. */
  readonly code?: string;
  /** The HTTP status, when there was a response. */
  readonly status?: number;
  /** The operation that failed. */
  readonly operation?: string;
  /** The key involved. */
  readonly key?: string;

  /** Build an error of `kind` with a one-line message. */
  constructor(
    kind: BucketErrorKind,
    message: string,
    details: BucketErrorDetails = {},
  ) {
    super(oneLine(message), { exitCode: 1 });
    this.name = "BucketError";
    this.kind = kind;
    this.code = details.code;
    this.status = details.status;
    this.operation = details.operation;
    this.key = details.key;
  }
}

/** The error for an object over a size cap (it is not read). */
export function tooLarge(key: string, size: number, max: number): BucketError {
  return new BucketError(
    "corrupt",
    `Object ${
      quoteForMessage(key)
    } is ${size} bytes, over the ${max}-byte cap for its kind; not read`,
    { operation: "get", key, code: "TooLarge" },
  );
}

/** Whether `body` is a {@link BodySource} rather than bytes. */
export function isSource(body: Body): body is BodySource {
  return !(body instanceof Uint8Array);
}

/** The longest object key S3 accepts, in UTF-8 bytes. */
export const MAX_OBJECT_KEY_BYTES = 1024;

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Why `key` is not a safe object key, or null when it is. Rejected: empty
 * keys, a leading `/`, `.` / `..` / empty segments, backslashes, control
 * characters, and keys over 1024 UTF-8 bytes.
 */
export function keyProblem(key: string): string | null {
  if (typeof key !== "string" || key.length === 0) return "it is empty";
  if (CONTROL.test(key)) return "it contains a control character";
  if (key.startsWith("/")) return "it starts with /";
  if (key.includes("\\")) return "it contains a backslash";
  const bytes = new TextEncoder().encode(key).length;
  if (bytes > MAX_OBJECT_KEY_BYTES) {
    return `it is ${bytes} bytes long (the limit is ${MAX_OBJECT_KEY_BYTES})`;
  }
  for (const segment of key.split("/")) {
    if (segment === "..") return "it has a .. segment";
    if (segment === ".") return "it has a . segment";
  }
  if (key.endsWith("/")) return "it ends with /";
  if (key.includes("//")) return "it has an empty segment (//)";
  return null;
}

/** Throw a `BucketError` of kind `invalid-key` unless `key` is safe. */
export function validateObjectKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== null) {
    throw new BucketError(
      "invalid-key",
      `Invalid object key ${quoteForMessage(key)}: ${problem}`,
      { key: typeof key === "string" ? key : undefined },
    );
  }
}

/**
 * Throw unless `prefix` is a safe listing prefix: "" or a key-like string
 * that may end with `/` (no `..`, control characters or leading `/`).
 */
export function validatePrefix(prefix: string): void {
  if (prefix === "") return;
  const problem = keyProblem(prefix.endsWith("/") ? `${prefix}x` : prefix);
  if (problem !== null) {
    throw new BucketError(
      "invalid-key",
      `Invalid listing prefix ${quoteForMessage(prefix)}: ${problem}`,
    );
  }
}

/** A short, quoted, single-line rendering of `s` for an error message. */
export function quoteForMessage(s: unknown, max = 80): string {
  const text = typeof s === "string" ? s : String(s);
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return JSON.stringify(cut);
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, " ").trim();
}
