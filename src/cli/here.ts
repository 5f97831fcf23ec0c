/**
 * "The current project": the directory of the nearest deno.json /
 * deno.jsonc / package.json (as stint tasks finds it), else the current
 * directory. `logs` and `rerun` without an id, and `history --project`,
 * mean the runs recorded there or below it.
 * @module
 */
import { findProject } from "../tasks/mod.ts";
import { resolve } from "../tasks/path.ts";

/** The current project's directory (absolute). */
export function currentProjectDir(cwd: string = Deno.cwd()): string {
  try {
    return findProject(cwd)?.dir ?? resolve(cwd);
  } catch {
    // A config that does not parse still names its project directory for
    // reading history; the commands that run tasks report it.
    return resolve(cwd);
  }
}
