/**
 * Bounded waits: the pull before a run and the final push each get a
 * deadline, so an endpoint that accepts connections and never answers holds
 * a command up by at most that long. When the deadline passes, the bucket's
 * requests are aborted (what was applied or uploaded stays; the rest goes
 * with a later push or pull) and the operation fails with kind `timeout`.
 * @module
 */
import {
  type Body,
  type Bucket,
  BucketError,
  type GetOptions,
  type ObjectInfo,
  type PutOptions,
  type StoredObject,
  type StreamedObject,
} from "./bucket.ts";
import { guarded } from "./streams.ts";
import { WrappedBucket } from "./wrapped_bucket.ts";

/** The error a passed deadline aborts with. */
export function deadlineError(
  ms: number,
  what: string,
  where: string,
): BucketError {
  return new BucketError(
    "timeout",
    `The bucket did not answer within ${
      ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
    } (${what}, ${where}); stint went on, and what was not synced goes next time`,
    { code: "Deadline", operation: what },
  );
}

/**
 * Run `fn` with a signal that aborts after `ms`; settles by then whatever
 * `fn` does (a request that ignores the signal is abandoned).
 */
export async function withDeadline<T>(
  ms: number,
  error: () => BucketError,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = error();
      controller.abort(err);
      reject(err);
    }, ms);
  });
  expired.catch(() => {});
  try {
    return await Promise.race([fn(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** `inner`, with every request bound to `signal` (aborted requests fail at once). */
export function abortable(inner: Bucket, signal: AbortSignal): Bucket {
  return new AbortableBucket(inner, signal);
}

class AbortableBucket extends WrappedBucket {
  #signal: AbortSignal;

  constructor(inner: Bucket, signal: AbortSignal) {
    super(inner);
    this.#signal = signal;
  }

  override put(
    key: string,
    body: Body,
    options: PutOptions = {},
  ): Promise<void> {
    return this.#bound(() =>
      this.inner.put(key, body, { ...options, signal: this.#signal })
    );
  }

  override get(
    key: string,
    options: GetOptions = {},
  ): Promise<StoredObject | null> {
    return this.#bound(() =>
      this.inner.get(key, { ...options, signal: this.#signal })
    );
  }

  override async getStream(
    key: string,
    options: GetOptions = {},
  ): Promise<StreamedObject | null> {
    const obj = await this.#bound(() =>
      this.inner.getStream(key, { ...options, signal: this.#signal })
    );
    if (obj === null) return null;
    // The body is read after the answer came: the deadline cuts it too.
    const body = guarded(obj.body, { signal: this.#signal });
    return { ...obj, body };
  }

  override head(key: string): Promise<ObjectInfo | null> {
    return this.#bound(() => this.inner.head(key, { signal: this.#signal }));
  }

  override async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.#check();
    for await (
      const obj of this.inner.list(prefix, { signal: this.#signal })
    ) {
      this.#check();
      yield obj;
    }
  }

  override delete(keys: string[]): Promise<void> {
    return this.#bound(() => this.inner.delete(keys, { signal: this.#signal }));
  }

  #check(): void {
    if (this.#signal.aborted) throw reason(this.#signal);
  }

  async #bound<T>(fn: () => Promise<T>): Promise<T> {
    this.#check();
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(reason(this.#signal));
      this.#signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([fn(), aborted]);
    } finally {
      this.#signal.removeEventListener("abort", onAbort!);
    }
  }
}

function reason(signal: AbortSignal): unknown {
  return signal.reason instanceof Error
    ? signal.reason
    : new BucketError("timeout", "The bucket request was aborted", {
      code: "Aborted",
    });
}
