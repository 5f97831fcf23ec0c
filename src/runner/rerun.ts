/**
 * Repeating a recorded run: the {@linkcode RunSpec} that runs the same task
 * or command with the same arguments in the same directory, recorded as a
 * new run that names the one it repeats. Used by `stint rerun`,
 * `stint bg restart` (and the dashboard's rerun button).
 * @module
 */
import { StintError } from "../errors.ts";
import type { Execution } from "../store/executions.ts";
import type { RunSpec } from "./execute.ts";

/** Where the repeat runs from. */
export interface RerunOptions {
  /** The deno binary that runs tasks (`Deno.execPath()`). */
  denoPath: string;
  /** The directory stint was started in (a task's `INIT_CWD`). */
  callerCwd: string;
  /** stint's environment, to leave an inherited `INIT_CWD` alone (default: Deno.env). */
  env?: Record<string, string>;
}

/**
 * Build the spec that repeats `e`, from its recorded fields (task, args,
 * project dir, command line, ref). A task run repeats the recorded
 * `deno task ...` line (with whatever deno task flags it had), falling back
 * to `deno task <task> <args>`, from the directory it was started in when
 * that was recorded (else its project dir); a command repeats the recorded argv (a
 * `--shell` script through /bin/sh again). Throws a StintError when the
 * recorded command line cannot be split back into words.
 */
export function rerunSpec(e: Execution, options: RerunOptions): RunSpec {
  const words = splitCommand(e.command);
  if (e.task !== null) {
    const programArgs = words && words[0] === "deno" && words[1] === "task"
      ? words.slice(1)
      : ["task", e.task, ...e.args];
    const inherited = (options.env ?? Deno.env.toObject()).INIT_CWD;
    // A run started away from its project dir (`stint run -c ../x.json`
    // from a subdirectory) runs from where it was started: deno task
    // resolves --cwd, -c and --env-file against it, and sets INIT_CWD to it.
    const from = e.callerCwd;
    return {
      ref: e.ref,
      command: e.command,
      args: e.args,
      program: options.denoPath,
      programArgs,
      cwd: from ?? e.projectDir ?? options.callerCwd,
      projectDir: e.projectDir,
      task: e.task,
      extraEnv: inherited ? undefined : { INIT_CWD: from ?? options.callerCwd },
      rerunOf: e.id,
    };
  }
  if (words === null || words.length === 0) {
    throw new StintError(
      `Run ${e.id} recorded a command line stint cannot split back into words (${e.command}); run it again with stint exec`,
    );
  }
  const shell = words.length === 3 && words[0] === "sh" &&
    words[1] === "-c" && e.args.length === 1 && e.args[0] === words[2];
  return {
    ref: e.ref,
    command: e.command,
    args: e.args,
    program: shell ? "/bin/sh" : words[0],
    programArgs: words.slice(1),
    cwd: e.projectDir ?? options.callerCwd,
    projectDir: e.projectDir ?? options.callerCwd,
    task: null,
    rerunOf: e.id,
  };
}

/**
 * Split a command line that stint recorded (each word bare or in single
 * quotes, `'\''` for a quote, one space between words) back into its
 * words. Null for anything stint would not have written.
 */
export function splitCommand(line: string): string[] | null {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === " ") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) return null;
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === "\\") {
      if (i + 1 >= line.length) return null;
      word += line[++i];
      inWord = true;
    } else if (/[A-Za-z0-9_@%+=:,./-]/.test(c)) {
      word += c;
      inWord = true;
    } else {
      return null;
    }
  }
  if (inWord) words.push(word);
  return words;
}
