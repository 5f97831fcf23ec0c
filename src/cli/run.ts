/**
 * `stint run <task> [-b] [--json] [-- args]`: run a deno.json task through
 * `deno task` and record it; and the launch path `stint exec` shares.
 * @module
 */
import { UsageError } from "../errors.ts";
import { runExecution, type RunSpec } from "../runner/execute.ts";
import { SignalForwarder } from "../runner/forwarder.ts";
import { executionToJson } from "../store/executions.ts";
import { resolveTask, taskRef } from "../tasks/mod.ts";
import type { Context } from "./context.ts";
import { type FastFlagSpec, parseFastFlags } from "./fast_flags.ts";
import { eprintln, printJson, println } from "./output.ts";
import { withSyncSession } from "./sync_session.ts";

/** Help for `stint run`. */
export const help = `Usage: stint run <task> [-b] [--json] [-- args...]

Run a task of the nearest deno.json / deno.jsonc / package.json (found as
deno task finds it) with \`deno task <task> args...\` in that file's directory,
so dependencies, the task shell and wildcards behave exactly as in deno task.
Output streams to the terminal unchanged and is kept byte-exact in the run's
log (stint logs <id>). The run is recorded under the ref <project>:<task>.

Options:
  -b, --background   Start detached, print the background run id, return at once
      --json         Print the finished run's record as JSON (with -b: the
                     background run: id, execution_id, pid, log_path, ...)

The task gets STINT_RUN_ID (its execution id), STINT_SCOPE (a fresh vars
scope under the caller's, deleted when the run ends) and, inside another
stint run, STINT_PARENT_RUN_ID. Ctrl-C / SIGTERM / SIGHUP go to the task's
whole process group; a second one kills the group.

Exit codes:
  the task's own code   0 success, anything else as the task returned
  128+n                 the task (or stint) was killed by signal n (130: Ctrl-C)
  2                     unknown task (close matches are listed) or bad usage
  1                     no deno.json / package.json found

Examples:
  stint run build
  stint run test -- --filter parser
  id=$(stint run -b dev) && stint bg logs "$id" -f`;

const FLAGS: FastFlagSpec = {
  background: { type: "boolean", short: "b" },
  json: { type: "boolean" },
};

/** Run `stint run`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const p = parseFastFlags(args, FLAGS, {
    command: "run",
    unknownHint: () => "options for the task go after --",
  });
  if (p.positionals.length === 0) {
    throw new UsageError(
      "stint run needs a task name: stint run <task> [-- args] (see stint tasks)",
    );
  }
  if (p.positionals.length > 1) {
    throw new UsageError(
      `Task arguments go after --: stint run ${p.positionals[0]} -- ${
        p.positionals.slice(1).join(" ")
      }`,
    );
  }
  const name = p.positionals[0];
  const cwd = Deno.cwd();
  const { project } = resolveTask(cwd, name);
  const spec: RunSpec = {
    ref: taskRef(project, name),
    command: ["deno", "task", name, ...p.rest].map(quoteArg).join(" "),
    args: p.rest,
    program: Deno.execPath(),
    programArgs: ["task", name, ...p.rest],
    cwd: project.dir,
    projectDir: project.dir,
    task: name,
    // deno task tells a task where it was started from; keep that the
    // caller's directory even though the child runs in the config's.
    extraEnv: Deno.env.get("INIT_CWD") ? undefined : { INIT_CWD: cwd },
  };
  return await launch(spec, ctx, {
    background: p.values.background === true,
    json: p.values.json === true,
  });
}

/**
 * Run `spec` in the foreground (inside the sync session, with signals
 * forwarded) or start it in the background. Returns the exit code.
 */
export async function launch(
  spec: RunSpec,
  ctx: Context,
  options: { background: boolean; json: boolean },
): Promise<number> {
  if (options.background) {
    // Loaded only here: the foreground path stays as small as it can be.
    const { startBackground } = await import("../runner/background.ts");
    const { backgroundRunToJson } = await import("../store/background.ts");
    const { run, logPath } = await withSyncSession(
      ctx,
      { pull: false, flushLoop: false },
      () =>
        Promise.resolve(
          startBackground(spec, { dbPath: ctx.dbPath, quiet: ctx.quiet }),
        ),
    );
    if (options.json) {
      printJson({ ...backgroundRunToJson(run), log_path: logPath });
    } else {
      println(run.id);
      if (ctx.stderrIsTty && !ctx.quiet) {
        eprintln(
          `Started ${run.ref} in the background; follow it with: stint bg logs ${run.id} -f`,
        );
      }
    }
    return 0;
  }
  const forwarder = new SignalForwarder().install({ jobControl: true });
  try {
    const result = await withSyncSession(
      ctx,
      { pull: true, flushLoop: true },
      () =>
        runExecution(spec, { dbPath: ctx.dbPath, forwarder, terminal: true }),
    );
    if (result.spawnError) eprintln(`stint: ${result.spawnError}`);
    if (options.json) printJson(executionToJson(result.execution));
    return result.exitCode;
  } finally {
    forwarder.dispose();
  }
}

/** Quote an argument for display the way a POSIX shell would need it. */
export function quoteArg(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a)
    ? a
    : `'${a.replaceAll("'", `'\\''`)}'`;
}
