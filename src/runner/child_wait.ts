/**
 * The wait for a started child: signals forwarded (with SIGKILL after the
 * grace period), whatever ignored them reaped, both pipes drained, and the
 * child's exit turned into the run's outcome and stint's exit code.
 * @module
 */
import { mark } from "../trace.ts";
import type { Pump } from "./capture.ts";
import type { SignalForwarder } from "./forwarder.ts";
import { groupAlive, reapGroup, signalGroup, sleep } from "./process_group.ts";
import type { ChildExit, Spawned } from "./spawn.ts";
import { signalExitCode } from "./signals.ts";

/** How and when the child ended, with the signal stint had received by then. */
export interface ChildEnd {
  /** The child's exit status. */
  status: ChildExit;
  /** The signal stint had forwarded when the child ended, if any. */
  received: Deno.Signal | null;
  /** When it ended (ms since the epoch). */
  at: number;
}

/** What the wait needs besides the child. */
export interface WaitOptions {
  /** Forwards stint's signals to the child's group. */
  forwarder: SignalForwarder;
  /** How long a signalled group has before SIGKILL (default 10 s). */
  killGraceMs?: number;
  /** Why the task's pid could not be recorded, if so (kept in the error). */
  pidError: string | null;
}

/** How a run ended, as the runner records it. */
export interface Outcome {
  status: "succeeded" | "failed" | "killed";
  exitCode: number | null;
  signal: string | null;
  error: string | null;
  stintExit: number;
  spawnError: string | null;
  /** False when no child was ever spawned. */
  started?: boolean;
  /**
   * When the child exited (before stint drained its output or waited for
   * the store to record it); unset when no child ran.
   */
  endedAt?: number;
}

/** Wait for a started child, forwarding signals, and say how it ended. */
export async function waitForChild(
  child: Spawned,
  exit: Promise<ChildEnd>,
  options: WaitOptions,
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

  const { status, received, at } = await exit;
  mark("runner: child ran (deno task)");
  exited = true;
  if (escalation !== undefined) clearTimeout(escalation);
  if (received) {
    // Whatever ignored the forwarded signal must not outlive the run.
    await reapGroup(pgid, { graceMs: 2_000 });
  }
  await drain(child.pumps, pgid);
  forwarder.detach();
  return { ...exitOutcome(status, received, options.pidError), endedAt: at };
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
export async function drain(pumps: Pump[], pgid: number): Promise<void> {
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
