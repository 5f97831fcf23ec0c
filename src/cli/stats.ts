/**
 * `stint stats [ref] [--json]`: runs, success rate, p50/p95 duration and a
 * sparkline of recent durations, per ref.
 * @module
 */
import { NotFoundError } from "../errors.ts";
import { reconcileExecutions } from "../store/executions.ts";
import { readStore } from "./read_store.ts";
import { DEFAULT_WINDOW, refStats, refStatsToJson } from "../store/stats.ts";
import { boolFlag, intFlag, parseFlags } from "./args.ts";
import { STATS } from "./commands/history.ts";
import { parseSpec } from "./commands/mod.ts";
import type { Context } from "./context.ts";
import {
  formatDuration,
  NO_RUNS_YET,
  paintStatus,
  plainText,
  printJson,
  println,
  printTable,
  relativeTime,
} from "./output.ts";
import { refArg } from "../tasks/mod.ts";

const BARS = "▁▂▃▄▅▆▇█";

/** Run `stint stats`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, parseSpec(STATS.flags), {
    command: "stats",
    max: 1,
  });
  const recent = intFlag(p, "recent", { min: 1, max: 1000 }) ?? 20;
  const window = intFlag(p, "window", { min: 1 }) ?? DEFAULT_WINDOW;
  const ref = refArg(p.positionals[0]);
  const stats = readStore(ctx.dbPath, (db) => {
    reconcileExecutions(db);
    return refStats(db, { ref, recent, window });
  }, () => []);
  if (ref !== undefined && stats.length === 0) {
    throw new NotFoundError(
      `No runs recorded for "${ref}"; stint history refs lists the refs`,
    );
  }
  if (boolFlag(p, "json")) {
    printJson(stats.map(refStatsToJson));
    return 0;
  }
  if (stats.length === 0) {
    println(NO_RUNS_YET);
    return 0;
  }
  const now = Date.now();
  await printTable(
    ctx,
    ["REF", "RUNS", "SUCCESS", "P50", "P95", "RECENT", "LAST"],
    stats.map((s) => [
      plainText(s.ref),
      String(s.runs),
      formatRate(s.successRate),
      formatDuration(s.p50Ms),
      formatDuration(s.p95Ms),
      sparkline(s.recentMs) || "-",
      `${paintStatus(s.lastStatus, ctx.color)} ${
        relativeTime(s.lastStartedAt, now)
      }`,
    ]),
    // The ref gives way first; a cut sparkline keeps its newest bars.
    { flex: [0, 5], cutStart: [5] },
  );
  return 0;
}

/**
 * A success rate as a whole percentage, rounded down: "100%" must mean no
 * failures (999 of 1000 would round to it).
 */
function formatRate(rate: number | null): string {
  return rate === null ? "-" : `${Math.floor(rate * 100 + 1e-9)}%`;
}

/**
 * A sparkline of `values` scaled from their minimum to their maximum
 * (all equal values draw a flat middle line).
 */
export function sparkline(values: number[]): string {
  if (values.length === 0) return "";
  const min = Math.min(...values);
  const max = Math.max(...values);
  if (max === min) return BARS[3].repeat(values.length);
  return values.map((v) =>
    BARS[Math.round(((v - min) / (max - min)) * (BARS.length - 1))]
  ).join("");
}
