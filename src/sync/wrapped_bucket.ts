/**
 * A {@link Bucket} that hands every call to another one: the base of the
 * wrappers that add one concern each (checksums, deadlines), which override
 * only what they change.
 * @module
 */
import type {
  Body,
  Bucket,
  GetOptions,
  ObjectInfo,
  PutOptions,
  RequestOptions,
  StoredObject,
  StreamedObject,
} from "./bucket.ts";
import type { OffsetBounds } from "./clock.ts";

/** Delegates everything to `inner`. */
export class WrappedBucket implements Bucket {
  /** The bucket wrapped. */
  protected readonly inner: Bucket;

  /** Wrap `inner`. */
  constructor(inner: Bucket) {
    this.inner = inner;
  }

  /** {@inheritDoc Bucket.requestCount} */
  get requestCount(): number {
    return this.inner.requestCount;
  }

  /** {@inheritDoc Bucket.description} */
  get description(): string {
    return this.inner.description;
  }

  /** {@inheritDoc Bucket.clock} */
  clock(): OffsetBounds | null {
    return this.inner.clock();
  }

  /** {@inheritDoc Bucket.put} */
  put(key: string, body: Body, options?: PutOptions): Promise<void> {
    return this.inner.put(key, body, options);
  }

  /** {@inheritDoc Bucket.get} */
  get(key: string, options?: GetOptions): Promise<StoredObject | null> {
    return this.inner.get(key, options);
  }

  /** {@inheritDoc Bucket.getStream} */
  getStream(
    key: string,
    options?: GetOptions,
  ): Promise<StreamedObject | null> {
    return this.inner.getStream(key, options);
  }

  /** {@inheritDoc Bucket.head} */
  head(key: string, options?: RequestOptions): Promise<ObjectInfo | null> {
    return this.inner.head(key, options);
  }

  /** {@inheritDoc Bucket.list} */
  list(prefix: string, options?: RequestOptions): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix, options);
  }

  /** {@inheritDoc Bucket.delete} */
  delete(keys: string[], options?: RequestOptions): Promise<void> {
    return this.inner.delete(keys, options);
  }

  /** {@inheritDoc Bucket.close} */
  close(): Promise<void> {
    return this.inner.close();
  }
}
