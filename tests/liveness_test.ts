/**
 * Liveness that knows who is recording (spec section 3, issue 11 defects
 * 2-4): a `running` record is `lost` only when neither its recorder (the
 * stint process writing it) nor its task lives; the scope and the record are
 * one transaction; scopes without a run are reclaimed. And the kill -9
 * storm: stint SIGKILLed at random moments, start-up included.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { spawnStint, stint, tempState, waitFor } from "./support/cli.ts";
import { rawQuery, rawRuns } from "./support/faults.ts";
import { isAlive, processEnv, processState } from "./support/proc.ts";

function sql(db: string, statements: string): void {
  const c = new DatabaseSync(db, { timeout: 10_000 });
  try {
    c.exec(statements);
  } finally {
    c.close();
  }
}

function stopped(pid: number): boolean {
  return processState(pid) === "T";
}

/** Whether `pid` is alive and carries `STINT_RUN_ID=<id>` (is that run's task). */
function isTaskOf(pid: number, id: string): boolean {
  return isAlive(pid) && processEnv(pid, "STINT_RUN_ID") === id;
}

/** Live processes carrying a `STINT_RUN_ID` of one of `ids`. */
function processesOfRuns(ids: Set<string>): number[] {
  const found: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = Number(e.name);
    const run = processEnv(pid, "STINT_RUN_ID");
    if (run !== undefined && ids.has(run) && isAlive(pid)) found.push(pid);
  }
  return found;
}

async function historyJson(env: Record<string, string>) {
  const h = await stint(["history", "--json", "--limit", "1000"], { env });
  assert.equal(h.code, 0, h.stderr);
  return JSON.parse(h.stdout) as Record<string, unknown>[];
}

Deno.test("a run whose task has exited is not lost while stint is still recording it (history clear keeps it)", async () => {
  const t = tempState();
  // The task stops stint (its parent) and exits: stint is alive but cannot
  // record the end until it is continued.
  const child = spawnStint([
    "exec",
    "--name",
    "window:end",
    "--",
    "sh",
    "-c",
    "sleep 0.5; kill -STOP $PPID; exit 7",
  ], { env: t.env });
  try {
    await waitFor(() => stopped(child.pid), {
      timeoutMs: 20_000,
      what: "stint to be stopped",
    });
    const [row] = rawRuns(t.db, "window:end");
    await waitFor(() => row.pid !== null && !isAlive(Number(row.pid)), {
      what: "the task to exit",
    });
    const runs = await historyJson(t.env);
    assert.equal(runs[0].status, "running", "its recorder is alive");
    const clear = await stint(["history", "clear", "window:end", "--yes"], {
      env: t.env,
    });
    assert.equal(clear.code, 1);
    assert.match(clear.stderr, /still running/);
  } finally {
    Deno.kill(child.pid, "SIGCONT");
  }
  child.stdin.close();
  const out = await child.output();
  assert.equal(out.code, 7, new TextDecoder().decode(out.stderr));
  const [done] = rawRuns(t.db, "window:end");
  assert.equal(done.status, "failed");
  assert.equal(done.exit_code, 7);
});

Deno.test("stint killed before it recorded the task's pid: the run stays running while the task lives, then lost", async () => {
  const t = tempState();
  assert.equal((await stint(["exec", "--", "true"], { env: t.env })).code, 0);
  // Make the pid write fail, as a kill in that window would leave it.
  sql(
    t.db,
    `CREATE TRIGGER test_block_pid BEFORE UPDATE OF pid ON executions
     WHEN NEW.pid IS NOT NULL AND NEW.pid IS NOT OLD.pid
     BEGIN SELECT RAISE(ABORT, 'pid writes blocked by the test'); END`,
  );
  const pidFile = join(t.dir, "task.pid");
  const child = spawnStint([
    "exec",
    "--name",
    "window:pid",
    "--",
    "sh",
    "-c",
    `echo $$ > ${pidFile}; exec sleep 30`,
  ], { env: t.env });
  const task = await waitFor(() => {
    try {
      return Number(Deno.readTextFileSync(pidFile).trim()) || 0;
    } catch {
      return 0;
    }
  }, { timeoutMs: 20_000, what: "the task to start" });
  await new Promise((r) => setTimeout(r, 300)); // the pid write has failed
  child.kill("SIGKILL");
  child.stdin.close();
  await child.output();
  try {
    assert.ok(isAlive(task));
    const runs = await historyJson(t.env);
    const run = runs.find((r) => r.ref === "window:pid")!;
    assert.equal(run.status, "running", "its task is alive");
    const scope = rawQuery(
      t.db,
      "SELECT scope_id FROM executions WHERE id = ?",
      String(run.id),
    )[0].scope_id;
    const vars = await stint(["vars", "list"], { env: t.env });
    assert.equal(vars.code, 0, vars.stderr);
    assert.equal(
      rawQuery(t.db, "SELECT id FROM scopes WHERE id = ?", String(scope))
        .length,
      1,
      "the scope of a live task is kept",
    );
  } finally {
    Deno.kill(task, "SIGKILL");
  }
  await waitFor(() => !isAlive(task), { what: "the task to die" });
  const after = (await historyJson(t.env)).find((r) => r.ref === "window:pid")!;
  assert.equal(after.status, "lost");
  assert.match(String(after.error), /gone/);
});

Deno.test("a start that fails leaves no scope and no start sidecar (the run is journalled with its log); scopes without a run are reclaimed", async () => {
  const t = tempState();
  assert.equal((await stint(["exec", "--", "true"], { env: t.env })).code, 0);
  const sidecars = () => {
    try {
      return [...Deno.readDirSync(join(t.dir, "state", "logs", ".starting"))]
        .length;
    } catch {
      return 0;
    }
  };
  sql(
    t.db,
    `CREATE TRIGGER test_fail_insert BEFORE INSERT ON executions
     BEGIN SELECT RAISE(ABORT, 'inserts blocked by the test'); END`,
  );
  const r = await stint(["exec", "--", "true"], { env: t.env });
  assert.equal(r.code, 0, "the task's code, whatever the store did");
  assert.equal(r.stderr.trim().split("\n").length, 2, r.stderr);
  const scopes = () =>
    rawQuery(t.db, "SELECT id FROM scopes WHERE id != 'root'").length;
  assert.equal(scopes(), 0, "no scope without its run");
  assert.equal(sidecars(), 0, "the journal holds the run: no sidecar left");
  sql(t.db, "DROP TRIGGER test_fail_insert");

  // A scope left by a crash of an older stint (scope and record were two
  // transactions), with a var in it.
  const old = Date.now() - 10 * 60_000;
  sql(
    t.db,
    `INSERT INTO scopes (id, parent_id, run_id, created_at)
       VALUES ('leaked-scope', 'root', 'never-recorded', ${old});
     INSERT INTO vars (scope_id, key, value, updated_at, origin, seq)
       VALUES ('leaked-scope', 'k', 'v', ${old}, 'x', 0)`,
  );
  const list = await stint(["vars", "list"], { env: t.env });
  assert.equal(list.code, 0, list.stderr);
  assert.equal(scopes(), 0, "the leaked scope was reclaimed");
  assert.equal(
    rawQuery(t.db, "SELECT * FROM vars WHERE scope_id = 'leaked-scope'")
      .length,
    0,
  );
});

/** Live supervisors (`bg __supervise`) started for the store `db`. */
function supervisorsOf(db: string): number[] {
  const found: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const argv = new TextDecoder().decode(
        Deno.readFileSync(`/proc/${e.name}/cmdline`),
      ).split("\0");
      if (
        argv.includes("__supervise") && argv.includes(db) &&
        isAlive(Number(e.name))
      ) found.push(Number(e.name));
    } catch {
      // gone
    }
  }
  return found;
}

Deno.test("kill -9 storm: 40 rounds at random moments (start-up included): 0 stuck, 0 lost while the task lives, 0 leaked scopes, 0 orphans", async () => {
  const t = tempState();
  assert.equal((await stint(["exec", "--", "true"], { env: t.env })).code, 0);
  const pids = join(t.dir, "pids");
  Deno.mkdirSync(pids);
  const rounds = 40;
  const violations: string[] = [];
  const runIds = new Set<string>();
  const delays: number[] = [];
  // Background runs seen lost: none may end any other way afterwards.
  const bgLostAt = new Map<string, number>();
  for (let round = 0; round < rounds; round++) {
    // Each task records its pid under its run id, then lives ~1.5 s. Every
    // fourth round kills the stint that starts a background run instead.
    const background = round % 4 === 3;
    const child = spawnStint([
      "exec",
      ...(background ? ["-b"] : []),
      "--name",
      `storm:${round}`,
      "--",
      "sh",
      "-c",
      `echo $$ > ${pids}/$STINT_RUN_ID; sleep 1.5`,
    ], { env: t.env });
    // `-b` returns within ~100 ms: its kills aim at its start-up.
    const delay = Math.floor(Math.random() * (background ? 100 : 300));
    delays.push(delay);
    await new Promise((r) => setTimeout(r, delay));
    try {
      child.kill("SIGKILL");
    } catch {
      // `-b` already returned
    }
    child.stdin.close();
    await child.output();
    // A reader right after the kill: nothing it calls lost may still run.
    for (const run of await historyJson(t.env)) {
      runIds.add(String(run.id));
      if (run.status !== "lost") continue;
      let task = 0;
      try {
        task = Number(Deno.readTextFileSync(join(pids, String(run.id))));
      } catch {
        continue; // never started
      }
      if (isTaskOf(task, String(run.id))) {
        violations.push(
          `round ${round} (${delay} ms): ${run.id} lost, task ${task} alive`,
        );
      }
    }
    const bg = await stint(["bg", "list", "--all", "--json"], { env: t.env });
    assert.equal(bg.code, 0, bg.stderr);
    for (const b of JSON.parse(bg.stdout)) {
      if (b.status === "lost" && !bgLostAt.has(b.id)) bgLostAt.set(b.id, round);
    }
  }
  // Every task and supervisor ends on its own; then nothing may be left.
  await waitFor(
    () =>
      processesOfRuns(runIds).length === 0 &&
      supervisorsOf(t.db).length === 0,
    { timeoutMs: 30_000, what: "the orphaned tasks and supervisors to end" },
  );
  const final = await historyJson(t.env);
  const finalBg = JSON.parse(
    (await stint(["bg", "list", "--all", "--json"], { env: t.env })).stdout,
  ) as Record<string, unknown>[];
  for (const b of finalBg) {
    const at = bgLostAt.get(String(b.id));
    if (at !== undefined && b.status !== "lost") {
      violations.push(
        `round ${at}: background run ${b.id} read lost, then ended ${b.status}`,
      );
    }
  }
  const stuck = [...final, ...finalBg].filter((r) => r.status === "running");
  const leakedScopes = rawQuery(
    t.db,
    "SELECT id FROM scopes WHERE id != 'root'",
  );
  const recorded = final.filter((r) => String(r.ref).startsWith("storm:"));
  const orphans = [...processesOfRuns(runIds), ...supervisorsOf(t.db)];
  console.log(
    `kill storm: ${rounds} rounds (${finalBg.length} background runs), kills at ${
      Math.min(...delays)
    }-${Math.max(...delays)} ms, ${recorded.length} runs recorded (${
      recorded.filter((r) => r.status === "lost").length
    } lost after their task ended), ${stuck.length} stuck, ${violations.length} lost while alive, ${leakedScopes.length} leaked scopes, ${orphans.length} orphans`,
  );
  assert.deepEqual(violations, []);
  assert.deepEqual(stuck.map((r) => r.id), []);
  assert.equal(leakedScopes.length, 0);
  assert.deepEqual(orphans, []);
});
