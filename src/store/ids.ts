/**
 * Identifiers: time-ordered UUIDv7 for executions, short ids for background
 * runs, and the id of the root scope.
 * @module
 */

/** The scope every chain ends at; always exists. */
export const ROOT_SCOPE = "root";

/** A UUIDv7: 48 bits of Unix milliseconds, then random bits; sorts by time. */
export function uuidv7(now: number = Date.now()): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${
    hex.slice(16, 20)
  }-${hex.slice(20)}`;
}

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/** A short random id (lowercase Crockford base32), 8 characters by default. */
export function shortId(length = 8): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => ALPHABET[b % 32]).join("");
}
