/**
 * Flaky detection. A ref is **flaky** when, among its newest `window` runs
 * (default 100), the runs with one same argument list changed outcome
 * (succeeded <-> failed, in start order) at least `minFlips` times (default
 * 2). Killed, lost and running runs are left out: they say nothing about the
 * task. One change is a break or a fix (`ok ok FAIL FAIL`); two or more
 * with the same arguments (`ok FAIL ok`, `FAIL ok FAIL`) is a task that
 * passes and fails on the same input. The same arguments are required
 * because a different argument list is a different test.
 * @module
 */
import type { ExecutionStatus } from "./executions.ts";
import type { Database } from "./sqlite.ts";

/** How many of a ref's newest runs flaky detection looks at by default. */
export const FLAKY_WINDOW = 100;
/** Outcome changes with the same arguments that make a ref flaky. */
export const FLAKY_MIN_FLIPS = 2;

/** The verdict for one ref. */
export interface Flakiness {
  ref: string;
  flaky: boolean;
  /** Outcome changes of the argument list with the most of them. */
  flips: number;
  /** Succeeded or failed runs of that argument list in the window. */
  runs: number;
  /** Its failures among them. */
  failures: number;
  /** That argument list (the most recent one when none flipped). */
  args: string[];
  /** When its latest outcome change happened (the run that changed it). */
  lastFlipAt: number | null;
  /** The window used (the newest runs of the ref, any status). */
  window: number;
}

interface Group {
  args: string[];
  flips: number;
  runs: number;
  failures: number;
  last: ExecutionStatus | null;
  lastFlipAt: number | null;
}

/** Flaky detection for `ref` over its newest `window` runs. */
export function flakiness(
  db: Database,
  ref: string,
  options: { window?: number; minFlips?: number } = {},
): Flakiness {
  const window = options.window ?? FLAKY_WINDOW;
  const minFlips = options.minFlips ?? FLAKY_MIN_FLIPS;
  const rows = db.prepare(
    `SELECT status, args, started_at FROM executions WHERE ref = ?
     ORDER BY started_at DESC, id DESC LIMIT ?`,
  ).all(ref, window);
  const groups = new Map<string, Group>();
  let newest: Group | null = null;
  // Oldest first, so a flip is dated by the run that changed the outcome.
  for (const r of rows.reverse()) {
    const status = String(r.status) as ExecutionStatus;
    if (status !== "succeeded" && status !== "failed") continue;
    const key = String(r.args ?? "[]");
    let g = groups.get(key);
    if (!g) {
      g = {
        args: parseArgs(key),
        flips: 0,
        runs: 0,
        failures: 0,
        last: null,
        lastFlipAt: null,
      };
      groups.set(key, g);
    }
    g.runs++;
    if (status === "failed") g.failures++;
    if (g.last !== null && g.last !== status) {
      g.flips++;
      g.lastFlipAt = Number(r.started_at);
    }
    g.last = status;
    newest = g;
  }
  let worst: Group | null = null;
  for (const g of groups.values()) {
    if (
      worst === null || g.flips > worst.flips ||
      (g.flips === worst.flips && (g.lastFlipAt ?? 0) > (worst.lastFlipAt ?? 0))
    ) worst = g;
  }
  const pick = worst && worst.flips > 0 ? worst : newest;
  return {
    ref,
    flaky: (pick?.flips ?? 0) >= minFlips,
    flips: pick?.flips ?? 0,
    runs: pick?.runs ?? 0,
    failures: pick?.failures ?? 0,
    args: pick?.args ?? [],
    lastFlipAt: pick?.lastFlipAt ?? null,
    window,
  };
}

function parseArgs(json: string): string[] {
  try {
    const v = JSON.parse(json);
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
}

/** The stable JSON shape of {@linkcode Flakiness} (snake_case, ISO-8601). */
export function flakinessToJson(f: Flakiness): Record<string, unknown> {
  return {
    flaky: f.flaky,
    flips: f.flips,
    flaky_runs: f.runs,
    flaky_failures: f.failures,
    flaky_args: f.args,
    last_flip_at: f.lastFlipAt === null
      ? null
      : new Date(f.lastFlipAt).toISOString(),
    flaky_window: f.window,
  };
}
