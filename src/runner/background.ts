/**
 * Background runs: a detached supervisor (its own session, no terminal) that
 * runs one execution exactly as a foreground run would and records the end;
 * and the other side of it: kill, wait, and finishing a run whose supervisor
 * died.
 * @module
 */
import { StintError } from "../errors.ts";
import {
  type BackgroundRun,
  type BackgroundStatus,
  getBackgroundRunExact,
  reconcileBackgroundRuns,
  saveBackgroundRun,
} from "../store/background.ts";
import {
  type Execution,
  finishExecution,
  getExecutionExact,
} from "../store/executions.ts";
import { shortId, uuidv7 } from "../store/ids.ts";
import { withStore } from "../store/open.ts";
import { createLogFile, isValidLogId, logPath } from "../store/paths.ts";
import { processGoneReason, processStartTime } from "../store/process.ts";
import { deleteScope } from "../store/vars.ts";
import { journalHasEntries } from "../store/journal.ts";
import {
  backgroundStatusFor,
  journalledBackgroundEnd,
  replayJournal,
} from "../store/run_record.ts";
import { runExecution, type RunResult, type RunSpec } from "./execute.ts";
import { holdStore } from "./recorder.ts";
import type { SignalForwarder } from "./forwarder.ts";
import { type RunParent, runParent } from "./env.ts";
import {
  groupAlive,
  reapGroup,
  signalGroup,
  signalProcess,
  sleep,
} from "./process_group.ts";
import { FORWARDED_SIGNALS, signalExitCode } from "./signals.ts";

/** What the supervisor is told on its command line (never through the environment). */
export interface SupervisePayload {
  /** The background run id. */
  bg: string;
  /** The execution id (also the log id). */
  exec: string;
  /** What to run. */
  spec: RunSpec;
  /** The caller's run and scope (kept out of the supervisor's own environment). */
  parent: RunParent;
}

/** stint's own entry point, for spawning the supervisor. */
const MAIN = new URL("../../main.ts", import.meta.url);

/**
 * Start `spec` in the background: record the run, create its log, spawn a
 * detached supervisor and return without waiting for it.
 */
export function startBackground(
  spec: RunSpec,
  options: { dbPath: string; quiet?: boolean },
): { run: BackgroundRun; logPath: string } {
  const release = holdStore(options.dbPath);
  try {
    return spawnSupervisor(spec, options);
  } finally {
    release();
  }
}

function spawnSupervisor(
  spec: RunSpec,
  options: { dbPath: string; quiet?: boolean },
): { run: BackgroundRun; logPath: string } {
  const { dbPath } = options;
  const bg = shortId();
  const exec = uuidv7();
  const log = logPath(dbPath, exec);
  // Recorded under stint's own pid until the supervisor's is known, so a
  // concurrent `bg list` never sees a running record without a live process.
  // The log exists from the start, so `bg logs -f` can follow at once.
  withStore(dbPath, (db) => {
    createLogFile(dbPath, exec);
    return saveBackgroundRun(db, {
      id: bg,
      ref: spec.ref,
      command: spec.command,
      executionId: exec,
      logId: exec,
      pid: Deno.pid,
      pidStart: processStartTime(Deno.pid),
      status: "running",
      startedAt: Date.now(),
    });
  });

  const env = Deno.env.toObject();
  const payload: SupervisePayload = { bg, exec, spec, parent: runParent(env) };
  // The supervisor is not itself inside the caller's run (it outlives it),
  // so it gets no run ids of its own; the child gets them from the payload.
  for (const k of ["STINT_RUN_ID", "STINT_SCOPE", "STINT_PARENT_RUN_ID"]) {
    delete env[k];
  }
  // One argv string may not exceed 128 KiB (Linux MAX_ARG_STRLEN), and a
  // run's arguments may (a foreground run spreads them over many strings).
  // A big payload goes through a 0600 file next to the log instead.
  let arg = JSON.stringify(payload);
  if (arg.length > PAYLOAD_ARG_MAX) {
    Deno.writeTextFileSync(payloadPath(dbPath, exec), arg, {
      mode: 0o600,
      createNew: true,
    });
    arg = `@${exec}`;
  }
  const main = MAIN.protocol === "file:"
    ? decodeURIComponent(MAIN.pathname)
    : MAIN.href;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        main,
        "--db",
        dbPath,
        ...(options.quiet ? ["--quiet"] : []),
        "bg",
        "__supervise",
        arg,
      ],
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
  } catch (err) {
    removeQuietly(payloadPath(dbPath, exec));
    const msg = `Cannot start the background supervisor: ${
      (err as Error).message.split("\n")[0]
    }`;
    withStore(dbPath, (db) =>
      saveBackgroundRun(db, {
        id: bg,
        ref: spec.ref,
        status: "failed",
        error: msg,
        completedAt: Date.now(),
      }));
    throw new StintError(msg);
  }
  child.unref();
  const run = withStore(dbPath, (db) =>
    saveBackgroundRun(db, {
      id: bg,
      ref: spec.ref,
      pid: child.pid,
      pidStart: processStartTime(child.pid),
      pgid: child.pid,
    }));
  return { run, logPath: log };
}

/** Payloads longer than this go through a file (see spawnSupervisor). */
const PAYLOAD_ARG_MAX = 64 * 1024;

/** Where a big payload for execution `exec` is handed over. */
function payloadPath(dbPath: string, exec: string): string {
  return logPath(dbPath, exec).replace(/\.log$/, ".payload");
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // already gone
  }
}

/**
 * Parse and check the supervisor's payload (it comes from our own argv):
 * JSON, or `@<execution id>` for one handed over in a file in the logs dir,
 * which is read once and removed.
 */
export function parsePayload(
  raw: string | undefined,
  options?: { dbPath: string },
): SupervisePayload {
  let p: SupervisePayload;
  try {
    if (raw?.startsWith("@") && options) {
      const exec = raw.slice(1);
      if (!isValidLogId(exec)) throw new Error("bad payload id");
      const path = payloadPath(options.dbPath, exec);
      const text = Deno.readTextFileSync(path);
      removeQuietly(path);
      p = JSON.parse(text);
      if (p?.exec !== exec) throw new Error("payload of another run");
    } else {
      p = JSON.parse(raw ?? "");
    }
  } catch {
    throw new StintError("Invalid supervisor payload", { exitCode: 2 });
  }
  const s = p?.spec;
  const ok = typeof p?.bg === "string" && /^[0-9a-z]{1,32}$/.test(p.bg) &&
    typeof p.exec === "string" && isValidLogId(p.exec) &&
    typeof s?.ref === "string" && typeof s.program === "string" &&
    Array.isArray(s.programArgs) && typeof s.cwd === "string" &&
    Array.isArray(s.args) && typeof s.command === "string" &&
    typeof p.parent?.scope === "string" &&
    (p.parent.runId === null || typeof p.parent.runId === "string");
  if (!ok) throw new StintError("Invalid supervisor payload", { exitCode: 2 });
  return p;
}

/** The background status an execution's end maps to. */
export function backgroundStatusOf(e: Execution): BackgroundStatus {
  return backgroundStatusFor(e.status);
}

/**
 * The supervisor's work: run the execution (output to the log only) and
 * record the background run's end. Returns the run's exit code.
 */
export async function superviseRun(
  payload: SupervisePayload,
  options: { dbPath: string; forwarder: SignalForwarder },
): Promise<number> {
  const { dbPath } = options;
  let result: RunResult;
  try {
    result = await runExecution(payload.spec, {
      dbPath,
      forwarder: options.forwarder,
      terminal: false,
      id: payload.exec,
      backgroundId: payload.bg,
      parent: payload.parent,
    });
  } catch (err) {
    const msg = (err as Error).message?.split("\n")[0] ?? String(err);
    try {
      withStore(dbPath, (db) =>
        saveBackgroundRun(db, {
          id: payload.bg,
          ref: payload.spec.ref,
          status: "failed",
          error: `Supervisor failed: ${msg}`,
          completedAt: Date.now(),
        }));
    } catch {
      // The store is what failed: with the supervisor gone the run reads lost.
    }
    throw err;
  }
  // The background run's end was recorded (or journalled) with the
  // execution's, in the same transaction.
  return result.exitCode;
}

/** A background run with its execution (absent until the supervisor records it). */
export interface BackgroundState {
  run: BackgroundRun;
  execution: Execution | null;
}

/** Read a background run and its execution by exact id. */
export function readBackground(dbPath: string, id: string): BackgroundState {
  return withStore(dbPath, (db) => {
    const run = getBackgroundRunExact(db, id);
    if (!run) throw new StintError(`Background run ${id} disappeared`);
    const execution = run.executionId
      ? getExecutionExact(db, run.executionId) ?? null
      : null;
    return { run, execution };
  });
}

/** The task's process group, when the execution is running under its own pid. */
function taskGroup(s: BackgroundState): number | null {
  const e = s.execution;
  if (!e || e.status !== "running" || e.pid === null) return null;
  if (e.pid === s.run.pid) return null; // still the supervisor's placeholder
  return e.pid;
}

/**
 * Kill a running background run: `signal` goes to the supervisor (which
 * forwards it to the task's group and records `killed`) or, for signals it
 * does not forward, straight to the task's group. After `graceMs` the group
 * gets SIGKILL; a supervisor that does not record the end in time is killed
 * too and the end is recorded here. Nothing of the group is left running.
 */
export async function killBackground(
  dbPath: string,
  id: string,
  options: { signal: Deno.Signal; graceMs: number },
): Promise<BackgroundState> {
  const { signal } = options;
  let state = readBackground(dbPath, id);
  const supervisor = state.run.pid ?? 0;
  const supervisorAlive = () =>
    processGoneReason(state.run.pid, state.run.pidStart) === null;
  let group = taskGroup(state);

  const forwarded = FORWARDED_SIGNALS.includes(signal) && supervisorAlive();
  if (forwarded) {
    signalProcess(supervisor, signal);
  } else if (group !== null) {
    signalGroup(group, signal);
  } else {
    signalProcess(supervisor, signal);
  }

  const deadline = Date.now() + options.graceMs;
  let escalated = false;
  for (;;) {
    await sleep(100);
    state = readBackground(dbPath, id);
    group = taskGroup(state) ?? group;
    if (state.run.status !== "running" || !supervisorAlive()) break;
    if (Date.now() >= deadline && !escalated) {
      escalated = true;
      if (group !== null) signalGroup(group, "SIGKILL");
      else signalProcess(supervisor, "SIGKILL");
    } else if (Date.now() >= deadline + 5_000) {
      signalProcess(supervisor, "SIGKILL");
      break;
    }
  }

  if (group !== null && groupAlive(group)) {
    signalGroup(group, "SIGKILL");
    await reapGroup(group, { graceMs: 0 });
  }
  state = readBackground(dbPath, id);
  if (!forwarded) {
    // Its own signal, or the SIGKILL that followed it.
    markUserKill(dbPath, state, [signal, "SIGKILL"]);
    state = readBackground(dbPath, id);
  }
  if (state.run.status === "running") {
    finishAbandoned(dbPath, state, {
      status: "killed",
      signal,
      error:
        `Killed by ${signal} (stint bg kill); the supervisor did not record the end`,
    });
    state = readBackground(dbPath, id);
  }
  return state;
}

/**
 * A signal sent straight to the task's group (one the supervisor cannot
 * forward, such as SIGKILL) reads to the supervisor as a death by a signal
 * nobody forwarded, which it records `failed` with 128+n; it was the
 * user's kill, so the record is corrected to `killed` with the signal.
 */
function markUserKill(
  dbPath: string,
  state: BackgroundState,
  sent: Deno.Signal[],
): void {
  const e = state.execution;
  if (!e || e.status !== "failed" || e.signal !== null) return;
  const signal = sent.find((s) => signalExitCode(s) === e.exitCode);
  if (!signal) return; // it ended some other way
  const code = signalExitCode(signal);
  withStore(dbPath, (db) => {
    finishExecution(db, e.id, {
      status: "killed",
      exitCode: code,
      signal,
      error: `Killed by ${signal} (stint bg kill)`,
      completedAt: e.completedAt ?? Date.now(),
    });
    saveBackgroundRun(db, {
      id: state.run.id,
      ref: state.run.ref,
      status: "killed",
      exitCode: code,
      error: `Killed by ${signal} (stint bg kill)`,
      completedAt: state.run.completedAt ?? Date.now(),
    });
  });
}

/**
 * Record the end of a run whose supervisor is gone: the execution (if still
 * running) and the background run, and reclaim the execution's scope.
 */
export function finishAbandoned(
  dbPath: string,
  state: BackgroundState,
  end: { status: "killed" | "lost"; signal: Deno.Signal | null; error: string },
): void {
  const code = end.signal ? signalExitCode(end.signal) : null;
  withStore(dbPath, (db) => {
    const e = state.execution;
    if (e && e.status === "running") {
      finishExecution(db, e.id, {
        status: end.status,
        exitCode: code,
        signal: end.signal,
        error: end.error,
      });
      if (e.scopeId) deleteScope(db, e.scopeId);
    }
    saveBackgroundRun(db, {
      id: state.run.id,
      ref: state.run.ref,
      status: end.status,
      exitCode: code,
      error: end.error,
      completedAt: Date.now(),
    });
  });
}

/**
 * Kill what is left of a lost run's task group (its supervisor died but the
 * task may still run). Returns whether anything was running.
 */
export async function killOrphanedTask(
  dbPath: string,
  state: BackgroundState,
  signal: Deno.Signal,
): Promise<boolean> {
  const e = state.execution;
  if (!e || e.status !== "running" || e.pid === null) return false;
  if (e.pid === state.run.pid || !groupAlive(e.pid)) return false;
  signalGroup(e.pid, signal);
  await reapGroup(e.pid, { graceMs: 3_000 });
  withStore(dbPath, (db) => {
    finishExecution(db, e.id, {
      status: "killed",
      exitCode: signalExitCode(signal),
      signal,
      error:
        `Killed by ${signal} (stint bg kill) after its supervisor was lost`,
    });
    if (e.scopeId) deleteScope(db, e.scopeId);
  });
  return true;
}

/**
 * Wait for a background run to end (reconciling a dead supervisor to
 * `lost`); null when `timeoutMs` passes first. An end its supervisor had to
 * journal (the store could not take it) counts as the end: it is replayed
 * into the store when the store can take it, and read from the journal when
 * it cannot, so the run's exit code comes back either way.
 */
export async function waitBackground(
  dbPath: string,
  id: string,
  options: { timeoutMs?: number },
): Promise<BackgroundRun | null> {
  const deadline = options.timeoutMs === undefined
    ? Infinity
    : Date.now() + options.timeoutMs;
  let delay = 50;
  for (;;) {
    if (journalHasEntries(dbPath)) {
      replayJournal(dbPath);
      // Still there: the store cannot take it yet, but it is the end.
      const journalled = fromJournal(dbPath, id, undefined);
      if (journalled) return journalled;
    }
    let run: BackgroundRun | undefined;
    try {
      run = withStore(dbPath, (db) => {
        reconcileBackgroundRuns(db);
        return getBackgroundRunExact(db, id);
      });
    } catch (err) {
      const journalled = fromJournal(dbPath, id, undefined);
      if (journalled) return journalled;
      throw err;
    }
    if (!run) throw new StintError(`Background run ${id} disappeared`);
    // Judged lost only after its supervisor exited, which it does after
    // journalling an end: so a journalled end is there to be found now.
    if (run.status === "lost") return fromJournal(dbPath, id, run) ?? run;
    if (run.status !== "running") return run;
    const left = deadline - Date.now();
    if (left <= 0) return null;
    await sleep(Math.min(delay, left));
    delay = Math.min(delay * 2, 500);
  }
}

/** Background run `id` as its journalled end has it, or null when none is waiting. */
function fromJournal(
  dbPath: string,
  id: string,
  known: BackgroundRun | undefined,
): BackgroundRun | null {
  const end = journalledBackgroundEnd(dbPath, id);
  if (!end?.background) return null;
  return {
    executionId: end.executionId,
    command: "",
    pid: null,
    pgid: null,
    pidStart: null,
    startedAt: end.finish.completedAt,
    logId: end.noLog ? null : end.executionId,
    hostId: "",
    ...known,
    id,
    ref: end.background.ref,
    status: end.background.status,
    exitCode: end.background.exitCode,
    error: end.finish.error ?? null,
    completedAt: end.finish.completedAt,
  };
}
