/**
 * A {@link Bucket} that keeps its objects in memory, for unit tests of the
 * sync code (the S3 and Swift suites exercise the real servers). It behaves
 * like a consistent S3 bucket: keys are validated, listings come back in key
 * order, every write gets a new etag and a last-modified time.
 * @module
 */
import {
  type Body,
  type Bucket,
  type GetOptions,
  isSource,
  type ObjectInfo,
  type PutOptions,
  type StoredObject,
  type StreamedObject,
  tooLarge,
  validateObjectKey,
  validatePrefix,
} from "./bucket.ts";
import type { OffsetBounds } from "./clock.ts";

interface Entry {
  body: Uint8Array;
  metadata: Record<string, string>;
  etag: string;
  lastModified: Date;
}

/** An in-memory bucket. */
export class MemoryBucket implements Bucket {
  /** The objects, by key (tests may read or change them directly). */
  readonly objects: Map<string, Entry> = new Map();
  /** How far the "server's" clock is ahead of this process's, in ms. */
  clockOffsetMs: number;
  #requests = 0;
  #name: string;
  #version = 0;

  /** An empty bucket called `name` (only for its description). */
  constructor(name = "memory", options: { clockOffsetMs?: number } = {}) {
    this.#name = name;
    this.clockOffsetMs = options.clockOffsetMs ?? 0;
  }

  /** The server's clock is known exactly: it is this process's plus the offset. */
  clock(): OffsetBounds | null {
    return this.#requests > 0
      ? { lo: this.clockOffsetMs, hi: this.clockOffsetMs }
      : null;
  }

  /** Requests made (one per call, like S3 without retries). */
  get requestCount(): number {
    return this.#requests;
  }

  /** `memory://<name>/`. */
  get description(): string {
    return `memory://${this.#name}/`;
  }

  /** {@inheritDoc Bucket.put} */
  async put(key: string, body: Body, options: PutOptions = {}): Promise<void> {
    validateObjectKey(key);
    if (isSource(body)) {
      const bytes = new Uint8Array(
        await new Response(body.open()).arrayBuffer(),
      );
      options.onProgress?.(bytes.byteLength, body.size);
      body = bytes;
    }
    this.#requests++;
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.metadata ?? {})) {
      metadata[k.toLowerCase()] = v;
    }
    this.objects.set(key, {
      body: body.slice(),
      metadata,
      etag: `m${++this.#version}`,
      lastModified: new Date(Date.now() + this.clockOffsetMs),
    });
  }

  /** {@inheritDoc Bucket.get} */
  get(key: string, options?: GetOptions): Promise<StoredObject | null> {
    validateObjectKey(key);
    this.#requests++;
    const e = this.objects.get(key);
    const max = options?.maxBytes;
    if (e && max !== undefined && e.body.byteLength > max) {
      return Promise.reject(tooLarge(key, e.body.byteLength, max));
    }
    return Promise.resolve(
      e
        ? { body: e.body.slice(), metadata: { ...e.metadata }, etag: e.etag }
        : null,
    );
  }

  /** {@inheritDoc Bucket.getStream} */
  async getStream(
    key: string,
    options?: GetOptions,
  ): Promise<StreamedObject | null> {
    const obj = await this.get(key, options);
    if (obj === null) return null;
    const bytes = obj.body;
    return {
      body: new ReadableStream({
        start(controller) {
          // In pieces, as a server sends them.
          for (let i = 0; i < bytes.byteLength; i += 65536) {
            controller.enqueue(bytes.slice(i, i + 65536));
          }
          controller.close();
        },
      }),
      size: bytes.byteLength,
      metadata: obj.metadata,
      etag: obj.etag,
    };
  }

  /** {@inheritDoc Bucket.head} */
  head(key: string): Promise<ObjectInfo | null> {
    validateObjectKey(key);
    this.#requests++;
    const e = this.objects.get(key);
    return Promise.resolve(e ? this.#info(key, e, true) : null);
  }

  /** {@inheritDoc Bucket.list} */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    validatePrefix(prefix);
    this.#requests++;
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix))
      .sort();
    for (const key of keys) {
      const e = this.objects.get(key);
      if (e) yield this.#info(key, e, false);
    }
    await Promise.resolve();
  }

  /** {@inheritDoc Bucket.delete} */
  delete(keys: string[]): Promise<void> {
    for (const key of keys) validateObjectKey(key);
    if (keys.length > 0) this.#requests++;
    for (const key of keys) this.objects.delete(key);
    return Promise.resolve();
  }

  /** {@inheritDoc Bucket.close} */
  close(): Promise<void> {
    return Promise.resolve();
  }

  #info(key: string, e: Entry, withMetadata: boolean): ObjectInfo {
    const info: ObjectInfo = {
      key,
      size: e.body.byteLength,
      etag: e.etag,
      lastModified: e.lastModified,
    };
    if (withMetadata) info.metadata = { ...e.metadata };
    return info;
  }
}
