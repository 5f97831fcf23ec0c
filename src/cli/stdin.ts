/**
 * Reading a value from stdin with a size cap, so a runaway pipe fails with a
 * one-line error instead of filling memory.
 * @module
 */
import { UsageError } from "../errors.ts";

/**
 * Read all of stdin, failing with a UsageError (naming `what` and the limit)
 * as soon as more than `max` bytes arrive.
 */
export async function readStdin(
  max: number,
  options: { what: string },
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = Deno.stdin.readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) {
        throw new UsageError(
          `The ${options.what} on stdin is over the limit of ${max} bytes (${
            max / (1024 * 1024)
          } MiB); nothing was written`,
        );
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Decode UTF-8 text strictly: invalid bytes are a UsageError naming `what`. */
export function decodeText(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      bytes,
    );
  } catch {
    throw new UsageError(
      `The ${what} is not valid UTF-8 text; vars hold text, so keep binary data in stint cache`,
    );
  }
}
