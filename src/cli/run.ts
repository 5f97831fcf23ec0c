/**
 * `stint run [deno task options] <task> [args...]`: run a task through
 * `deno task` and record it; and the launch path `stint exec` shares.
 * @module
 */
import { lazyImport } from "../lazy_import.ts";
import { mark } from "../trace.ts";
import { UsageError } from "../errors.ts";
import { runExecution, type RunSpec } from "../runner/execute.ts";
import { SignalForwarder } from "../runner/forwarder.ts";
import { resolveRun } from "../tasks/resolve.ts";
import type { Context } from "./context.ts";
import { eprintln, printJson, println } from "./output.ts";
import { parseRunArgs } from "./run_args.ts";
import { withSyncSession } from "./sync_session.ts";

export {
  DENO_TASK_OPTIONS,
  RUN_OWN_OPTIONS,
  taskNameIndex,
} from "./run_args.ts";

/** Help for `stint run`. */
export const help =
  `Usage: stint run [options] [deno task options] <task> [args...]

Run a task with \`deno task\`, exactly as deno task runs it (the nearest
deno.json / deno.jsonc / package.json, the workspace root's tasks from a
member, wildcards such as "build:*", dependencies, the task shell), and
record it. Everything after the task name goes to the task, word for word
(a -- too, as deno task passes it). Output streams to the terminal
unchanged and is kept byte-exact in the run's log (stint logs <id>); on a
terminal the task runs in a pseudo-terminal, so it keeps its colours,
prompts and window size.

The run is recorded under the ref <project>:<task>: the project that
defines the task (a workspace root's task run from a member is the root's),
<project>:<pattern> for a wildcard (the matched tasks are recorded), and
<workspace>:<task>@recursive / @members / @filter=<f> for -r, --members
and --filter. With no task, the tasks are listed (as deno task does).

Options (stint's own):
  -b, --background   Start detached, print the background run id, return at once
      --json         Print the finished run's record as JSON (with -b: the
                     background run: id, execution_id, pid, log_path, ...)
      --name <ref>   Record the run under this ref
  -q, --quiet        No sync chatter from stint (also passed to deno task)

deno task's options are passed through: --cwd <dir>, -c/--config <file>,
-r/--recursive, --members, -f/--filter <f>, --eval, --if-present,
--no-prefix, -j/--jobs <n>, --env-file[=<file>], --node-modules-dir[=<mode>],
--lock [<file>], --no-lock, --frozen-lockfile[=<bool>], -L/--log-level.

The task gets STINT_RUN_ID (its execution id), STINT_SCOPE (a fresh vars
scope under the caller's, deleted when the run ends) and, inside another
stint run, STINT_PARENT_RUN_ID. Ctrl-C / SIGTERM / SIGHUP go to the task's
whole process group; a second one kills the group.

Exit codes:
  the task's own code   as deno task reports it (also when the task handled
                        a forwarded Ctrl-C and exited with its own code)
  128+n                 deno task was killed by signal n (130: Ctrl-C)
  2                     bad usage
  1                     no task matches (close matches are listed), as for
                        deno task, or no deno.json / package.json found

Examples:
  stint run build
  stint run test --filter parser
  stint run "build:*"
  stint run --cwd packages/api -r test
  id=$(stint run -b dev) && stint bg logs "$id" -f`;

/** Run `stint run`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const p = parseRunArgs(args);
  if (p.missingValue) {
    throw new UsageError(
      `Option ${p.missingValue} needs a value (see stint run --help)`,
    );
  }
  if (p.name !== undefined) validateRef(p.name);
  mark("run: options parsed");
  const cwd = Deno.cwd();
  const denoArgs = ["task", ...p.denoOptions];
  if (p.task === undefined) {
    // stint's own options say what to do with a run; with no task there is
    // none, and silently listing the tasks would hide the mistake.
    const own = p.json
      ? "--json"
      : p.name !== undefined
      ? "--name"
      : p.background
      ? "--background"
      : null;
    if (own) {
      throw new UsageError(
        `${own} needs a task to run: stint run ${own} <task>; with no task, stint run lists the tasks`,
      );
    }
    // No task: deno task lists the tasks (or explains what is missing).
    return await passThrough(denoArgs);
  }
  const target = resolveRun({
    cwd,
    task: p.task,
    taskCwd: str(p.deno.cwd),
    config: str(p.deno.config),
    recursive: p.deno.recursive === true,
    members: p.deno.members === true,
    filter: str(p.deno.filter),
    eval: p.deno.eval === true,
    ifPresent: p.deno["if-present"] === true,
    unknownOption: p.unknownOption,
  });
  mark("run: task resolved (config found and read)");
  const programArgs = [...denoArgs, p.task, ...p.taskArgs];
  // --if-present and stint is sure nothing matches: deno runs nothing
  // (it may still warn about the config), so nothing is recorded.
  if (target === null) return await passThrough(programArgs);
  const spec: RunSpec = {
    ref: p.name ?? target.ref,
    command: ["deno", ...programArgs].map(quoteArg).join(" "),
    args: p.taskArgs,
    program: Deno.execPath(),
    programArgs,
    // deno task runs from here, so it finds the same config, resolves
    // relative option values the same way and sets INIT_CWD to it.
    cwd,
    projectDir: target.projectDir,
    task: p.task,
    matchedTasks: target.matched,
  };
  return await launch(spec, ctx, { background: p.background, json: p.json });
}

/**
 * Run `spec` in the foreground (inside the sync session, with signals
 * forwarded; in a pseudo-terminal when stint is on one) or start it in the
 * background. Returns the exit code.
 */
export async function launch(
  spec: RunSpec,
  ctx: Context,
  options: { background: boolean; json: boolean },
): Promise<number> {
  if (options.background) {
    // Loaded only here, through computed specifiers (Deno walks the graph
    // of a literal one): the foreground path stays as small as it can be.
    const [{ startBackground }, { backgroundRunToJson }] = await Promise.all([
      lazyImport<typeof import("../runner/background.ts")>(
        new URL("../runner/background.ts", import.meta.url),
      ),
      lazyImport<typeof import("../store/background.ts")>(
        new URL("../store/background.ts", import.meta.url),
      ),
    ]);
    mark("run: background modules loaded");
    const { run, logPath } = await withSyncSession(
      ctx,
      { pull: false, flushLoop: false },
      () =>
        Promise.resolve(
          startBackground(spec, { dbPath: ctx.dbPath, quiet: ctx.quiet }),
        ),
    );
    mark("run: background run recorded, supervisor started");
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
  mark("run: signal handlers installed");
  try {
    const result = await withSyncSession(
      ctx,
      { pull: true, flushLoop: true },
      () => {
        mark("run: sync session checked");
        return runExecution(spec, {
          dbPath: ctx.dbPath,
          forwarder,
          terminal: true,
          pty: wantsPty(ctx),
        });
      },
    );
    mark("run: sync session closed");
    if (result.spawnError) eprintln(`stint: ${result.spawnError}`);
    if (options.json) {
      // The store is loaded by now (the run was recorded through it).
      const { executionToJson } = await lazyImport<
        typeof import("../store/executions.ts")
      >(new URL("../store/executions.ts", import.meta.url));
      printJson(executionToJson(result.execution));
    }
    return result.exitCode;
  } finally {
    forwarder.dispose();
  }
}

/**
 * A pseudo-terminal for the task when stint is used from a terminal: stdin,
 * stdout and stderr are all terminals (a redirected stream is never merged
 * into the terminal or echoed), and `STINT_PTY=0` is not set.
 */
function wantsPty(ctx: Context): boolean {
  if (Deno.build.os !== "linux" && Deno.build.os !== "darwin") return false;
  if (Deno.env.get("STINT_PTY") === "0") return false;
  return ctx.stdoutIsTty && ctx.stderrIsTty && Deno.stdin.isTerminal();
}

/** Run `deno <args>` with stdio inherited, unrecorded; its exit code. */
async function passThrough(args: string[]): Promise<number> {
  const status = await new Deno.Command(Deno.execPath(), {
    args,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  return status.code; // 128+n for a signal death, as Deno reports it
}

/** Check a user-given ref (`--name`). */
export function validateRef(ref: string): void {
  // deno-lint-ignore no-control-regex
  if (ref.trim() === "" || ref.length > 200 || /[\x00-\x1f\x7f]/.test(ref)) {
    throw new UsageError(
      "--name must be 1 to 200 printable characters, e.g. --name nightly:backup",
    );
  }
}

/** Quote an argument for display the way a POSIX shell would need it. */
export function quoteArg(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a)
    ? a
    : `'${a.replaceAll("'", `'\\''`)}'`;
}

function str(v: string | true | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}
