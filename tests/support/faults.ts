/**
 * Faults for the store under a running task: its write lock held by
 * another process, a disk that fills up, records read straight from the
 * file with node:sqlite (so the helpers work on any stint's store), and
 * the caller's scope a task whose start is held back reads through.
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { withStore } from "../../src/store/open.ts";
import { createScope, setVar } from "../../src/store/vars.ts";

const HOLDER = new URL("../fixtures/hold_lock.ts", import.meta.url).pathname;

/**
 * Hold the store's write lock from a second process (node:sqlite,
 * `BEGIN IMMEDIATE`) for `ms`; resolves once the lock is held. `released`
 * settles when the holder has let go.
 */
export async function holdWriteLock(
  db: string,
  ms: number,
): Promise<{ released: Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", HOLDER, db, String(ms)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let seen = "";
  while (!seen.includes("locked\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the lock holder failed");
    seen += new TextDecoder().decode(value);
  }
  const released = (async () => {
    while (!(await reader.read()).done) {
      // drain
    }
    await child.status;
  })();
  return { released };
}

/** Rows of `sql` on the store, read with node:sqlite (read-only). */
export function rawQuery(
  db: string,
  sql: string,
  ...params: string[]
): Record<string, unknown>[] {
  const c = new DatabaseSync(db, { readOnly: true, timeout: 10_000 });
  try {
    return c.prepare(sql).all(...params) as Record<string, unknown>[];
  } finally {
    c.close();
  }
}

/** Execution rows (snake_case columns), of `ref` if given, newest first. */
export function rawRuns(db: string, ref?: string): Record<string, unknown>[] {
  return ref === undefined
    ? rawQuery(db, "SELECT * FROM executions ORDER BY started_at DESC")
    : rawQuery(
      db,
      "SELECT * FROM executions WHERE ref = ? ORDER BY started_at DESC",
      ref,
    );
}

/** Poll the raw store until the newest run of `ref` has its task's pid. */
export async function waitForTaskPid(
  db: string,
  ref: string,
  timeoutMs = 20_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const row = rawRuns(db, ref)[0];
      // An older stint records its own pid first; a newer one null.
      if (row && row.pid !== null && row.status === "running") {
        const recorder = recorderPid(db, String(row.id));
        if (recorder === null || recorder !== Number(row.pid)) return row;
      }
    } catch {
      // not created yet
    }
    if (Date.now() > deadline) throw new Error(`no task pid for ${ref}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function recorderPid(db: string, id: string): number | null {
  const c = new DatabaseSync(db, { readOnly: true, timeout: 10_000 });
  try {
    const t = c.prepare(
      "SELECT 1 AS x FROM sqlite_master WHERE name = 'recorders'",
    ).get();
    if (!t) return null;
    const r = c.prepare("SELECT pid FROM recorders WHERE execution_id = ?")
      .get(id) as { pid?: number } | undefined;
    return r?.pid ?? null;
  } finally {
    c.close();
  }
}

/**
 * Mount a tmpfs of `size` (e.g. "2m") at `dir` (root only). Returns the
 * unmount, or null (with a warning naming `what`) where that is not allowed.
 */
export async function mountTmpfs(
  dir: string,
  size: string,
  what: string,
): Promise<(() => Promise<void>) | null> {
  const out = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir],
    stderr: "piped",
  }).output().catch(() => null);
  if (!out?.success) {
    console.warn(`cannot mount a tmpfs here: skipped ${what}`);
    return null;
  }
  return async () => {
    await new Deno.Command("umount", { args: ["-l", dir] }).output();
  };
}

/**
 * Give the store a root var `k` ("from-root") and a scope, as a calling
 * run's, that sets its own `k` ("from-outer") over it. Returns that scope:
 * run a task under it (STINT_SCOPE) to see which `k` the task's run reads.
 */
export function seedOuterScope(db: string): string {
  return withStore(db, (conn) => {
    setVar(conn, "k", "from-root");
    const scope = createScope(conn);
    setVar(conn, "k", "from-outer", { scope });
    return scope;
  });
}
