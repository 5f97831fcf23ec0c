/**
 * `deno task`'s own listing, parsed: what `stint tasks` shows when stint
 * cannot read a config for sure (deno reads it, so deno lists it).
 * @module
 */
import { StintError } from "../errors.ts";
import type { TaskInfo } from "./config.ts";

/**
 * The tasks `deno task` lists in `cwd`. Throws a StintError with deno's
 * first error line when deno cannot list them either.
 */
export async function denoTaskListing(cwd: string): Promise<TaskInfo[]> {
  const env = Deno.env.toObject();
  delete env.RUST_BACKTRACE;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task"],
    cwd,
    env: { ...env, NO_COLOR: "1" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0 || !text.startsWith("Available tasks")) {
    const err = new TextDecoder().decode(out.stderr).split("\n")
      .map((l) => l.trim()).find((l) => l !== "" && !/^warning/i.test(l));
    throw new StintError(
      `deno task cannot list the tasks either: ${err ?? `exit ${out.code}`}`,
    );
  }
  return parseListing(text);
}

/** Parse the text `deno task` prints (NO_COLOR) into tasks. */
export function parseListing(text: string): TaskInfo[] {
  const tasks: TaskInfo[] = [];
  for (const line of text.split("\n").slice(1)) {
    const head = line.match(
      /^- (.+?)(?: \((workspace|package\.json|workspace package\.json)\))?$/,
    );
    if (head) {
      const marker = head[2] ?? "";
      tasks.push({
        name: head[1],
        command: null,
        description: null,
        dependencies: [],
        source: marker.includes("package.json") ? "package.json" : "deno.json",
        workspace: marker.startsWith("workspace"),
      });
      continue;
    }
    const task = tasks[tasks.length - 1];
    if (!task || !line.startsWith("    ")) continue;
    const body = line.slice(4);
    if (body.startsWith("// ") && task.command === null) {
      task.description = task.description === null
        ? body.slice(3)
        : `${task.description}\n${body.slice(3)}`;
    } else if (body.startsWith("depends on: ")) {
      task.dependencies = body.slice(12).split(", ");
    } else if (task.command === null) {
      task.command = body;
    }
  }
  return tasks;
}
