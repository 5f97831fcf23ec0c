/**
 * The dashboard's only writes: kill a run (a background run the way
 * `stint bg kill` does; a foreground run by signalling its stint, which
 * forwards it to the task's group and records the end, or the group itself
 * when that stint is gone) and rerun one (a new background run
 * of the same task or command and arguments). Only this host's runs: pids
 * of another host mean nothing here.
 * @module
 */
import { StintError } from "../errors.ts";
import {
  killBackground,
  killOrphanedTask,
  readBackground,
  startBackground,
} from "../runner/background.ts";
import {
  groupAlive,
  reapGroup,
  signalGroup,
  signalProcess,
  sleep,
} from "../runner/process_group.ts";
import { rerunSpec } from "../runner/rerun.ts";
import {
  getBackgroundRun,
  getBackgroundRunExact,
  reconcileBackgroundRuns,
} from "../store/background.ts";
import {
  type Execution,
  getExecution,
  getExecutionExact,
  getRecorder,
  reconcileExecutions,
} from "../store/executions.ts";
import { hostId } from "../store/meta.ts";
import { withStore } from "../store/open.ts";
import { processGoneReason } from "../store/process.ts";

/** How long a kill may take before the response (the kill goes on after it). */
const ANSWER_WITHIN_MS = 3_000;
/** What a signalled run gets before SIGKILL, as `stint bg kill` gives it. */
const GRACE_MS = 10_000;

/** The result of an action, for the page or a script. */
export interface ActionResult {
  ok: boolean;
  message: string;
  /** The execution to show next (the rerun's, or the killed one). */
  executionId: string | null;
  backgroundId: string | null;
}

/** An action that cannot be done (409: the run's state forbids it). */
export class ActionRefused extends StintError {
  /** Build one. */
  constructor(message: string) {
    super(message, { exitCode: 1 });
    this.name = "ActionRefused";
  }
}

function here(dbPath: string): string {
  return withStore(dbPath, (db) => hostId(db));
}

/** Kill the execution `id` (a unique prefix works). */
export async function killRun(
  dbPath: string,
  id: string,
): Promise<ActionResult> {
  const e = withStore(dbPath, (db) => {
    reconcileExecutions(db);
    return getExecution(db, id);
  });
  if (e.backgroundId) {
    const bg = withStore(
      dbPath,
      (db) => getBackgroundRunExact(db, e.backgroundId!),
    );
    if (bg) return await killBackgroundRun(dbPath, bg.id);
  }
  refuseUnlessRunningHere(dbPath, e);
  const pid = e.pid!;
  if (processGoneReason(pid, e.pidStart) !== null && !groupAlive(pid)) {
    throw new ActionRefused(
      `Run ${e.id} (${e.ref}) has no live process left; it will be recorded lost`,
    );
  }
  // To the run's own stint while it lives: it forwards the signal to the
  // task's group and records `killed`, as for a Ctrl-C (a signal straight
  // to the group would read to it as the task's own death, `failed`).
  const recorder = withStore(dbPath, (db) => getRecorder(db, e.id));
  if (
    recorder && recorder.pid !== pid &&
    processGoneReason(recorder.pid, recorder.pidStart) === null
  ) signalProcess(recorder.pid, "SIGTERM");
  else signalGroup(pid, "SIGTERM");
  // The run's own stint records the end; make sure the group goes.
  reapGroup(pid, { graceMs: GRACE_MS }).catch(() => {});
  const after = await waitForEnd(dbPath, e.id);
  return {
    ok: true,
    message: after && after.status !== "running"
      ? `Killed ${e.ref} (${after.status})`
      : `Sent SIGTERM to ${e.ref}; SIGKILL follows in ${
        GRACE_MS / 1000
      }s if it does not stop`,
    executionId: e.id,
    backgroundId: null,
  };
}

function refuseUnlessRunningHere(dbPath: string, e: Execution): void {
  if (e.status !== "running") {
    throw new ActionRefused(
      `Run ${e.id} (${e.ref}) already ended (${e.status}); nothing to kill`,
    );
  }
  const self = here(dbPath);
  if (e.hostId !== self) {
    throw new ActionRefused(
      `Run ${e.id} (${e.ref}) runs on host ${e.hostId}; kill it there`,
    );
  }
  if (e.pid === null) {
    throw new ActionRefused(`Run ${e.id} (${e.ref}) has no recorded pid yet`);
  }
}

async function waitForEnd(
  dbPath: string,
  id: string,
): Promise<Execution | undefined> {
  const deadline = Date.now() + ANSWER_WITHIN_MS;
  for (;;) {
    const e = withStore(dbPath, (db) => {
      reconcileExecutions(db);
      return getExecutionExact(db, id);
    });
    if (!e || e.status !== "running" || Date.now() > deadline) return e;
    await sleep(100);
  }
}

/** Kill the background run `id` (a unique prefix works), as `stint bg kill` does. */
export async function killBackgroundRun(
  dbPath: string,
  id: string,
): Promise<ActionResult> {
  const r = withStore(dbPath, (db) => {
    reconcileBackgroundRuns(db);
    reconcileExecutions(db);
    return getBackgroundRun(db, id);
  });
  if (r.hostId !== here(dbPath)) {
    throw new ActionRefused(
      `Background run ${r.id} (${r.ref}) runs on host ${r.hostId}; kill it there`,
    );
  }
  const done = (message: string): ActionResult => ({
    ok: true,
    message,
    executionId: r.executionId,
    backgroundId: r.id,
  });
  if (r.status === "lost") {
    const state = readBackground(dbPath, r.id);
    if (await killOrphanedTask(dbPath, state, "SIGTERM")) {
      return done(`Killed what was left of lost background run ${r.id}`);
    }
  }
  if (r.status !== "running") {
    throw new ActionRefused(
      `Background run ${r.id} (${r.ref}) already ended (${r.status}); nothing to kill`,
    );
  }
  const kill = killBackground(dbPath, r.id, {
    signal: "SIGTERM",
    graceMs: GRACE_MS,
  });
  kill.catch(() => {});
  const end = await Promise.race([
    kill,
    sleep(ANSWER_WITHIN_MS).then(() => null),
  ]);
  return done(
    end
      ? `Killed background run ${r.id} (${r.ref}): ${end.run.status}`
      : `Sent SIGTERM to background run ${r.id} (${r.ref}); SIGKILL follows in ${
        GRACE_MS / 1000
      }s if it does not stop`,
  );
}

/**
 * Start the execution `id` again as a background run (same task or
 * command, arguments, directory and ref). Returns the new run's ids.
 */
export function rerunRun(dbPath: string, id: string): ActionResult {
  const e = withStore(dbPath, (db) => getExecution(db, id));
  if (e.hostId !== here(dbPath)) {
    throw new ActionRefused(
      `Run ${e.id} (${e.ref}) was recorded on host ${e.hostId}; rerun it there`,
    );
  }
  if (!e.projectDir) {
    throw new ActionRefused(
      `Run ${e.id} (${e.ref}) has no recorded directory; it cannot be rerun`,
    );
  }
  const spec = rerunSpec(e, {
    denoPath: Deno.execPath(),
    callerCwd: e.projectDir,
  });
  try {
    if (!Deno.statSync(spec.cwd).isDirectory) {
      throw new Error("not a directory");
    }
  } catch {
    throw new ActionRefused(
      `The directory of run ${e.id} (${spec.cwd}) is gone; it cannot be rerun`,
    );
  }
  const { run } = startBackground(spec, { dbPath, quiet: true });
  return {
    ok: true,
    message: `Started ${e.ref} again as background run ${run.id}`,
    executionId: run.executionId,
    backgroundId: run.id,
  };
}

/** The JSON of an action result. */
export function actionToJson(r: ActionResult): Record<string, unknown> {
  return {
    ok: r.ok,
    message: r.message,
    execution_id: r.executionId,
    background_id: r.backgroundId,
  };
}
