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
 * for its scope waits for it, and a start sidecar (store/start_sidecar.ts)
 * says the run exists should stint be killed before it commits. The start
 * waits for a locked store without blocking the event loop, so the task's
 * output flows and a Ctrl-C reaches it at once. A start that cannot be
 * recorded (locked past the busy timeout, read-only, corrupt, full, no
 * store to be had) never stops the task: one line says so, the task runs
 * to its end, stint exits with its code, and the whole run is recorded
 * then, or journalled (rules 1 and 2). Only a store path that is not
 * stint's (NotOursError) is refused, before anything runs. A first run (no
 * store yet) and an unmarked file are recorded before the task starts.
 * @module
 */
import { lazyImport } from "../lazy_import.ts";
import { mark } from "../trace.ts";
import type { Execution } from "../store/executions.ts";
import { uuidv7 } from "../store/ids.ts";
import { NotOursError } from "../errors.ts";
import { createLogFile, logPath } from "../store/paths.ts";
import {
  removeStartSidecar,
  writeStartSidecar,
} from "../store/start_sidecar.ts";
import { type ProcessId, processStartTime } from "../store/process.ts";
import { precheckStore } from "../store/store_file.ts";
import type { RunRecorder, RunStart } from "./recorder.ts";
import type { StartFacts } from "../store/start_sidecar.ts";
import { LogSink } from "./capture.ts";
import { drain, type Outcome, waitForChild } from "./child_wait.ts";
import { childEnv, type RunParent, runParent } from "./env.ts";
import type { SignalForwarder } from "./forwarder.ts";
import { signalGroup } from "./process_group.ts";
import { spawnChild, type Spawned } from "./spawn.ts";
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
  // Lazy, so Deno does not load (or walk) the store before the task has
  // been started.
  return lazyImport(new URL("./recorder.ts", import.meta.url));
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
    // deno task resolves --cwd, -c, --env-file against it (a rerun too).
    callerCwd: spec.cwd,
    terminal: options.terminal,
    startedAt,
  };
  const run = new Run(dbPath, start);
  // Throws for a path that cannot be a store, before anything is made.
  const early = !precheckStore(dbPath);
  mark("runner: environment read, store path checked");
  try {
    if (early) await run.beginOrDefer(null);
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
  /** Why the start could not be recorded (the run goes on); else null. */
  #deferred: string | null = null;
  /** The task's process, once spawned. */
  #task: ProcessId | null = null;
  /** Whether this run wrote a start sidecar (removed once recorded). */
  #sidecar = false;

  constructor(dbPath: string, start: RunStart) {
    this.#dbPath = dbPath;
    this.#start = start;
  }

  /**
   * Record the start (once): the store is loaded and opened, then the
   * scope, the record and its recorder written, with the task's process
   * when it is already running. Throws when it cannot be recorded.
   */
  async begin(
    task: ProcessId | null,
    interrupted: () => boolean = () => false,
  ): Promise<RunRecorder> {
    if (this.#rec) return this.#rec;
    const { holdStore, beginWaiting } = this.#recorders ??=
      await loadRecorder();
    mark("runner: store modules loaded");
    this.#rec = await beginWaiting(this.#dbPath, this.#start, {
      task,
      interrupted,
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
    if (this.#sidecar) removeStartSidecar(this.#dbPath, this.#start.id);
    return this.#rec;
  }

  /**
   * Record the start, or, when the store cannot take it, say so in one
   * line and go on without a record until the end (rules 1 and 2). A
   * store that is not stint's is refused (thrown).
   */
  async beginOrDefer(
    task: ProcessId | null,
    interrupted?: () => boolean,
  ): Promise<void> {
    if (this.#rec || this.#deferred !== null) return;
    try {
      await this.begin(task, interrupted);
    } catch (err) {
      if (err instanceof NotOursError || !this.#recorders) throw err;
      const why = firstClause(err);
      this.#deferred = why;
      // Nothing to wait for: whoever looks for the run's scope goes on.
      this.#log?.releaseStartLock();
      const warn = this.#recorders.runWarner({
        terminal: this.#start.terminal,
        logPath: logPath(this.#dbPath, this.#start.id),
      });
      warn(
        `stint: could not record the start of this run (${why}); the task goes on and the run is recorded when it ends`,
      );
    }
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
      if (this.#deferred !== null && !(err instanceof NotOursError)) {
        // No store and no log dir: the task still runs, its output only
        // to the terminal (the start's warning said it is not recorded).
        this.#log = new LogSink(null);
        return;
      }
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
    const finish = {
      status: outcome.status,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      error,
      // The task's end, not the moment the store took it (it may have had
      // to wait for a locked store).
      completedAt: outcome.endedAt,
    };
    // Recorded, or journalled: the exit code is the task's either way.
    const execution = this.#rec
      ? await this.#rec.end(finish, {
        stintExit: outcome.stintExit,
        started: outcome.started,
      })
      : await this.#recorders!.recordUnstartedRun(this.#dbPath, this.#start, {
        task: this.#task,
        finish,
        stintExit: outcome.stintExit,
        started: outcome.started !== false,
        hurry: options.forwarder.received !== null,
      });
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
    if (!this.#rec && this.#deferred === null) {
      // Before the spawn: should stint be killed before the start is
      // recorded, a reader still finds the run (start_sidecar.ts).
      this.#sidecar = writeStartSidecar(this.#dbPath, this.#sidecarFacts());
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
    // Whether stint had been signalled when the child ended: a signal
    // that comes later (while the start or end waits for the store) did
    // not interrupt it.
    const exit = child.status.then((status) => ({
      status,
      received: forwarder.received,
      at: Date.now(),
    }));
    try {
      // Read at once: a quick child may be gone soon after.
      const task = { pid: child.pid, pidStart: processStartTime(child.pid) };
      this.#task = task;
      const pidError = await this.#recordTask(child, task, forwarder);
      mark("runner: task recorded");
      return await waitForChild(child, exit, { ...options, pidError });
    } finally {
      child.close();
    }
  }

  /** What the start sidecar says about this run. */
  #sidecarFacts(): StartFacts {
    const s = this.#start;
    return {
      v: 1,
      db: this.#dbPath,
      id: s.id,
      ref: s.ref,
      command: s.command,
      args: s.args ?? [],
      projectDir: s.projectDir ?? null,
      task: s.task ?? null,
      callerCwd: s.callerCwd ?? null,
      parentScope: s.parentScope,
      scopeId: s.scopeId,
      parentId: s.parentId ?? null,
      backgroundId: s.backgroundId,
      rerunOf: s.rerunOf ?? null,
      matchedTasks: s.matchedTasks ?? null,
      startedAt: s.startedAt ?? Date.now(),
      logId: s.id,
      recorder: { pid: Deno.pid, pidStart: processStartTime(Deno.pid) },
    };
  }

  /** A run whose task never started is recorded all the same. */
  async #beginUnstarted(): Promise<void> {
    try {
      await this.beginOrDefer(null);
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
   * recorded yet (the child boots meanwhile), else its pid. A start the
   * store cannot take now is deferred to the end (the task goes on); only
   * a store that is not stint's stops the task (its log removed, the error
   * thrown). Returns the pid's write error, if any (the run goes on).
   */
  async #recordTask(
    child: Spawned,
    task: ProcessId,
    forwarder: SignalForwarder,
  ): Promise<string | null> {
    if (this.#rec) return this.#rec.recordTask(task);
    if (this.#deferred !== null) {
      this.#log?.releaseStartLock();
      return null;
    }
    try {
      await this.beginOrDefer(
        task,
        () => forwarder.received !== null,
      );
      return null;
    } catch (err) {
      // Not stint's store: stop the task before it does anything more.
      signalGroup(child.pid, "SIGKILL");
      await child.status;
      await drain(child.pumps, child.pid);
      this.#dropLog();
      if (this.#sidecar) removeStartSidecar(this.#dbPath, this.#start.id);
      throw err;
    } finally {
      this.#log?.releaseStartLock();
    }
  }
}

/** The first clause of an error, for a warning that must stay one line. */
function firstClause(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split("\n")[0].split(";")[0];
}
