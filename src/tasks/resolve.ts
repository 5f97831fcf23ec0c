/**
 * What a `stint run` invocation runs and the ref it is recorded under.
 * stint never refuses what `deno task` would run: deno always runs it, and
 * this only decides the record. Only when stint is sure that nothing
 * matches (every config read, the workspace root included, no wildcard
 * match, no flag it does not model) does it refuse, with close matches.
 * @module
 */
import { NotFoundError, StintError } from "../errors.ts";
import { closeMatches } from "../cli/suggest.ts";
import { isPattern, matchNames, taskFilter } from "./match.ts";
import { findProject, type Project, taskRef } from "./mod.ts";
import { basename, isAbsolute, join, resolve } from "./path.ts";

/** The parts of a `deno task` invocation that decide what runs. */
export interface RunRequest {
  /** The directory stint was started in (deno task's initial cwd). */
  cwd: string;
  /** The task name or pattern (with `--eval`: the command line). */
  task: string;
  /** `--cwd`. */
  taskCwd?: string;
  /** `-c` / `--config`. */
  config?: string;
  /** `-r` / `--recursive`. */
  recursive?: boolean;
  /** `--members`. */
  members?: boolean;
  /** `-f` / `--filter`. */
  filter?: string;
  /** `--eval`. */
  eval?: boolean;
  /** `--if-present`. */
  ifPresent?: boolean;
  /** The first option stint does not model, if any (deno will judge it). */
  unknownOption?: string | null;
}

/** How the run is recorded. */
export interface RunTarget {
  /** The ref. */
  ref: string;
  /** The project directory recorded with the run. */
  projectDir: string;
  /** For a wildcard: the task names it matched, in deno's order. */
  matched: string[] | null;
  /** Why stint's reading may differ from deno's (it runs anyway); null when sure. */
  unsure: string | null;
}

/**
 * Resolve `req`. Returns null when `--if-present` is given and stint is
 * sure nothing matches (deno exits 0 without running anything). Throws a
 * NotFoundError (exit 1, as deno task) with close matches for a task that
 * is surely not defined, and a StintError (exit 1) when there is no config
 * file at all.
 */
export function resolveRun(req: RunRequest): RunTarget | null {
  const against = (p: string) => resolve(isAbsolute(p) ? p : join(req.cwd, p));
  const startDir = req.taskCwd ? against(req.taskCwd) : req.cwd;
  if (req.eval) {
    const program = req.task.trim().split(/\s+/)[0] || "sh";
    return {
      ref: `eval:${basename(program)}`,
      projectDir: startDir,
      matched: null,
      unsure: null,
    };
  }
  const unsure: string[] = [];
  if (req.unknownOption) {
    unsure.push(`stint does not know the option ${req.unknownOption}`);
  }
  if (req.taskCwd && !isDir(startDir)) unsure.push(`no directory ${startDir}`);
  const project = findProject(startDir, {
    config: req.config === undefined ? undefined : against(req.config),
  });
  if (!project) {
    if (unsure.length > 0) {
      return {
        ref: `${basename(startDir) || startDir}:${req.task}`,
        projectDir: startDir,
        matched: null,
        unsure: unsure[0],
      };
    }
    throw new StintError(
      `No deno.json, deno.jsonc or package.json found in ${startDir} or any parent directory; run stint from inside a project`,
    );
  }
  unsure.push(...project.problems);
  const target = (ref: string, matched: string[] | null = null): RunTarget => ({
    ref,
    projectDir: project.dir,
    matched,
    unsure: unsure[0] ?? null,
  });

  const selection = req.members
    ? "members"
    : req.filter !== undefined
    ? `filter=${req.filter}`
    : req.recursive
    ? "recursive"
    : null;
  if (selection) {
    // Several workspace folders: recorded under the workspace as a whole.
    return target(
      `${project.root?.name ?? project.name}:${req.task}@${selection}`,
    );
  }

  const filter = taskFilter(req.task);
  if (filter === null) {
    unsure.push(`deno reads the task name "${req.task}" itself`);
    return target(`${project.name}:${req.task}`);
  }
  const names = project.tasks.map((t) => t.name);
  const matched = matchNames(filter, names);
  if (matched.length > 0) {
    return isPattern(req.task)
      ? target(`${project.name}:${req.task}`, matched)
      : target(taskRef(project, req.task));
  }
  if (unsure.length > 0) return target(`${project.name}:${req.task}`);
  if (req.ifPresent) return null;
  // Exit 1, as deno task and a missing key or run (spec section 5).
  throw new NotFoundError(unknownTaskMessage(project, req.task));
}

function unknownTaskMessage(project: Project, task: string): string {
  const names = project.tasks.map((t) => t.name);
  const where = project.root
    ? `${project.configPath} or its workspace root ${project.root.configPath}`
    : project.configPath;
  if (names.length === 0) {
    return `Task "${task}" is not defined: ${where} defines no tasks`;
  }
  const close = closeMatches(task, names);
  const hint = close.length > 0
    ? `did you mean ${close.map((n) => `"${n}"`).join(", ")}?`
    : "run stint tasks to list them";
  const what = isPattern(task) ? "No task matches" : "Task";
  const verb = isPattern(task) ? "" : " is not defined";
  return `${what} "${task}"${verb} in ${where}; ${hint}`;
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}
