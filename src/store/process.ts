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
