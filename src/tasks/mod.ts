/**
 * Task discovery: the tasks `deno task` sees from a directory — the nearest
 * deno.json / deno.jsonc / package.json walking up, plus the workspace
 * root's tasks when that folder is a workspace member (deno.json
 * `workspace`, package.json `workspaces`) — and the refs runs are recorded
 * under. `deno task` has no machine-readable listing, so the files are
 * parsed here, as leniently as deno parses them; where stint is unsure it
 * says so (`problems`) and the caller defers to deno.
 * @module
 */
import { type ConfigFolder, folderName, type TaskInfo } from "./config.ts";
import { isPattern, matchNames, taskFilter } from "./match.ts";
import { discoverWorkspace, type Workspace } from "./workspace.ts";

export type { TaskInfo } from "./config.ts";

/** A project: the config folder deno task resolves tasks for, and its tasks. */
export interface Project {
  /** The config file `deno task` reads first (deno.json wins over package.json). */
  configPath: string;
  /** The directory the config lives in; its own tasks run here. */
  dir: string;
  /** The config's `name`, else the directory's basename. */
  name: string;
  /**
   * Every task in deno's order: the folder's deno tasks, its package.json
   * scripts not shadowed, then (in a workspace member) the root's tasks
   * not shadowed, marked `workspace`.
   */
  tasks: TaskInfo[];
  /** The workspace root, when this folder is a member of one. */
  root: { name: string; dir: string; configPath: string } | null;
  /** Why stint cannot be sure it read what deno reads (empty when it can). */
  problems: string[];
}

/**
 * Find the project `deno task` would use from `cwd` (or from the config
 * file `options.config`, as `deno task -c` does). Null when there is no
 * config file up to the filesystem root.
 */
export function findProject(
  cwd: string,
  options: { config?: string } = {},
): Project | null {
  const ws = discoverWorkspace(
    options.config ? { configFile: options.config } : { dir: cwd },
  );
  return ws && projectOf(ws);
}

/** Flatten a discovered workspace into a project. */
export function projectOf(ws: Workspace): Project {
  const tasks = [...ws.start.tasks];
  if (ws.root) {
    const own = new Set(tasks.map((t) => t.name));
    for (const t of ws.root.tasks) {
      if (!own.has(t.name)) tasks.push({ ...t, workspace: true });
    }
  }
  return {
    configPath: configPathOf(ws.start),
    dir: ws.start.dir,
    name: folderName(ws.start),
    tasks,
    root: ws.root
      ? {
        name: folderName(ws.root),
        dir: ws.root.dir,
        configPath: configPathOf(ws.root),
      }
      : null,
    problems: ws.problems,
  };
}

/**
 * The ref runs of `task` in `project` are recorded under:
 * `<project>:<task>`, where the project is the one that defines the task —
 * a workspace root's task run from a member is the root's
 * (`<root>:<task>`): it is the same definition, run in the same directory.
 * A wildcard is recorded under the project it was run in.
 */
export function taskRef(project: Project, task: string): string {
  const def = project.tasks.find((t) => t.name === task);
  const owner = def?.workspace && project.root
    ? project.root.name
    : project.name;
  return `${owner}:${task}`;
}

/**
 * The ref a bare name on the command line means (`stint history test`):
 * a task (or a wildcard matching tasks) of the project in `cwd` is that
 * task's ref; anything else is taken as a ref as typed.
 */
export function refForName(name: string, cwd: string): string {
  let project: Project | null;
  try {
    project = findProject(cwd);
  } catch {
    return name;
  }
  if (!project) return name;
  if (project.tasks.some((t) => t.name === name)) return taskRef(project, name);
  const filter = isPattern(name) ? taskFilter(name) : null;
  if (filter && matchNames(filter, project.tasks.map((t) => t.name)).length) {
    return `${project.name}:${name}`;
  }
  return name;
}

/**
 * A ref given on the command line (`stint history test`, `stint stats
 * test`): a bare task name of the current directory's project is that
 * task's ref ({@linkcode refForName}); undefined stays undefined.
 */
export function refArg(arg: string | undefined): string | undefined {
  return arg === undefined ? undefined : refForName(arg, Deno.cwd());
}

function configPathOf(f: ConfigFolder): string {
  return f.denoPath ?? f.pkgPath ?? f.dir;
}
