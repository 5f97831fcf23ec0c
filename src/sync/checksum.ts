/**
 * SHA-256 integrity for any {@link Bucket}: every put stores the body's
 * SHA-256 in the `stint-sha256` metadata and every read verifies it (a
 * mismatch is a `corrupt` error; so is a missing checksum when the caller
 * requires one). A streamed body is hashed by reading its source once
 * before it is sent (unless the caller already knows the hash); a streamed
 * read is verified as it passes, and its stream errors at the end when the
 * bytes do not match, so the caller drops what it wrote. Works the same
 * over S3 and the in-memory bucket.
 * @module
 */
import { createHash } from "node:crypto";
import {
  type Body,
  type Bucket,
  BucketError,
  type GetOptions,
  isSource,
  type PutOptions,
  quoteForMessage,
  type StoredObject,
  type StreamedObject,
} from "./bucket.ts";
import { sha256OfStream, verifying } from "./streams.ts";
import { WrappedBucket } from "./wrapped_bucket.ts";

/** The metadata name under which every object's SHA-256 (hex) is kept. */
export const CHECKSUM_METADATA = "stint-sha256";

/** SHA-256 of `bytes`, lower-case hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** `inner`, with checksums added on put and verified on get. */
export function withChecksums(inner: Bucket): Bucket {
  return new ChecksumBucket(inner);
}

class ChecksumBucket extends WrappedBucket {
  override async put(
    key: string,
    body: Body,
    options: PutOptions = {},
  ): Promise<void> {
    const sha = options.sha256 ??
      (isSource(body) ? await sha256OfStream(body.open()) : sha256Hex(body));
    return await this.inner.put(key, body, {
      ...options,
      metadata: { ...options.metadata, [CHECKSUM_METADATA]: sha },
    });
  }

  override async get(
    key: string,
    options?: GetOptions,
  ): Promise<StoredObject | null> {
    const obj = await this.inner.get(key, options);
    if (obj === null) return null;
    const want = this.#expected(key, obj.metadata, options);
    if (want !== null && sha256Hex(obj.body) !== want) {
      throw this.#mismatch(key);
    }
    return obj;
  }

  override async getStream(
    key: string,
    options?: GetOptions,
  ): Promise<StreamedObject | null> {
    const obj = await this.inner.getStream(key, options);
    if (obj === null) return null;
    let want: string | null;
    try {
      want = this.#expected(key, obj.metadata, options);
    } catch (err) {
      await obj.body.cancel().catch(() => {});
      throw err;
    }
    if (want === null) return obj;
    return {
      ...obj,
      body: obj.body.pipeThrough(verifying(want, () => this.#mismatch(key))),
    };
  }

  /** The stored SHA-256, or null when there is none and none is required. */
  #expected(
    key: string,
    metadata: Record<string, string>,
    options?: GetOptions,
  ): string | null {
    const want = metadata[CHECKSUM_METADATA];
    if (want !== undefined) return want.toLowerCase();
    if (!options?.requireChecksum) return null;
    throw new BucketError(
      "corrupt",
      `Object ${
        quoteForMessage(key)
      } in ${this.description} has no stored SHA-256, so it cannot be verified (it was not written by stint)`,
      { operation: "get", key, code: "ChecksumMissing" },
    );
  }

  #mismatch(key: string): BucketError {
    return new BucketError(
      "corrupt",
      `Object ${
        quoteForMessage(key)
      } in ${this.description} is corrupt: its SHA-256 does not match the one stored with it`,
      { operation: "get", key, code: "ChecksumMismatch" },
    );
  }
}
