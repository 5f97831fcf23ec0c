/**
 * Task discovery: the nearest `deno.json` / `deno.jsonc` / `package.json`
 * walking up from a directory, as `deno task` finds it, and the tasks and
 * scripts it defines. `deno task` has no machine-readable listing, so the
 * files are parsed here.
 * @module
 */
import { StintError, UsageError } from "../errors.ts";
import { closeMatches } from "../cli/suggest.ts";
import { parseJsonc } from "./jsonc.ts";
import { basename, dirname, join, resolve } from "./path.ts";

/** One task (or package.json script) a project defines. */
export interface TaskInfo {
  /** The name `deno task <name>` runs. */
  name: string;
  /** The command line, or null for an object task with only dependencies. */
  command: string | null;
  /** The task's `description`, if any. */
  description: string | null;
  /** Tasks `deno task` runs before this one. */
  dependencies: string[];
  /** Where the task is defined. */
  source: "deno.json" | "package.json";
}

/** A project: the config file found and its tasks. */
export interface Project {
  /** The config file `deno task` would use (deno.json wins over package.json). */
  configPath: string;
  /** The directory the config lives in; tasks run here. */
  dir: string;
  /** The config's `name` field, else the directory's basename. */
  name: string;
  /** Every task: deno.json tasks first, then package.json scripts not shadowed. */
  tasks: TaskInfo[];
}

const DENO_CONFIGS = ["deno.json", "deno.jsonc"];

/**
 * Find the nearest project walking up from `cwd`: the first directory that
 * holds a deno.json, deno.jsonc or package.json. When a directory holds both
 * a deno config and a package.json, both sets of tasks are offered and the
 * deno config wins on a name clash, as `deno task` does.
 *
 * Returns null when no config exists up to the filesystem root; throws a
 * StintError when a config file cannot be read or parsed.
 */
export function findProject(cwd: string): Project | null {
  let dir = resolve(cwd);
  while (true) {
    const project = projectIn(dir);
    if (project) return project;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * Resolve `task` in the nearest project from `cwd`. Throws a UsageError
 * (exit 2) naming the config file and close matches when the task is not
 * defined, and a StintError when there is no config file at all.
 */
export function resolveTask(
  cwd: string,
  task: string,
): { project: Project; task: TaskInfo } {
  const project = findProject(cwd);
  if (!project) {
    throw new StintError(
      `No deno.json, deno.jsonc or package.json found in ${
        resolve(cwd)
      } or any parent directory; run stint from inside a project`,
    );
  }
  const found = project.tasks.find((t) => t.name === task);
  if (found) return { project, task: found };
  throw new UsageError(unknownTaskMessage(project, task));
}

/** The ref runs of `task` in `project` are recorded under: `<project>:<task>`. */
export function taskRef(project: Project, task: string): string {
  return `${project.name}:${task}`;
}

function unknownTaskMessage(project: Project, task: string): string {
  const names = project.tasks.map((t) => t.name);
  if (names.length === 0) {
    return `Task "${task}" is not defined: ${project.configPath} defines no tasks`;
  }
  const close = closeMatches(task, names);
  const hint = close.length > 0
    ? `did you mean ${close.map((n) => `"${n}"`).join(", ")}?`
    : "run stint tasks to list them";
  return `Task "${task}" is not defined in ${project.configPath}; ${hint}`;
}

function projectIn(dir: string): Project | null {
  const denoPath = DENO_CONFIGS.map((f) => join(dir, f)).find(isFile);
  const pkgPath = isFile(join(dir, "package.json"))
    ? join(dir, "package.json")
    : undefined;
  if (!denoPath && !pkgPath) return null;

  const tasks: TaskInfo[] = [];
  let name: string | null = null;
  if (denoPath) {
    const config = readConfig(denoPath);
    name = stringField(config.name);
    tasks.push(...denoTasks(config.tasks, denoPath));
  }
  if (pkgPath) {
    const pkg = readConfig(pkgPath);
    name ??= stringField(pkg.name);
    const seen = new Set(tasks.map((t) => t.name));
    for (const t of packageScripts(pkg.scripts, pkgPath)) {
      if (!seen.has(t.name)) tasks.push(t);
    }
  }
  return {
    configPath: denoPath ?? pkgPath!,
    dir,
    name: name ?? (basename(dir) || dir),
    tasks,
  };
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function readConfig(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    throw new StintError(
      `Cannot read ${path}: ${(err as Error).message.split("\n")[0]}`,
    );
  }
  let value: unknown;
  try {
    // deno.json accepts JSONC too; package.json is strict JSON but the
    // stripper leaves valid JSON unchanged.
    value = parseJsonc(text);
  } catch (err) {
    throw new StintError(
      `${path} is not valid JSON: ${
        (err as Error).message.split("\n")[0]
      }; fix the file and retry`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StintError(`${path} must contain a JSON object`);
  }
  return value as Record<string, unknown>;
}

function stringField(v: unknown): string | null {
  return typeof v === "string" && v.trim() !== "" ? v : null;
}

function denoTasks(raw: unknown, path: string): TaskInfo[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new StintError(`"tasks" in ${path} must be an object`);
  }
  const out: TaskInfo[] = [];
  for (const [name, def] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof def === "string") {
      out.push({
        name,
        command: def,
        description: null,
        dependencies: [],
        source: "deno.json",
      });
      continue;
    }
    if (typeof def !== "object" || def === null || Array.isArray(def)) {
      throw new StintError(
        `Task "${name}" in ${path} must be a string or an object`,
      );
    }
    const obj = def as Record<string, unknown>;
    const deps = Array.isArray(obj.dependencies)
      ? obj.dependencies.filter((d): d is string => typeof d === "string")
      : [];
    out.push({
      name,
      command: typeof obj.command === "string" ? obj.command : null,
      description: stringField(obj.description),
      dependencies: deps,
      source: "deno.json",
    });
  }
  return out;
}

function packageScripts(raw: unknown, path: string): TaskInfo[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new StintError(`"scripts" in ${path} must be an object`);
  }
  return Object.entries(raw as Record<string, unknown>)
    .filter((e): e is [string, string] => typeof e[1] === "string")
    .map(([name, command]) => ({
      name,
      command,
      description: null,
      dependencies: [],
      source: "package.json" as const,
    }));
}
