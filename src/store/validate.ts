/**
 * Limits on keys and values, enforced before anything is written.
 * @module
 */
import { UsageError } from "../errors.ts";

/** Longest key in bytes. */
export const MAX_KEY_BYTES = 256;
/** Largest var value in bytes. */
export const MAX_VAR_BYTES = 1024 * 1024;
/** Largest cache value in bytes. */
export const MAX_CACHE_BYTES = 16 * 1024 * 1024;

const encoder = new TextEncoder();
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** What a value of the wrong type is, for an error message. */
function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}

/** Throw a UsageError unless `key` is a valid var or cache key. */
export function validateKey(key: string, what = "key"): void {
  // The typed API is callable from JavaScript: a number would be stored
  // as "5.0", an object would reach SQLite.
  if (typeof key !== "string") {
    throw new UsageError(`The ${what} must be a string, not ${typeName(key)}`);
  }
  if (key.length === 0) {
    throw new UsageError(`The ${what} is empty; give a non-empty ${what}`);
  }
  if (encoder.encode(key).length > MAX_KEY_BYTES) {
    throw new UsageError(`The ${what} is longer than ${MAX_KEY_BYTES} bytes`);
  }
  if (CONTROL.test(key)) {
    throw new UsageError(
      `The ${what} ${JSON.stringify(key)} contains a control character`,
    );
  }
}

/** Throw a UsageError when `size` exceeds `max` bytes. */
export function validateSize(size: number, max: number, what: string): void {
  if (size > max) {
    throw new UsageError(
      `The ${what} is ${size} bytes, over the limit of ${max} bytes (${
        formatMiB(max)
      })`,
    );
  }
}

/**
 * Throw a UsageError when a var value cannot be stored as text: SQLite
 * would silently cut a text value at its first NUL character.
 */
export function validateText(value: string, what: string): void {
  if (typeof value !== "string") {
    throw new UsageError(
      `The ${what} must be a string, not ${typeName(value)}`,
    );
  }
  if (value.includes("\0")) {
    throw new UsageError(
      `The ${what} contains a NUL character; vars hold text, so keep binary data in stint cache`,
    );
  }
}

/** Throw a UsageError unless `value` is text or bytes (a cache value). */
export function validateBytes(value: unknown, what: string): void {
  if (typeof value !== "string" && !(value instanceof Uint8Array)) {
    throw new UsageError(
      `The ${what} must be text or bytes (a string or a Uint8Array), not ${
        typeName(value)
      }`,
    );
  }
}

function formatMiB(bytes: number): string {
  return `${bytes / (1024 * 1024)} MiB`;
}
