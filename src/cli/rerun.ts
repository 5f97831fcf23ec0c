/**
 * `stint rerun [<id>|<ref>|<task>] [--failed] [-b] [--json]`: run a recorded
 * run's task or command again with the same arguments, through the same
 * launch path as `stint run`, recorded as a new run naming the one it
 * repeats.
 * @module
 */
import { NotFoundError, StintError, UsageError } from "../errors.ts";
import type { RunSpec } from "../runner/execute.ts";
import { rerunSpec } from "../runner/rerun.ts";
import {
  type Execution,
  getExecution,
  getExecutionExact,
  listExecutions,
} from "../store/executions.ts";
import type { Database } from "../store/sqlite.ts";
import { findProject, taskRef } from "../tasks/mod.ts";
import { boolFlag, parseFlags } from "./args.ts";
import { parseSpec } from "./commands/mod.ts";
import { RERUN } from "./commands/running.ts";
import type { Context } from "./context.ts";
import { currentProjectDir } from "./here.ts";
import { eprintln, NO_RUNS_YET, paint } from "./output.ts";
import { readStore } from "./read_store.ts";
import { launch } from "./run.ts";

/** Run `stint rerun`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, parseSpec(RERUN.flags), {
    command: "rerun",
    max: 1,
  });
  const failed = boolFlag(p, "failed");
  const target = p.positionals[0];
  const e = readStore(
    ctx.dbPath,
    (db) => pick(db, target, failed),
    () => {
      throw new NotFoundError(NO_RUNS_YET);
    },
  );
  const spec = repeatSpec(e);
  if (ctx.stderrIsTty && !ctx.quiet) {
    eprintln(
      paint(
        `stint: again: ${e.id.slice(0, 13)} ${e.ref}: ${e.command}`,
        "dim",
        !Deno.env.get("NO_COLOR"),
      ),
    );
  }
  return await launch(spec, ctx, {
    background: boolFlag(p, "background"),
    json: boolFlag(p, "json"),
  });
}

/**
 * The spec that repeats `e` from here, after checking it can run: its
 * directory must still exist (a run synced from another machine names that
 * machine's paths).
 */
export function repeatSpec(e: Execution): RunSpec {
  const spec = rerunSpec(e, {
    denoPath: Deno.execPath(),
    callerCwd: Deno.cwd(),
  });
  try {
    if (!Deno.statSync(spec.cwd).isDirectory) throw new Error();
  } catch {
    throw new StintError(
      `Cannot run ${e.ref} again: its directory ${spec.cwd} does not exist here (the run was recorded on host ${e.hostId})`,
    );
  }
  return spec;
}

/**
 * Which run to repeat: none given, the newest of the current project; else
 * an exact id, a ref (its newest run), a task of the current project (its
 * newest run), or a unique id prefix. `failed` picks the newest failure.
 */
function pick(
  db: Database,
  target: string | undefined,
  failed: boolean,
): Execution {
  const status = failed ? "failed" as const : undefined;
  const what = failed ? "failed run" : "run";
  if (target === undefined) {
    const dir = currentProjectDir();
    const [e] = listExecutions(db, { dir, status, limit: 1 });
    if (e) return e;
    throw new NotFoundError(
      `No ${what} recorded in ${dir} or below; give a run id or ref (see stint history)`,
    );
  }
  const exact = getExecutionExact(db, target);
  if (exact) {
    if (failed) {
      throw new UsageError(
        "--failed picks a run; give a ref or task with it, not a run id",
      );
    }
    return exact;
  }
  for (const ref of refsFor(target)) {
    const [e] = listExecutions(db, { ref, status, limit: 1 });
    if (e) return e;
  }
  if (/^[0-9a-f-]+$/i.test(target) && !failed) return getExecution(db, target);
  throw new NotFoundError(
    `No ${what} with id, ref or task "${target}"; see stint history or stint history refs`,
  );
}

/** The refs `target` may name: itself, and `<project>:<target>` for a task here. */
function refsFor(target: string): string[] {
  const refs = [target];
  try {
    const project = findProject(Deno.cwd());
    if (project?.tasks.some((t) => t.name === target)) {
      refs.push(taskRef(project, target));
    }
  } catch {
    // a broken config: only the ref itself
  }
  return refs;
}
