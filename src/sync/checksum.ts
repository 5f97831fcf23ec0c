/**
 * SHA-256 integrity for any {@link Bucket}: every put stores the body's
 * SHA-256 in the `stint-sha256` metadata and every get verifies it (a
 * mismatch is a `corrupt` error; so is a missing checksum when the caller
 * requires one). Works the same over S3 and the in-memory bucket.
 * @module
 */
import { createHash } from "node:crypto";
import {
  type Bucket,
  BucketError,
  type GetOptions,
  type PutOptions,
  quoteForMessage,
  type StoredObject,
} from "./bucket.ts";
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
  override put(
    key: string,
    body: Uint8Array,
    options: PutOptions = {},
  ): Promise<void> {
    return this.inner.put(key, body, {
      ...options,
      metadata: { ...options.metadata, [CHECKSUM_METADATA]: sha256Hex(body) },
    });
  }

  override async get(
    key: string,
    options?: GetOptions,
  ): Promise<StoredObject | null> {
    const obj = await this.inner.get(key, options);
    if (obj === null) return null;
    const want = obj.metadata[CHECKSUM_METADATA];
    if (want === undefined) {
      if (!options?.requireChecksum) return obj;
      throw new BucketError(
        "corrupt",
        `Object ${
          quoteForMessage(key)
        } in ${this.description} has no stored SHA-256, so it cannot be verified (it was not written by stint)`,
        { operation: "get", key, code: "ChecksumMissing" },
      );
    }
    if (sha256Hex(obj.body) !== want.toLowerCase()) {
      throw new BucketError(
        "corrupt",
        `Object ${
          quoteForMessage(key)
        } in ${this.description} is corrupt: its SHA-256 does not match the one stored with it`,
        { operation: "get", key, code: "ChecksumMismatch" },
      );
    }
    return obj;
  }
}
