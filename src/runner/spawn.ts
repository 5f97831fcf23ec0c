/**
 * Starting a run's child: as the leader of a new session (so one signal to
 * its process group reaches everything it starts), with its output through
 * pipes, or in a pseudo-terminal when stint is on a terminal.
 * @module
 */
import { lazyImport } from "../lazy_import.ts";
import {
  type LogSink,
  type Pump,
  pump,
  stdioWriter,
  TerminalSink,
} from "./capture.ts";
import type { SignalForwarder } from "./forwarder.ts";

/** What to start (a run's spec has these). */
export interface SpawnTarget {
  /** The program (never through a shell unless the user asked). */
  program: string;
  /** Its arguments. */
  programArgs: string[];
  /** The directory it runs in. */
  cwd: string;
}

/** How a child ended: its exit code (128+n for a signal death) and signal. */
export interface ChildExit {
  code: number;
  signal: Deno.Signal | null;
}

/** A started child. */
export interface Spawned {
  /** Its pid, which is also its process group id. */
  pid: number;
  /** Resolves when it exits. */
  status: Promise<ChildExit>;
  /** The copies of its output. */
  pumps: Pump[];
  /** Release what the child used (after its output is drained). */
  close(): void;
}

/** A program that could not be started. */
export interface StartFailure {
  /** One line naming the program and why. */
  message: string;
  /** 127 (not found) or 126 (not executable), as a shell has them. */
  code: number;
}

/** Where the child's output goes and how it is started. */
export interface SpawnOptions {
  /** The run's log. */
  log: LogSink;
  /** The child's whole environment. */
  env: Record<string, string>;
  /** Copy output to this process's stdout/stderr as well. */
  terminal: boolean;
  /** Run it in a pseudo-terminal. */
  pty?: boolean;
  /** Forwards signals; a pty records the signal keys typed through it. */
  forwarder: SignalForwarder;
}

/**
 * Start the child in a pseudo-terminal (`options.pty`; pipes when none can
 * be had) or through pipes, as the leader of a new session either way.
 */
export async function spawnChild(
  spec: SpawnTarget,
  options: SpawnOptions,
): Promise<{ spawned: Spawned } | { failure: StartFailure }> {
  const missing = options.pty
    ? programProblem(spec.program, options.env)
    : null;
  if (missing) return { failure: cannotStart(spec, missing) };
  if (options.pty) {
    // Loaded only on this path (FFI; node-pty's binary off Linux), through
    // a computed specifier, so the pipe path does not even walk it.
    const { spawnInPty } = await lazyImport<typeof import("./pty.ts")>(
      new URL("./pty.ts", import.meta.url),
    );
    try {
      const started = await spawnInPty({
        program: spec.program,
        args: spec.programArgs,
        cwd: spec.cwd,
        env: options.env,
        log: options.log,
        terminal: options.terminal
          ? new TerminalSink(stdioWriter("stdout"))
          : undefined,
        forwarder: options.forwarder,
      });
      if ("spawned" in started) return started;
      warnOnce(
        `no pseudo-terminal for the task (${started.unavailable}); using pipes`,
      );
    } catch (err) {
      return { failure: cannotStart(spec, err) };
    }
  }
  try {
    return { spawned: spawnPiped(spec, options) };
  } catch (err) {
    return { failure: cannotStart(spec, err) };
  }
}

/** The child as the leader of a new session, its output through pipes. */
function spawnPiped(spec: SpawnTarget, options: SpawnOptions): Spawned {
  const child = new Deno.Command(spec.program, {
    args: spec.programArgs,
    cwd: spec.cwd,
    env: options.env,
    clearEnv: true,
    stdin: "inherit",
    stdout: "piped",
    stderr: "piped",
    // setsid: the child leads a new session and process group.
    detached: true,
  }).spawn();
  const sink = (which: "stdout" | "stderr") =>
    options.terminal ? new TerminalSink(() => stdioWriter(which)) : undefined;
  return {
    pid: child.pid,
    status: child.status.then((s) => ({ code: s.code, signal: s.signal })),
    pumps: [
      pump(child.stdout, { log: options.log, terminal: sink("stdout") }),
      pump(child.stderr, { log: options.log, terminal: sink("stderr") }),
    ],
    close() {},
  };
}

/** Why a program could not be started, and the exit code that says so. */
function cannotStart(spec: SpawnTarget, err: unknown): StartFailure {
  const [reason, code] = err instanceof Deno.errors.NotFound
    ? ["command not found", 127]
    : err instanceof Deno.errors.PermissionDenied
    ? ["permission denied", 126]
    : [(err as Error).message.split("\n")[0], 127];
  return { message: `Cannot run "${spec.program}": ${reason}`, code };
}

/**
 * Why `program` cannot be executed (found on the child's PATH as execvp
 * would), as the error a spawn would throw; null when it can. forkpty's
 * child would only print execvp's failure into the pty and exit 1.
 */
function programProblem(
  program: string,
  env: Record<string, string>,
): Error | null {
  const dirs = program.includes("/")
    ? [""]
    : (env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":");
  let denied = false;
  for (const dir of dirs) {
    const path = dir === "" ? program : `${dir || "."}/${program}`;
    try {
      const info = Deno.statSync(path);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return null;
      if (info.isFile || info.isDirectory) denied = true;
    } catch {
      // not there
    }
  }
  return denied
    ? new Deno.errors.PermissionDenied(program)
    : new Deno.errors.NotFound(program);
}

let warned = false;

function warnOnce(message: string): void {
  if (warned) return;
  warned = true;
  try {
    Deno.stderr.writeSync(new TextEncoder().encode(`stint: ${message}\n`));
  } catch {
    // no stderr
  }
}
