/**
 * `stint exec [--name N] [--shell] [-b] [--json] -- <cmd> [args...]`: run an
 * ad-hoc command (no shell unless asked) and record it like a task run.
 * @module
 */
import { UsageError } from "../errors.ts";
import type { RunSpec } from "../runner/execute.ts";
import type { Context } from "./context.ts";
import { type FastFlagSpec, parseFastFlags } from "./fast_flags.ts";
import { launch, quoteArg, validateRef } from "./run.ts";

/** Help for `stint exec`. */
export const help =
  `Usage: stint exec [--name <ref>] [--shell] [-b] [--json] -- <command> [args...]

Run an ad-hoc command in the current directory and record it like a task
run: output streams to the terminal and into the run's log, and the child
gets STINT_RUN_ID and its own STINT_SCOPE. The command runs directly, never
through a shell, unless --shell is given.

Options:
      --name <ref>   Record the run under this ref (default: exec:<program>)
      --shell        Run the words after -- as one /bin/sh -c script
  -b, --background   Start detached, print the background run id, return at once
      --json         Print the finished run's record as JSON (with -b: the
                     background run)

Exit codes: the command's own code; 128+n when killed by signal n; 127 when
the program is not found, 126 when it is not executable; 2 for bad usage.

Examples:
  stint exec -- cargo build --release
  stint exec --name nightly:backup -- ./backup.sh /data
  stint exec --shell -- 'du -sh * | sort -h'
  stint exec -b --name soak -- deno run -A soak.ts`;

const FLAGS: FastFlagSpec = {
  name: { type: "string" },
  shell: { type: "boolean" },
  background: { type: "boolean", short: "b" },
  json: { type: "boolean" },
};

/** Run `stint exec`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const p = parseFastFlags(args, FLAGS, {
    command: "exec",
    unknownHint: () => "options for the command go after --",
  });
  const argv = p.dashDash ? p.rest : p.positionals;
  if (p.dashDash && p.positionals.length > 0) {
    throw new UsageError(
      `Unexpected argument "${
        p.positionals[0]
      }" before --; put the whole command after --`,
    );
  }
  if (argv.length === 0 || argv[0] === "") {
    throw new UsageError(
      "stint exec needs a command after --: stint exec -- <command> [args...]",
    );
  }
  const shell = p.values.shell === true;
  const name = typeof p.values.name === "string" ? p.values.name : undefined;
  if (name !== undefined) validateRef(name);
  const cwd = Deno.cwd();
  const script = argv.join(" ");
  const spec: RunSpec = shell
    ? {
      ref: name ?? `exec:${basename(script.trim().split(/\s+/)[0] || "sh")}`,
      command: `sh -c ${quoteArg(script)}`,
      args: [script],
      program: "/bin/sh",
      programArgs: ["-c", script],
      cwd,
      projectDir: cwd,
      task: null,
    }
    : {
      ref: name ?? `exec:${basename(argv[0])}`,
      command: argv.map(quoteArg).join(" "),
      args: argv.slice(1),
      program: argv[0],
      programArgs: argv.slice(1),
      cwd,
      projectDir: cwd,
      task: null,
    };
  return await launch(spec, ctx, {
    background: p.values.background === true,
    json: p.values.json === true,
  });
}

/** The last path segment (node:path stays off the run path). */
function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1) || path;
}
