/**
 * The values `stint __complete` looks up when TAB is pressed: the current
 * project's tasks, refs, recent run ids and background run ids. The store
 * is read read-only (no `lost` marking, no migration) and never created.
 * @module
 */
import {
  backgroundStatusWord,
  listBackgroundRuns,
} from "../store/background.ts";
import { listExecutions, listRefs } from "../store/executions.ts";
import { withStore } from "../store/open.ts";
import type { Database } from "../store/sqlite.ts";
import { findProject } from "../tasks/mod.ts";
import type { Candidate } from "./completions.ts";
import { shortIds } from "./history.ts";
import { relativeTime } from "./output.ts";

/** How many recent runs (or background runs) are offered. */
const RECENT = 30;

/** The candidates of one dynamic kind. */
export function lookup(
  kind: "tasks" | "refs" | "runs" | "bg",
  where: { dbPath: string; cwd: string },
): Candidate[] {
  if (kind === "tasks") {
    return (findProject(where.cwd)?.tasks ?? []).map((t) => ({
      value: t.name,
      description: t.description ?? t.command ?? "",
    }));
  }
  return readOnly(where.dbPath, (db) => {
    const now = Date.now();
    if (kind === "refs") {
      return listRefs(db).map((r) => ({
        value: r.ref,
        description: `${r.runs} run${
          r.runs === 1 ? "" : "s"
        }, last ${r.lastStatus} ${relativeTime(r.lastStartedAt, now)}`,
      }));
    }
    if (kind === "runs") {
      const runs = listExecutions(db, { limit: RECENT });
      const ids = shortIds(db, runs);
      return runs.map((r) => ({
        value: ids.get(r.id)!,
        description: `${r.ref} ${r.status} ${relativeTime(r.startedAt, now)}`,
      }));
    }
    return listBackgroundRuns(db, { all: true, limit: RECENT }).map((b) => ({
      value: b.id,
      description: `${b.ref} ${backgroundStatusWord(b.status)} ${
        relativeTime(b.startedAt, now)
      }`,
    }));
  });
}

function readOnly(
  dbPath: string,
  fn: (db: Database) => Candidate[],
): Candidate[] {
  try {
    Deno.statSync(dbPath);
  } catch {
    return [];
  }
  return withStore(dbPath, fn, { readOnly: true });
}
