/**
 * Process facts read from /proc for tests: state, liveness, environment.
 * @module
 */

/** The state letter of `pid` (field 3 of /proc/<pid>/stat), or null when gone. */
export function processState(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return null;
  }
}

/** Whether `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const state = processState(pid);
  return state !== null && state !== "Z" && state !== "X";
}

/** The value of `name` in the environment of `pid`, if it can be read. */
export function processEnv(pid: number, name: string): string | undefined {
  try {
    const env = new TextDecoder().decode(
      Deno.readFileSync(`/proc/${pid}/environ`),
    );
    for (const entry of env.split("\0")) {
      if (entry.startsWith(`${name}=`)) return entry.slice(name.length + 1);
    }
  } catch {
    // gone, or not ours to read
  }
  return undefined;
}
