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

const FLAGS: SimpleFlagSpec = {
  background: { type: "boolean", short: "b" },
  json: { type: "boolean" },
};

/** Run `stint run`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const p = parseSimpleFlags(args, FLAGS, "run");
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

/** The flags {@linkcode parseSimpleFlags} accepts. */
export type SimpleFlagSpec = Record<
  string,
  { type: "boolean" | "string"; short?: string }
>;

/** Parsed flags: values by long name, positionals, and everything after `--`. */
export interface SimpleFlags {
  values: Record<string, string | boolean>;
  positionals: string[];
  rest: string[];
  /** Whether a literal `--` was given. */
  dashDash: boolean;
}

/**
 * A small strict flag parser for the commands on the run path (node:util
 * costs several ms of start-up there). Unknown options get a hint that the
 * task's or command's own options go after `--`.
 */
export function parseSimpleFlags(
  args: string[],
  spec: SimpleFlagSpec,
  command: string,
): SimpleFlags {
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const short = new Map(
    Object.entries(spec).filter(([, v]) => v.short).map(([k, v]) => [
      v.short!,
      k,
    ]),
  );
  const dash = args.indexOf("--");
  const head = dash === -1 ? args : args.slice(0, dash);
  for (let i = 0; i < head.length; i++) {
    const a = head[i];
    if (!a.startsWith("-") || a === "-") {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const raw = eq === -1 ? a : a.slice(0, eq);
    const name = raw.startsWith("--") ? raw.slice(2) : short.get(raw.slice(1));
    const def = name === undefined ? undefined : spec[name];
    if (name === undefined || !def || (!raw.startsWith("--") && eq !== -1)) {
      throw new UsageError(
        `Unknown option ${raw}; options for the ${
          command === "run" ? "task" : "command"
        } go after -- (see stint ${command} --help)`,
      );
    }
    if (def.type === "boolean") {
      if (eq !== -1) {
        throw new UsageError(
          `Option ${raw} does not take a value (see stint ${command} --help)`,
        );
      }
      values[name] = true;
    } else {
      const v = eq !== -1 ? a.slice(eq + 1) : head[++i];
      if (v === undefined) {
        throw new UsageError(
          `Option ${raw} needs a value (see stint ${command} --help)`,
        );
      }
      values[name] = v;
    }
  }
  return {
    values,
    positionals,
    rest: dash === -1 ? [] : args.slice(dash + 1),
    dashDash: dash !== -1,
  };
}

/** Quote an argument for display the way a POSIX shell would need it. */
export function quoteArg(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a)
    ? a
    : `'${a.replaceAll("'", `'\\''`)}'`;
}
