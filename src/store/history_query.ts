/**
 * The filters of `stint history` (and of the typed API's `history()`),
 * checked in one place: the same input is accepted or refused, with the
 * same message, whichever way it arrives.
 * @module
 */
import { UsageError } from "../errors.ts";
import { parseSince } from "./durations.ts";
import type { ExecutionStatus, HistoryQuery } from "./executions.ts";

/** Every execution status, in the order help texts list them. */
export const STATUSES: readonly ExecutionStatus[] = [
  "running",
  "succeeded",
  "failed",
  "killed",
  "lost",
];

/** How many runs a history listing shows unless told otherwise. */
export const DEFAULT_HISTORY_LIMIT = 20;

/** History filters as a user gives them (flags, or the API's options). */
export interface HistoryFilters {
  /** Only runs of this ref (`<project>:<task>`). */
  ref?: string;
  /** Only runs with this status (any case). */
  status?: string;
  /** Only runs started since: a duration back from now (`7d`), a date, or ms. */
  since?: string | number | Date;
  /** Only runs recorded on this host id. */
  host?: string;
  /** At most this many runs (default 20). */
  limit?: number;
  /** Every matching run (no limit); not with `limit`. */
  all?: boolean;
}

/** Parse a status filter (case-insensitive) or throw a UsageError listing the statuses. */
export function parseStatus(
  raw: string | undefined,
): ExecutionStatus | undefined {
  if (raw === undefined) return undefined;
  const s = raw.toLowerCase() as ExecutionStatus;
  if (!STATUSES.includes(s)) {
    throw new UsageError(
      `--status must be one of ${STATUSES.join(", ")}, not "${raw}"`,
    );
  }
  return s;
}

/** Check `filters` and turn them into the store's query (newest first). */
export function historyQuery(
  filters: HistoryFilters,
  now: number = Date.now(),
): HistoryQuery {
  const { limit, all } = filters;
  if (
    limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)
  ) {
    throw new UsageError(
      `--limit must be a whole number of at least 1, not "${limit}"`,
    );
  }
  if (limit !== undefined && all) {
    throw new UsageError("Use either --limit or --all, not both");
  }
  return {
    ref: filters.ref,
    status: parseStatus(filters.status),
    since: parseSince(filters.since, now),
    host: filters.host,
    limit: all ? undefined : limit ?? DEFAULT_HISTORY_LIMIT,
  };
}
