/**
 * Running one execution: record it, give the child its scope and ids, spawn
 * it as the leader of its own session (so one signal reaches everything it
 * starts), capture its output, forward signals, and record the end.
 * @module
 */
import { type Execution, setExecutionPid } from "../store/executions.ts";
import { openStore, withStore } from "../store/open.ts";
import { processStartTime } from "../store/process.ts";
import { uuidv7 } from "../store/ids.ts";
import { RunRecorder } from "./recorder.ts";
import { LogSink, type Pump } from "./capture.ts";
import { childEnv, type RunParent, runParent } from "./env.ts";
import type { SignalForwarder } from "./forwarder.ts";
import { groupAlive, reapGroup, signalGroup, sleep } from "./process_group.ts";
import { type ChildExit, spawnChild, type Spawned } from "./spawn.ts";
import { signalExitCode } from "./signals.ts";

/** What to run and how to record it. */
export interface RunSpec {
  /** The ref the run is recorded under (`<project>:<task>` or the exec name). */
  ref: string;
  /** The command line shown in history. */
  command: string;
  /** The user's own arguments (recorded). */
  args: string[];
  /** The program to spawn (never through a shell unless the user asked). */
  program: string;
  /** Its arguments. */
  programArgs: string[];
  /** The directory the child runs in. */
  cwd: string;
  /** The project directory recorded with the run. */
  projectDir: string | null;
  /** The task name, for task runs. */
  task: string | null;
  /** Extra variables for the child (after stint's own environment). */
  extraEnv?: Record<string, string>;
  /** The execution this run repeats (`stint rerun`), recorded with it. */
  rerunOf?: string | null;
  /** For a wildcard task run: the task names it matched (recorded). */
  matchedTasks?: string[] | null;
}

/** How to run it. */
export interface RunOptions {
  /** The store file. */
  dbPath: string;
  /** The forwarder, installed by the caller before this is called. */
  forwarder: SignalForwarder;
  /** Copy output to this process's stdout/stderr as well as the log. */
  terminal: boolean;
  /**
   * Run the child in a pseudo-terminal (stint is on a terminal; the
   * output goes to stdout). Falls back to pipes when no pty can be had.
   */
  pty?: boolean;
  /** A pre-assigned execution id (background runs). */
  id?: string;
  /** The background run this execution belongs to. */
  backgroundId?: string | null;
  /** stint's own environment (default: Deno.env). */
  env?: Record<string, string>;
  /** The caller's run and scope (default: read from `env`). */
  parent?: RunParent;
  /** How long a signalled child gets before its group is SIGKILLed (default 10 s). */
  killGraceMs?: number;
}

/** How a run ended. */
export interface RunResult {
  /** The finished record. */
  execution: Execution;
  /** The code stint should exit with (the child's, or 128+n for a signal). */
  exitCode: number;
  /** Set when the program could not be started. */
  spawnError: string | null;
}

/**
 * Run `spec` to completion and record it. The record is written as
 * `running` before the child starts (with stint's pid until the child's is
 * known), so a run is never invisible, and finished on every path.
 */
export async function runExecution(
  spec: RunSpec,
  options: RunOptions,
): Promise<RunResult> {
  const { dbPath } = options;
  const id = options.id ?? uuidv7();
  const env = options.env ?? Deno.env.toObject();
  const parent = options.parent ?? runParent(env);

  const release = holdStore(dbPath);
  try {
    return await record(spec, { ...options, id, env, parent });
  } finally {
    release();
  }
}

/**
 * Keep an idle read-only connection open while the run records itself.
 * SQLite checkpoints the WAL (two fsyncs, ~10 ms on a slow disk) whenever
 * the last connection to a file closes; with this one open, the run's short
 * per-operation connections close without that, and closing a read-only
 * connection never checkpoints. It holds no lock and no transaction, so
 * other processes read, write and checkpoint as usual. The WAL is left for
 * the next writer; durability is that of WAL with synchronous=NORMAL.
 */
export function holdStore(dbPath: string): () => void {
  try {
    Deno.statSync(dbPath);
  } catch {
    return () => {}; // a first run creates the file with its first write
  }
  try {
    const db = openStore(dbPath, { readOnly: true });
    return () => {
      try {
        db.close();
      } catch {
        // already closed
      }
    };
  } catch {
    return () => {};
  }
}

async function record(
  spec: RunSpec,
  options: RunOptions & {
    id: string;
    env: Record<string, string>;
    parent: RunParent;
  },
): Promise<RunResult> {
  const { dbPath, id, env, parent } = options;
  const rec = RunRecorder.begin(dbPath, {
    id,
    ref: spec.ref,
    command: spec.command,
    args: spec.args,
    projectDir: spec.projectDir,
    task: spec.task,
    parentScope: parent.scope,
    parentId: parent.runId,
    backgroundId: options.backgroundId ?? null,
    rerunOf: spec.rerunOf ?? null,
    matchedTasks: spec.matchedTasks ?? null,
    terminal: options.terminal,
  });
  let log: LogSink;
  try {
    log = new LogSink(rec.createLog());
  } catch (err) {
    await rec.fail((err as Error).message.split("\n")[0]);
    throw err;
  }
  let outcome: Outcome;
  try {
    outcome = await spawnAndWait(spec, {
      ...options,
      log,
      env: childEnv(env, {
        runId: id,
        scopeId: rec.scopeId,
        parentRunId: parent.runId,
        dbPath,
      }, spec.extraEnv),
      id,
    });
  } catch (err) {
    // Never leave the record running behind an error of stint's own.
    log.close();
    await rec.fail(
      `stint failed while running it: ${
        (err as Error).message?.split("\n")[0] ?? String(err)
      }`,
    );
    throw err;
  } finally {
    log.close();
  }

  const error = [outcome.error, log.error].filter(Boolean).join("; ") || null;
  // Recorded, or journalled: the exit code is the task's either way.
  const execution = await rec.end({
    status: outcome.status,
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    error,
  }, { stintExit: outcome.stintExit, started: outcome.started });
  return {
    execution,
    exitCode: outcome.stintExit,
    spawnError: outcome.spawnError,
  };
}

interface Outcome {
  status: "succeeded" | "failed" | "killed";
  exitCode: number | null;
  signal: string | null;
  error: string | null;
  stintExit: number;
  spawnError: string | null;
  /** False when no child was ever spawned. */
  started?: boolean;
}

async function spawnAndWait(
  spec: RunSpec,
  options: RunOptions & {
    log: LogSink;
    env: Record<string, string>;
    id: string;
  },
): Promise<Outcome> {
  const { forwarder } = options;
  if (forwarder.received) {
    // Interrupted before the child existed: nothing to run or forward.
    return {
      status: "killed",
      exitCode: null,
      signal: forwarder.received,
      error: `Interrupted by ${forwarder.received} before the command started`,
      stintExit: signalExitCode(forwarder.received),
      spawnError: null,
      started: false,
    };
  }
  const started = await spawnChild(spec, options);
  if ("failure" in started) {
    const { message, code } = started.failure;
    return {
      status: "failed",
      exitCode: code,
      signal: null,
      error: message,
      stintExit: code,
      spawnError: message,
      started: false,
    };
  }
  const child = started.spawned;
  const pgid = child.pid;
  forwarder.attach(pgid);
  try {
    return await waitForChild(child, options);
  } finally {
    child.close();
  }
}

/** Wait for a started child, forwarding signals, and say how it ended. */
async function waitForChild(
  child: Spawned,
  options: RunOptions & { id: string },
): Promise<Outcome> {
  const { forwarder } = options;
  const pgid = child.pid;
  let exited = false;
  let escalation: ReturnType<typeof setTimeout> | undefined;
  forwarder.signalled().then(() => {
    if (exited) return;
    escalation = setTimeout(
      () => signalGroup(pgid, "SIGKILL"),
      options.killGraceMs ?? 10_000,
    );
  });

  // Read before the store is opened: a quick child may be gone soon after.
  const pidStart = processStartTime(child.pid);
  let pidError: string | null = null;
  try {
    withStore(
      options.dbPath,
      (db) => setExecutionPid(db, options.id, { pid: child.pid, pidStart }),
    );
  } catch (err) {
    // The run goes on; its recorder (this process) is still alive.
    pidError = `Could not record the child's pid: ${
      (err as Error).message.split("\n")[0]
    }`;
  }

  const status = await child.status;
  exited = true;
  // A signal that arrives after the task ended did not interrupt it.
  const received = forwarder.received;
  if (escalation !== undefined) clearTimeout(escalation);
  if (received) {
    // Whatever ignored the forwarded signal must not outlive the run.
    await reapGroup(pgid, { graceMs: 2_000 });
  }
  await drain(child.pumps, pgid);
  forwarder.detach();
  return exitOutcome(status, received, pidError);
}

/**
 * The outcome of a child that ran. After a forwarded signal the run is
 * `killed` with that signal, and stint exits as deno task does: with the
 * task's own code when it handled the signal and exited (a trap that does
 * `exit 7`), else 128+n of the signal.
 */
function exitOutcome(
  status: ChildExit,
  received: Deno.Signal | null,
  pidError: string | null,
): Outcome {
  if (received) {
    return {
      status: "killed",
      exitCode: status.code,
      signal: received,
      error: joinErrors(`Interrupted by ${received}`, pidError),
      stintExit: status.signal ? signalExitCode(received) : status.code,
      spawnError: null,
    };
  }
  if (status.signal) {
    return {
      status: "killed",
      exitCode: status.code,
      signal: status.signal,
      error: joinErrors(`Killed by ${status.signal}`, pidError),
      stintExit: status.code,
      spawnError: null,
    };
  }
  return {
    status: status.code === 0 ? "succeeded" : "failed",
    exitCode: status.code,
    signal: null,
    error: pidError,
    stintExit: status.code,
    spawnError: null,
  };
}

function joinErrors(a: string, b: string | null): string {
  return b ? `${a}; ${b}` : a;
}

/**
 * Wait for both pipes to reach EOF. A process that left the group (a
 * daemon) may hold them open forever; once the group is empty for a second,
 * stop reading so the run can be recorded.
 */
async function drain(pumps: Pump[], pgid: number): Promise<void> {
  const all = Promise.all(pumps.map((p) => p.done)).then(() => true);
  // The pipes usually reach EOF before the exit status arrives. Skip the
  // watchdog then: a process's first timer costs Deno ~7 ms to set up.
  if (pumps.every((p) => p.finished())) {
    await all;
    return;
  }
  let emptySince: number | null = null;
  for (;;) {
    if (await Promise.race([all, sleep(200).then(() => false)])) return;
    if (groupAlive(pgid)) {
      emptySince = null;
      continue;
    }
    emptySince ??= Date.now();
    if (Date.now() - emptySince >= 1_000) {
      await Promise.all(pumps.map((p) => p.cancel()));
      return;
    }
  }
}
