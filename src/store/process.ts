/**
 * Process identity for liveness checks: a pid plus its start time, so a
 * reused pid is not mistaken for the process that started a run.
 * @module
 */

/**
 * The start time of `pid` (clock ticks since boot, from `/proc/<pid>/stat`),
 * or null when the process does not exist. On systems without /proc this
 * falls back to "alive" checks only and returns "" for a live pid.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may contain spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // rest[0] is field 3 (state); starttime is field 22.
    if (rest[0] === "Z" || rest[0] === "X") return null;
    return rest[19] ?? "";
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    if (Deno.build.os === "linux") return null;
    try {
      Deno.kill(pid, "SIGCONT");
      return "";
    } catch {
      return null;
    }
  }
}

/** Why a recorded process is no longer the one that was recorded, or null if it still is. */
export function processGoneReason(
  pid: number | null,
  startTime: string | null,
): string | null {
  if (pid === null || pid <= 0) return "no process id was recorded";
  const now = processStartTime(pid);
  if (now === null) return `process ${pid} is gone`;
  if (startTime && now && now !== startTime) {
    return `process ${pid} was reused by another program`;
  }
  return null;
}

/**
 * Whether process group `pgid` still has a live member. A task is the
 * leader of its own group, so its recorded pid is also its group id, and
 * Linux does not hand out a pid that is still in use as a group id: a live
 * member means the run is still going even though its leader has exited
 * (what it started still writes, and its stint is still recording it).
 */
export function groupHasMembers(pgid: number): boolean {
  if (Deno.build.os !== "linux") return false;
  return procGroupMembers(pgid, { limit: 1 }).length > 0;
}

/**
 * The live (non-zombie) members of process group `pgid`, read from /proc
 * (Linux); at most `limit` of them. Empty where there is no /proc.
 */
export function procGroupMembers(
  pgid: number,
  options?: { limit?: number },
): number[] {
  const members: number[] = [];
  if (pgid <= 1) return members;
  const limit = options?.limit ?? Infinity;
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      let stat: string;
      try {
        stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      } catch {
        continue; // exited while we were looking
      }
      // Field 2 (the command name) may hold spaces and parentheses; after
      // it come the state (field 3) and the process group (field 5).
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (rest[0] === "Z" || rest[0] === "X") continue;
      if (Number(rest[2]) === pgid) {
        members.push(Number(entry.name));
        if (members.length >= limit) break;
      }
    }
  } catch {
    // No /proc: nothing to report.
  }
  return members;
}

/** A process as recorded: its pid and start time (null where unknown). */
export interface ProcessId {
  pid: number;
  pidStart: string | null;
}

/** What a `running` record says about who is behind it. */
export interface RunProcesses {
  /** The run's id, which its task carries as `STINT_RUN_ID`. */
  runId: string;
  /** The stint process or supervisor recording the run (null on old records). */
  recorder: ProcessId | null;
  /** The task's leader, also its process group id (null until spawned). */
  task: ProcessId | null;
}

/**
 * Why a `running` record has nobody behind it any more, or null while its
 * recorder or its task lives (spec section 3, "Liveness"). The task counts
 * as alive while its leader or any member of its process group is; when the
 * record does not know the task yet (its recorder died between spawning it
 * and writing its pid), a process carrying the run's `STINT_RUN_ID` is
 * looked for instead.
 */
export function runGoneReason(run: RunProcesses): string | null {
  const { recorder } = run;
  if (recorder && processGoneReason(recorder.pid, recorder.pidStart) === null) {
    return null;
  }
  // A record of an older stint named the task or stint itself in `pid`.
  const task = run.task && run.task.pid !== recorder?.pid ? run.task : null;
  const recorderPart = recorder ? `its recorder (pid ${recorder.pid})` : null;
  if (task) {
    const gone = processGoneReason(task.pid, task.pidStart);
    if (gone === null) return null;
    // The leader is gone but its group is not: the run is still going.
    if (processStartTime(task.pid) === null && groupHasMembers(task.pid)) {
      return null;
    }
    return recorderPart
      ? `${recorderPart} and its task (process group ${task.pid}) are gone`
      : gone;
  }
  if (run.runId && processWithEnv("STINT_RUN_ID", run.runId) !== null) {
    return null;
  }
  if (recorderPart) return `${recorderPart} is gone and its task never started`;
  return run.task
    ? processGoneReason(run.task.pid, run.task.pidStart) ??
      `process ${run.task.pid} is gone`
    : "no process id was recorded";
}

/**
 * A live process whose environment holds `name=value` (Linux: read from
 * /proc/<pid>/environ; only processes this user may read), or null. Costs a
 * scan of /proc, so it is asked only before a run would be called lost.
 */
export function processWithEnv(name: string, value: string): number | null {
  if (Deno.build.os !== "linux") return null;
  const needle = new TextEncoder().encode(`${name}=${value}`);
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      let env: Uint8Array;
      try {
        env = Deno.readFileSync(`/proc/${entry.name}/environ`);
      } catch {
        continue; // gone, or not ours to read
      }
      if (!hasEntry(env, needle)) continue;
      if (processStartTime(Number(entry.name)) !== null) {
        return Number(entry.name);
      }
    }
  } catch {
    // No /proc: nothing to report.
  }
  return null;
}

/** Whether NUL-separated `env` holds `needle` (`name=value`) as a whole entry. */
function hasEntry(env: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= env.length; i++) {
    if (i > 0 && env[i - 1] !== 0) continue;
    for (let j = 0; j < needle.length; j++) {
      if (env[i + j] !== needle[j]) continue outer;
    }
    const after = i + needle.length;
    if (after === env.length || env[after] === 0) return true;
  }
  return false;
}

/**
 * A live process whose argument vector satisfies `match` (Linux: read from
 * /proc/<pid>/cmdline), or null. A scan of /proc, like
 * {@linkcode processWithEnv}: asked only before a run would be called lost.
 */
export function processWithArgv(
  match: (argv: string[]) => boolean,
): number | null {
  if (Deno.build.os !== "linux") return null;
  const dec = new TextDecoder();
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      let argv: string[];
      try {
        argv = dec.decode(Deno.readFileSync(`/proc/${entry.name}/cmdline`))
          .split("\0");
      } catch {
        continue;
      }
      if (match(argv) && processStartTime(Number(entry.name)) !== null) {
        return Number(entry.name);
      }
    }
  } catch {
    // No /proc: nothing to report.
  }
  return null;
}
