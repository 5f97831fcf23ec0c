/**
 * Streams for transfers: bodies read from files, SHA-256 and byte counts
 * taken as the bytes pass, size caps and stall timeouts on downloads, and
 * writing a stream to a new private file. Nothing here holds a whole object
 * in memory: memory is one chunk (64 KiB for a file) per stream.
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import type { BodySource } from "./bucket.ts";

/** A body read from the file at `path` (its size taken now). */
export function fileSource(path: string): BodySource {
  const size = Deno.statSync(path).size;
  return {
    size,
    open: () => Deno.openSync(path, { read: true }).readable,
    async readAt(offset: number, into: Uint8Array): Promise<number> {
      using file = await Deno.open(path, { read: true });
      await file.seek(offset, Deno.SeekMode.Start);
      let n = 0;
      while (n < into.byteLength) {
        const got = await file.read(into.subarray(n));
        if (got === null) break;
        n += got;
      }
      return n;
    },
  };
}

/** A body held in memory, as a source. */
export function bytesSource(bytes: Uint8Array): BodySource {
  return {
    size: bytes.byteLength,
    open: () =>
      new ReadableStream({
        start(controller) {
          if (bytes.byteLength > 0) controller.enqueue(bytes);
          controller.close();
        },
      }),
  };
}

/** SHA-256 (hex) of everything `stream` yields. */
export async function sha256OfStream(
  stream: ReadableStream<Uint8Array>,
): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest("hex");
}

/** A pass-through that feeds every chunk to `hash` (read it after the stream ended). */
export function hashing(hash: Hash): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      hash.update(chunk);
      controller.enqueue(chunk);
    },
  });
}

/**
 * A pass-through that counts bytes: `onBytes(total so far)` after each
 * chunk, and an error (`tooMany()`) as soon as more than `max` went by.
 */
export function counting(
  onBytes: (n: number) => void,
  options: { max?: number; tooMany?: (n: number) => Error } = {},
): TransformStream<Uint8Array, Uint8Array> {
  let n = 0;
  return new TransformStream({
    transform(chunk, controller) {
      n += chunk.byteLength;
      if (options.max !== undefined && n > options.max) {
        controller.error(
          options.tooMany?.(n) ?? new RangeError(`over ${options.max} bytes`),
        );
        return;
      }
      onBytes(n);
      controller.enqueue(chunk);
    },
  });
}

/**
 * A pass-through that checks, at the end, that the bytes hash to `want`
 * (lower-case hex); the stream errors with `mismatch()` when they do not.
 */
export function verifying(
  want: string,
  mismatch: () => Error,
): TransformStream<Uint8Array, Uint8Array> {
  const hash = createHash("sha256");
  return new TransformStream({
    transform(chunk, controller) {
      hash.update(chunk);
      controller.enqueue(chunk);
    },
    flush(controller) {
      if (hash.digest("hex") !== want.toLowerCase()) {
        controller.error(mismatch());
      }
    },
  });
}

/**
 * `source`, cut off with `stalled()` when no chunk arrives for `idleMs`
 * (when given), and with the signal's reason when `signal` fires.
 * Cancelling the result cancels `source`.
 */
export function guarded(
  source: ReadableStream<Uint8Array>,
  options: { idleMs?: number; stalled?: () => Error; signal?: AbortSignal },
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  const { signal } = options;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let onAbort: (() => void) | undefined;
      const cut = new Promise<never>((_, reject) => {
        if (options.idleMs !== undefined) {
          timer = setTimeout(
            () => reject(options.stalled?.() ?? new Error("stalled")),
            options.idleMs,
          );
        }
        if (signal) {
          onAbort = () => reject(signal.reason ?? new Error("aborted"));
          if (signal.aborted) onAbort();
          else signal.addEventListener("abort", onAbort, { once: true });
        }
      });
      try {
        const { done, value } = await Promise.race([reader.read(), cut]);
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        reader.cancel(err).catch(() => {});
        controller.error(err);
      } finally {
        clearTimeout(timer);
        if (onAbort) signal?.removeEventListener("abort", onAbort);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Write `stream` to a new file at `path` (0600, never through an existing
 * file or link). On any failure the partial file is removed and the error
 * rethrown (also when `signal` fires). Returns the bytes written.
 */
export async function writeNewFile(
  path: string,
  stream: ReadableStream<Uint8Array>,
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, {
      write: true,
      createNew: true,
      mode: 0o600,
    });
  } catch (err) {
    await stream.cancel(err).catch(() => {});
    throw err;
  }
  let n = 0;
  try {
    await stream.pipeThrough(counting((b) => n = b)).pipeTo(file.writable, {
      signal: options.signal,
    });
    return n;
  } catch (err) {
    try {
      file.close();
    } catch {
      // pipeTo closed it already
    }
    try {
      Deno.removeSync(path);
    } catch {
      // never made, or gone
    }
    throw err;
  }
}

/** A gzip compressor as a byte transform. */
export function gzipStream(): TransformStream<Uint8Array, Uint8Array> {
  return new CompressionStream("gzip") as unknown as TransformStream<
    Uint8Array,
    Uint8Array
  >;
}

/** A gzip decompressor as a byte transform (errors on bytes that are not gzip). */
export function gunzipStream(): TransformStream<Uint8Array, Uint8Array> {
  return new DecompressionStream("gzip") as unknown as TransformStream<
    Uint8Array,
    Uint8Array
  >;
}
