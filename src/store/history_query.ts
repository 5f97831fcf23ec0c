/**
 * The filters of `stint history` (and of the typed API's `history()`),
 * checked in one place: the same input is accepted or refused, with the
 * same message, whichever way it arrives.
 * @module
 */
import { UsageError } from "../errors.ts";
import { parseSince } from "./durations.ts";
import type { ExecutionStatus, HistoryQuery } from "./executions.ts";

/** Every execution status, in the order help texts and listings offer them. */
export const STATUSES: readonly ExecutionStatus[] = [
  "running",
  "succeeded",
  "failed",
  "killed",
  "lost",
];

/** Other words people type for a status (`completed`: what bg used to show). */
const STATUS_ALIASES: Record<string, ExecutionStatus> = {
  completed: "succeeded",
  success: "succeeded",
};

/** How many runs a history listing shows unless told otherwise. */
export const DEFAULT_HISTORY_LIMIT = 20;

/** History filters as a user gives them (flags, or the API's options). */
export interface HistoryFilters {
  /** Only runs of this ref (`<project>:<task>`). */
  ref?: string;
  /** Only runs with this status (any case; `completed` means `succeeded`). */
  status?: string;
  /** Only runs started since: a duration back from now (`7d`), a date, or ms. */
  since?: string | number | Date;
  /** Only runs started before: a duration back from now, a date, or ms. */
  until?: string | number | Date;
  /** Only runs recorded on this host id. */
  host?: string;
  /** Only runs whose ref, command line or arguments contain this text. */
  grep?: string;
  /** Only runs that exited with this code (0-255). */
  exitCode?: number;
  /** Only runs recorded in this directory or below it (project dir, or exec's cwd). */
  dir?: string;
  /** At most this many runs (default 20). */
  limit?: number;
  /** Every matching run (no limit); not with `limit`. */
  all?: boolean;
}

/**
 * Parse a status filter (case-insensitive, with the aliases above) or throw
 * a UsageError listing the statuses.
 */
export function parseStatus(
  raw: string | undefined,
): ExecutionStatus | undefined {
  if (raw === undefined) return undefined;
  const word = raw.toLowerCase();
  const s = (STATUS_ALIASES[word] ?? word) as ExecutionStatus;
  if (!STATUSES.includes(s)) {
    throw new UsageError(
      `--status must be one of ${
        STATUSES.join(", ")
      } (completed means succeeded), not "${raw}"`,
    );
  }
  return s;
}

/** Check `filters` and turn them into the store's query (newest first). */
export function historyQuery(
  filters: HistoryFilters,
  now: number = Date.now(),
): HistoryQuery {
  const { limit, all, grep, exitCode } = filters;
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
  if (grep === "") throw new UsageError("--grep needs some text to look for");
  if (
    exitCode !== undefined &&
    (!Number.isSafeInteger(exitCode) || exitCode < 0 || exitCode > 255)
  ) {
    throw new UsageError(
      `--exit must be a whole number from 0 to 255, not "${exitCode}"`,
    );
  }
  if (filters.dir === "") throw new UsageError("--cwd needs a directory");
  return {
    ref: filters.ref,
    status: parseStatus(filters.status),
    since: parseSince(filters.since, now),
    until: parseSince(filters.until, now, { flag: "--until" }),
    host: filters.host,
    grep,
    exitCode,
    dir: filters.dir,
    limit: all ? undefined : limit ?? DEFAULT_HISTORY_LIMIT,
  };
}
