/**
 * Reading one config folder as `deno task` does: its deno.json (else
 * deno.jsonc, parsed as leniently as deno parses it) and its package.json
 * (strict JSON, as deno reads it), with their tasks, scripts, names and
 * workspace members. Whatever stint cannot read for sure is noted as a
 * problem instead of an error: the caller then defers to `deno task`.
 * @module
 */
import { parseJsonc } from "./jsonc.ts";
import { basename, join } from "./path.ts";

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
  /**
   * Defined by the workspace root and seen from a member (`deno task`
   * lists it as "(workspace)"); false for the folder's own tasks.
   */
  workspace: boolean;
}

/** A directory with a deno.json / deno.jsonc and/or a package.json. */
export interface ConfigFolder {
  /** The directory. */
  dir: string;
  /** Its deno.json or deno.jsonc, if any. */
  denoPath: string | null;
  /** Its package.json, if any. */
  pkgPath: string | null;
  /** The deno config's `name`, else package.json's. */
  name: string | null;
  /** Tasks of the deno config, then package.json scripts it does not shadow. */
  tasks: TaskInfo[];
  /** Members listed by deno.json `workspace`, or null. */
  denoMembers: string[] | null;
  /** Members listed by package.json `workspaces`, or null. */
  npmMembers: string[] | null;
  /** Why stint cannot be sure what deno reads here (null when it can). */
  problem: string | null;
}

const DENO_CONFIGS = ["deno.json", "deno.jsonc"];

/**
 * Read the config files in `dir`; null when it has none. Only the deno
 * config when `only` names one (`deno task -c other.json`).
 */
export function readFolder(
  dir: string,
  options: { only?: string } = {},
): ConfigFolder | null {
  const problems: string[] = [];
  const present = (path: string): boolean => {
    const kind = fileKind(path);
    if (kind === "unknown") problems.push(`cannot read ${path}`);
    return kind === "file";
  };
  const denoPath = options.only ??
    DENO_CONFIGS.map((f) => join(dir, f)).find(present) ?? null;
  const pkgPath = options.only === undefined &&
      present(join(dir, "package.json"))
    ? join(dir, "package.json")
    : null;
  if (!denoPath && !pkgPath && problems.length === 0) return null;
  const folder: ConfigFolder = {
    dir,
    denoPath,
    pkgPath,
    name: null,
    tasks: [],
    denoMembers: null,
    npmMembers: null,
    problem: null,
  };
  if (denoPath) readDeno(folder, denoPath, problems);
  if (pkgPath) readPackage(folder, pkgPath, problems);
  folder.problem = problems[0] ?? null;
  return folder;
}

/** The project name: the config's `name`, else the directory's basename. */
export function folderName(folder: ConfigFolder): string {
  return folder.name ?? (basename(folder.dir) || folder.dir);
}

/** Whether `path` is a file (false when missing or unreadable). */
export function isFile(path: string): boolean {
  return fileKind(path) === "file";
}

/** A file, nothing there (or not a file), or unknown (stat failed otherwise). */
function fileKind(path: string): "file" | "missing" | "unknown" {
  try {
    return Deno.statSync(path).isFile ? "file" : "missing";
  } catch (err) {
    return err instanceof Deno.errors.NotFound ||
        err instanceof Deno.errors.NotADirectory
      ? "missing"
      : "unknown";
  }
}

function readText(path: string, problems: string[]): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    problems.push(`cannot read ${path}: ${firstLine(err)}`);
    return null;
  }
}

function readDeno(folder: ConfigFolder, path: string, problems: string[]) {
  const text = readText(path, problems);
  if (text === null) return;
  let value: unknown;
  try {
    value = parseJsonc(text, { uniqueRootKeys: true });
  } catch (err) {
    problems.push(`${path} is not valid JSONC: ${firstLine(err)}`);
    return;
  }
  if (value === null) return; // an empty file is an empty config, for deno too
  if (!isObject(value)) {
    problems.push(`${path} must contain a JSON object`);
    return;
  }
  if (value.name !== undefined && typeof value.name !== "string") {
    problems.push(`"name" in ${path} must be a string`);
  }
  folder.name = nonEmpty(value.name);
  folder.tasks = denoTasks(value.tasks, path, problems);
  folder.denoMembers = denoWorkspace(value.workspace, path, problems);
}

function readPackage(folder: ConfigFolder, path: string, problems: string[]) {
  const text = readText(path, problems);
  if (text === null || text.trim() === "") return;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    problems.push(`${path} is not valid JSON: ${firstLine(err)}`);
    return;
  }
  if (!isObject(value)) {
    problems.push(`${path} must contain a JSON object`);
    return;
  }
  folder.name ??= nonEmpty(value.name);
  const seen = new Set(folder.tasks.map((t) => t.name));
  if (isObject(value.scripts)) {
    // deno skips scripts that are not strings, as npm does.
    for (const [name, command] of Object.entries(value.scripts)) {
      if (typeof command !== "string" || seen.has(name)) continue;
      folder.tasks.push({
        name,
        command,
        description: null,
        dependencies: [],
        source: "package.json",
        workspace: false,
      });
    }
  }
  const ws = value.workspaces;
  const list = Array.isArray(ws)
    ? ws
    : isObject(ws) && Array.isArray(ws.packages)
    ? ws.packages
    : null;
  if (list) folder.npmMembers = list.filter((m) => typeof m === "string");
}

function denoTasks(
  raw: unknown,
  path: string,
  problems: string[],
): TaskInfo[] {
  if (raw === undefined || raw === null) return [];
  if (!isObject(raw)) {
    problems.push(`"tasks" in ${path} must be an object`);
    return [];
  }
  const out: TaskInfo[] = [];
  for (const [name, def] of Object.entries(raw)) {
    const task: TaskInfo = {
      name,
      command: null,
      description: null,
      dependencies: [],
      source: "deno.json",
      workspace: false,
    };
    if (typeof def === "string") {
      task.command = def;
    } else if (isObject(def)) {
      const { command, description, dependencies } = def;
      if (typeof command === "string") task.command = command;
      else if (command !== undefined && command !== null) {
        problems.push(
          `"command" of task "${name}" in ${path} must be a string`,
        );
      }
      task.description = nonEmpty(description);
      if (Array.isArray(dependencies)) {
        task.dependencies = dependencies.filter((d) => typeof d === "string");
        if (task.dependencies.length !== dependencies.length) {
          problems.push(
            `"dependencies" of task "${name}" in ${path} must be strings`,
          );
        }
      } else if (dependencies !== undefined) {
        problems.push(
          `"dependencies" of task "${name}" in ${path} must be an array`,
        );
      }
    } else {
      problems.push(`Task "${name}" in ${path} must be a string or an object`);
      continue;
    }
    out.push(task);
  }
  return out;
}

function denoWorkspace(
  raw: unknown,
  path: string,
  problems: string[],
): string[] | null {
  if (raw === undefined || raw === null) return null;
  const list = Array.isArray(raw)
    ? raw
    : isObject(raw) && Array.isArray(raw.members)
    ? raw.members
    : null;
  if (list === null || list.some((m) => typeof m !== "string")) {
    problems.push(`"workspace" in ${path} must be a list of member paths`);
    return null;
  }
  return list as string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function nonEmpty(v: unknown): string | null {
  return typeof v === "string" && v.trim() !== "" ? v : null;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}
