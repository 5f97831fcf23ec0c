/**
 * Process groups: every run's child is a session (and group) leader, so one
 * signal to `-pgid` reaches the task and everything it spawned.
 * @module
 */
import { procGroupMembers } from "../store/process.ts";

/**
 * The live (non-zombie) members of process group `pgid`. On Linux this reads
 * /proc; elsewhere it probes the group and returns `[pgid]` when anything in
 * it is alive (the probe sends SIGCONT, which a running process ignores).
 */
export function groupMembers(pgid: number): number[] {
  if (pgid <= 1) return [];
  if (Deno.build.os !== "linux") {
    try {
      Deno.kill(-pgid, "SIGCONT");
      return [pgid];
    } catch {
      return [];
    }
  }
  return procGroupMembers(pgid);
}

/** Whether any live process is left in group `pgid`. */
export function groupAlive(pgid: number): boolean {
  return groupMembers(pgid).length > 0;
}

/** Send `signal` to every process in group `pgid`; false when the group is gone. */
export function signalGroup(pgid: number, signal: Deno.Signal): boolean {
  if (pgid <= 1) return false;
  try {
    Deno.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Send `signal` to one process; false when it is gone. */
export function signalProcess(pid: number, signal: Deno.Signal): boolean {
  if (pid <= 1) return false;
  try {
    Deno.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Wait until group `pgid` is empty or `timeoutMs` passes; true when it emptied. */
export async function waitGroupGone(
  pgid: number,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!groupAlive(pgid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

/**
 * Make sure nothing is left of group `pgid`: wait up to `graceMs` for its
 * members to exit on their own (they were already signalled), then SIGKILL
 * whatever is left. Returns true when the group is gone.
 */
export async function reapGroup(
  pgid: number,
  options: { graceMs: number },
): Promise<boolean> {
  if (await waitGroupGone(pgid, options.graceMs)) return true;
  signalGroup(pgid, "SIGKILL");
  return await waitGroupGone(pgid, 5_000);
}
