/**
 * `stint tasks [--json]`: the nearest project's tasks with their description,
 * dependencies, last status and last / median duration from history.
 * @module
 */
import { StintError } from "../errors.ts";
import {
  type Execution,
  executionToJson,
  listExecutions,
  reconcileExecutions,
} from "../store/executions.ts";
import { readStore } from "./read_store.ts";
import { medianDuration } from "../store/stats.ts";
import { findProject, type TaskInfo, taskRef } from "../tasks/mod.ts";
import { boolFlag, parseFlags } from "./args.ts";
import { TASKS } from "./commands/history.ts";
import { parseSpec } from "./commands/mod.ts";
import type { Context } from "./context.ts";
import { outputWidth, truncate } from "./table.ts";
import {
  formatDuration,
  paint,
  paintStatus,
  plainText,
  printJson,
  println,
  printTable,
  relativeTime,
} from "./output.ts";

interface TaskRow {
  name: string;
  ref: string;
  command: string | null;
  description: string | null;
  dependencies: string[];
  source: string;
  workspace: boolean;
  last: Execution | null;
  medianMs: number | null;
}

/** Run `stint tasks`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, parseSpec(TASKS.flags), {
    command: "tasks",
    max: 0,
  });
  const project = findProject(Deno.cwd());
  if (!project) {
    throw new StintError(
      `No deno.json, deno.jsonc or package.json found in ${Deno.cwd()} or any parent directory; run stint tasks inside a project`,
    );
  }
  if (project.problems.length > 0) {
    // stint cannot read a config for sure; deno task can list what it reads.
    const { denoTaskListing } = await import("../tasks/listing.ts");
    project.tasks = await denoTaskListing(Deno.cwd());
  }
  const rows: TaskRow[] = readStore(ctx.dbPath, (db) => {
    reconcileExecutions(db);
    return project.tasks.map((t) => {
      const ref = taskRef(project, t.name);
      return {
        ...taskRow(t, ref),
        last: listExecutions(db, { ref, limit: 1 })[0] ?? null,
        medianMs: medianDuration(db, ref),
      };
    });
  }, () => project.tasks.map((t) => taskRow(t, taskRef(project, t.name))));
  if (boolFlag(p, "json")) {
    printJson({
      project: project.name,
      config_path: project.configPath,
      dir: project.dir,
      workspace_root: project.root
        ? {
          name: project.root.name,
          dir: project.root.dir,
          config_path: project.root.configPath,
        }
        : null,
      tasks: rows.map((r) => ({
        name: r.name,
        ref: r.ref,
        command: r.command,
        description: r.description,
        dependencies: r.dependencies,
        source: r.source,
        workspace: r.workspace,
        last_run: r.last ? executionToJson(r.last) : null,
        last_status: r.last?.status ?? null,
        last_duration_ms: r.last?.durationMs ?? null,
        median_duration_ms: r.medianMs,
      })),
    });
    return 0;
  }
  const width = outputWidth(ctx.stdoutIsTty);
  const title = plainText(`${project.name} (${project.configPath})`);
  println(
    paint(
      width === null ? title : truncate(title, width),
      "bold",
      ctx.color,
    ),
  );
  if (rows.length === 0) {
    println(`No tasks defined in ${project.configPath}`);
    return 0;
  }
  const now = Date.now();
  await printTable(
    ctx,
    ["TASK", "DESCRIPTION", "DEPENDS ON", "LAST RUN", "LAST", "MEDIAN"],
    rows.map((r) => [
      // deno task marks the workspace root's tasks the same way.
      r.workspace
        ? `${plainText(r.name)} ${paint("(workspace)", "dim", ctx.color)}`
        : plainText(r.name),
      r.description === null
        ? paint(plainText(r.command ?? "-"), "dim", ctx.color)
        : plainText(r.description),
      plainText(r.dependencies.join(", ")) || "-",
      r.last
        ? `${paintStatus(r.last.status, ctx.color)} ${
          relativeTime(r.last.startedAt, now)
        }`
        : "never",
      formatDuration(r.last?.durationMs),
      formatDuration(r.medianMs),
    ]),
    // The description (or command) gives way first, then the dependencies.
    { flex: [1, 2], keep: [0] },
  );
  return 0;
}

function taskRow(t: TaskInfo, ref: string): TaskRow {
  return {
    name: t.name,
    ref,
    command: t.command,
    description: t.description,
    dependencies: t.dependencies,
    source: t.source,
    workspace: t.workspace,
    last: null,
    medianMs: null,
  };
}
