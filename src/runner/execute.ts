/**
 * Running one execution: spawn it as the leader of its own session (so one
 * signal reaches everything it starts), record it, capture its output,
 * forward signals, and record the end.
 *
 * When the store is known to be stint's (its header says so), the task is
 * started first and the run recorded while `deno task` boots: the scope
 * and run ids are chosen up front, the log file made and the checks that
 * need no SQLite done, then the child is spawned and only then is the store
 * loaded and the start (scope, record with the task's pid, recorder)
 * written in one transaction. Until that commits the recorder holds the
 * run-start lock (store/run_start.ts), so a process of the run that looks
 * for its scope waits for it. A start that cannot be recorded stops the
 * task (SIGKILL to its group) and fails the run as before: a run is
 * recorded from its start or not at all. A first run (no store yet) and an
 * unmarked file are recorded before the task starts, as they always were.
 * @module
 */
import { mark } from "../trace.ts";
import type { Execution } from "../store/executions.ts";
import { uuidv7 } from "../store/ids.ts";
import { createLogFile, logPath } from "../store/paths.ts";
import { type ProcessId, processStartTime } from "../store/process.ts";
import { precheckStore } from "../store/store_file.ts";
import type { RunRecorder, RunStart } from "./recorder.ts";
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

type Recorders = typeof import("./recorder.ts");

/** The store side of the runner, loaded when the run is first recorded. */
function loadRecorder(): Promise<Recorders> {
  // Computed, so Deno does not load (or walk) the store before the task
  // has been started.
  const specifier = "./recorder.ts";
  return import(specifier);
}

/**
 * Run `spec` to completion and record it. The run is recorded as `running`
 * before stint waits for its task (before the task starts when the store
 * is not known to be stint's yet), and finished on every path.
 */
export async function runExecution(
  spec: RunSpec,
  options: RunOptions,
): Promise<RunResult> {
  const { dbPath } = options;
  const id = options.id ?? uuidv7();
  const env = options.env ?? Deno.env.toObject();
  const parent = options.parent ?? runParent(env);
  const startedAt = Date.now();
  const start: RunStart = {
    id,
    ref: spec.ref,
    command: spec.command,
    args: spec.args,
    projectDir: spec.projectDir,
    task: spec.task,
    parentScope: parent.scope,
    scopeId: uuidv7(startedAt),
    parentId: parent.runId,
    backgroundId: options.backgroundId ?? null,
    rerunOf: spec.rerunOf ?? null,
    matchedTasks: spec.matchedTasks ?? null,
    terminal: options.terminal,
    startedAt,
  };
  const run = new Run(dbPath, start);
  // Throws for a path that cannot be a store, before anything is made.
  const early = !precheckStore(dbPath);
  mark("runner: environment read, store path checked");
  try {
    if (early) await run.begin(null);
    await run.openLog();
    mark("runner: log file created");
    return await run.execute(spec, {
      ...options,
      env: childEnv(env, {
        runId: id,
        scopeId: start.scopeId,
        parentRunId: parent.runId,
        dbPath,
      }, spec.extraEnv),
    });
  } finally {
    run.close();
  }
}

/** One run: its record, its log and its child, from start to end. */
class Run {
  readonly #dbPath: string;
  readonly #start: RunStart;
  #recorders: Recorders | null = null;
  #rec: RunRecorder | null = null;
  #log: LogSink | null = null;
  #release: () => void = () => {};

  constructor(dbPath: string, start: RunStart) {
    this.#dbPath = dbPath;
    this.#start = start;
  }

  /**
   * Record the start (once): the store is loaded and opened, then the
   * scope, the record and its recorder written, with the task's process
   * when it is already running. Throws when it cannot be recorded.
   */
  async begin(task: ProcessId | null): Promise<RunRecorder> {
    if (this.#rec) return this.#rec;
    const { holdStore, RunRecorder } = this.#recorders ??= await loadRecorder();
    mark("runner: store modules loaded");
    this.#rec = RunRecorder.begin(this.#dbPath, this.#start, {
      task,
      committed: () => {
        mark("runner: running record + scope written");
        // The scope exists: whoever waits for it may go on.
        this.#log?.releaseStartLock();
        // Opened before the start's own connection closes, so that close
        // is not the last one (which would checkpoint the WAL).
        this.#release = holdStore(this.#dbPath);
        mark("runner: idle read-only connection opened");
      },
    });
    return this.#rec;
  }

  /**
   * Make the log file (a background run's was made by its starter). When
   * the run is not recorded yet this also takes the run-start lock, held
   * until it is; a log that cannot be made fails a recorded run.
   */
  async openLog(): Promise<void> {
    const { id, backgroundId } = this.#start;
    try {
      this.#log = new LogSink(
        createLogFile(this.#dbPath, id, { mayExist: backgroundId !== null }),
      );
    } catch (err) {
      await this.#rec?.fail((err as Error).message.split("\n")[0]);
      throw err;
    }
    if (!this.#rec) this.#log.holdStartLock();
  }

  /** Spawn, record, wait, and record the end. */
  async execute(
    spec: RunSpec,
    options: RunOptions & { env: Record<string, string> },
  ): Promise<RunResult> {
    const log = this.#log!;
    let outcome: Outcome;
    try {
      outcome = await this.#spawnAndWait(spec, { ...options, log });
    } catch (err) {
      // Never leave the record running behind an error of stint's own.
      log.close();
      await this.#rec?.fail(
        `stint failed while running it: ${
          (err as Error).message?.split("\n")[0] ?? String(err)
        }`,
      );
      throw err;
    } finally {
      log.close();
    }
    mark("runner: output drained");
    const error = [outcome.error, log.error].filter(Boolean).join("; ") ||
      null;
    // Recorded, or journalled: the exit code is the task's either way.
    const execution = await this.#rec!.end({
      status: outcome.status,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      error,
    }, { stintExit: outcome.stintExit, started: outcome.started });
    mark("runner: end recorded, scope dropped");
    return {
      execution,
      exitCode: outcome.stintExit,
      spawnError: outcome.spawnError,
    };
  }

  /** Release what the run holds (after the end is recorded). */
  close(): void {
    this.#log?.close();
    this.#release();
    this.#release = () => {};
  }

  async #spawnAndWait(
    spec: RunSpec,
    options: RunOptions & { env: Record<string, string>; log: LogSink },
  ): Promise<Outcome> {
    const { forwarder } = options;
    if (forwarder.received) {
      // Interrupted before the child existed: nothing to run or forward.
      await this.#beginUnstarted();
      return {
        status: "killed",
        exitCode: null,
        signal: forwarder.received,
        error:
          `Interrupted by ${forwarder.received} before the command started`,
        stintExit: signalExitCode(forwarder.received),
        spawnError: null,
        started: false,
      };
    }
    const started = await spawnChild(spec, options);
    mark("runner: child spawned");
    if ("failure" in started) {
      await this.#beginUnstarted();
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
    forwarder.attach(child.pid);
    try {
      // Read at once: a quick child may be gone soon after.
      const task = { pid: child.pid, pidStart: processStartTime(child.pid) };
      const pidError = await this.#recordTask(child, task);
      mark("runner: task recorded");
      return await waitForChild(child, { ...options, pidError });
    } finally {
      child.close();
    }
  }

  /** A run whose task never started is recorded all the same. */
  async #beginUnstarted(): Promise<void> {
    try {
      await this.begin(null);
    } catch (err) {
      this.#dropLog();
      throw err;
    } finally {
      this.#log?.releaseStartLock();
    }
  }

  /**
   * Remove the log of a run whose start could not be recorded: no record
   * names it. A background run's log was made, and is named, by its
   * starter's record, so it stays.
   */
  #dropLog(): void {
    this.#log?.close();
    if (this.#start.backgroundId !== null) return;
    try {
      Deno.removeSync(logPath(this.#dbPath, this.#start.id));
    } catch {
      // already gone
    }
  }

  /**
   * Record the started task: with the start itself when the run is not
   * recorded yet (the child boots meanwhile), else its pid. When the start
   * cannot be recorded the task is stopped, its log removed and the error
   * thrown. Returns the pid's write error, if any (the run goes on).
   */
  async #recordTask(child: Spawned, task: ProcessId): Promise<string | null> {
    if (this.#rec) return this.#rec.recordTask(task);
    try {
      await this.begin(task);
      return null;
    } catch (err) {
      // Not recorded, so not run: stop it before it does anything more.
      signalGroup(child.pid, "SIGKILL");
      await child.status;
      await drain(child.pumps, child.pid);
      this.#dropLog();
      throw err;
    } finally {
      this.#log?.releaseStartLock();
    }
  }
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

/** Wait for a started child, forwarding signals, and say how it ended. */
async function waitForChild(
  child: Spawned,
  options: RunOptions & { pidError: string | null },
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

  const status = await child.status;
  mark("runner: child ran (deno task)");
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
  return exitOutcome(status, received, options.pidError);
}

/**
 * The outcome of a child that ran. After a forwarded signal the run is
 * `killed` with that signal, and stint exits as deno task does: with the
 * task's own code when it handled the signal and exited (a trap that does
 * `exit 7`), else 128+n of the signal. A child that died of a signal
 * nobody forwarded failed, with 128+n.
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
    // A death by a signal stint did not forward (a crash, the command's
    // own kill, another user's): a failure with the shell's 128+n, as
    // `deno task` reports it for a task run; only an interruption by the
    // user (above) is `killed`.
    return {
      status: "failed",
      exitCode: status.code,
      signal: null,
      error: joinErrors(
        `Died of ${status.signal} (exit code ${status.code})`,
        pidError,
      ),
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
  let settled = false;
  const all = Promise.all(pumps.map((p) => p.done)).then(() => settled = true);
  // The pipes usually reach EOF within a turn or two of the event loop
  // after the exit status. Wait for that without a timer (a process's first
  // timer costs Deno ~7 ms to set up): an async lstat takes one turn.
  for (let turn = 0; turn < 8 && !settled; turn++) {
    await Promise.race([all, Deno.lstat("/").catch(() => {})]);
  }
  if (settled) return;
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
