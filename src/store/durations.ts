/**
 * Durations and times a user gives stint (`--ttl 1h`, `--since 7d`,
 * `--older-than 90d`, and the same options of the typed API), checked in
 * one place so the CLI and the API accept and refuse the same input with
 * the same message.
 * @module
 */
import { UsageError } from "../errors.ts";

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parse a duration such as `90s`, `15m`, `1h`, `7d`, `2w` (bare numbers are seconds) into ms. */
export function parseDuration(raw: string, what: string): number {
  const m = raw.trim().match(/^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/);
  if (!m) {
    throw new UsageError(
      `${what} must be a duration such as 30s, 15m, 1h or 7d, not "${raw}"`,
    );
  }
  return Math.round(Number(m[1]) * UNITS[m[2] ?? "s"]);
}

/** The longest cache expiry; longer is almost certainly a typo (and overflows a timestamp). */
export const MAX_TTL_MS = 100 * 365 * 86_400_000;

/**
 * A cache expiry in ms: a duration string (`1h`) or a number of ms, longer
 * than zero and at most 100 years. Throws a UsageError naming `--ttl`.
 */
export function parseTtl(ttl: string | number): number {
  const ms = typeof ttl === "number"
    ? Math.round(ttl)
    : parseDuration(ttl, "--ttl");
  if (!(ms > 0)) {
    throw new UsageError(
      `--ttl must be longer than zero, not "${ttl}"; use stint cache delete to drop an entry`,
    );
  }
  if (ms > MAX_TTL_MS) {
    throw new UsageError(
      `--ttl must be at most 100 years, not "${ttl}"; leave it out for no expiry`,
    );
  }
  return ms;
}

/**
 * Parse `--since` (or `--until`, named by `options.flag`): a duration back
 * from now (7d) or a date / ISO-8601 time; the API may also pass a Date or
 * Unix ms. Returns Unix ms.
 */
export function parseSince(
  raw: string | number | Date | undefined,
  now: number = Date.now(),
  options: { flag?: string } = {},
): number | undefined {
  if (raw === undefined) return undefined;
  const flag = options.flag ?? "--since";
  if (typeof raw !== "string") {
    const ms = raw instanceof Date ? raw.getTime() : raw;
    if (!Number.isFinite(ms)) throw sinceError(String(raw), flag);
    return ms;
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(raw)) {
    const t = Date.parse(raw);
    if (!Number.isNaN(t)) return t;
    throw sinceError(raw, flag);
  }
  try {
    return now - parseDuration(raw, flag);
  } catch {
    throw sinceError(raw, flag);
  }
}

function sinceError(raw: string, flag: string): UsageError {
  return new UsageError(
    `${flag} must be a duration such as 12h or 7d, or a date such as 2026-11-01, not "${raw}"`,
  );
}
