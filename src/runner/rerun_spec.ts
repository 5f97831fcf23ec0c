/**
 * What to run again for a recorded execution: the same task or command,
 * with the same arguments, in the same directory, under the same ref.
 * `stint run` records `deno task <task> args...` with `task` set and
 * `args` = the task's arguments; `stint exec` records the quoted argv as the
 * command and `args` = argv without the program (or, with `--shell`,
 * `sh -c <script>` and `args` = `[script]`).
 * @module
 */
import { StintError } from "../errors.ts";
import type { Execution } from "../store/executions.ts";
import type { RunSpec } from "./execute.ts";

/** Quote an argument the way `stint run` / `stint exec` record it. */
function quote(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a)
    ? a
    : `'${a.replaceAll("'", `'\\''`)}'`;
}

/** Undo {@linkcode quote} for one word, or null when it is not one. */
function unquote(word: string): string | null {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  const m = word.match(/^'((?:[^']|'\\'')*)'$/);
  return m ? m[1].replaceAll(`'\\''`, "'") : null;
}

/**
 * The {@linkcode RunSpec} that runs `e` again. Throws a StintError when the
 * record does not say how (a run of another host, no project directory, a
 * command line stint did not write).
 */
export function runSpecFromExecution(
  e: Execution,
  options: { denoPath?: string } = {},
): RunSpec {
  const dir = e.projectDir;
  if (!dir) {
    throw new StintError(
      `Run ${e.id} (${e.ref}) has no recorded directory; it cannot be rerun`,
    );
  }
  if (e.task !== null) {
    const args = ["task", e.task, ...e.args];
    return {
      ref: e.ref,
      command: ["deno", ...args].map(quote).join(" "),
      args: e.args,
      program: options.denoPath ?? Deno.execPath(),
      programArgs: args,
      cwd: dir,
      projectDir: dir,
      task: e.task,
      extraEnv: { INIT_CWD: dir },
    };
  }
  const base = { ref: e.ref, cwd: dir, projectDir: dir, task: null };
  if (e.args.length === 1 && e.command === `sh -c ${quote(e.args[0])}`) {
    return {
      ...base,
      command: e.command,
      args: e.args,
      program: "/bin/sh",
      programArgs: ["-c", e.args[0]],
    };
  }
  const tail = e.args.map(quote).join(" ");
  const head = tail === ""
    ? e.command
    : e.command.endsWith(` ${tail}`)
    ? e.command.slice(0, -tail.length - 1)
    : null;
  const program = head === null ? null : unquote(head);
  if (program === null || program === "") {
    throw new StintError(
      `Cannot tell the program of run ${e.id} from its command line; run it again with stint exec`,
    );
  }
  return {
    ...base,
    command: e.command,
    args: e.args,
    program,
    programArgs: e.args,
  };
}
