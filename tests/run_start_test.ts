/**
 * A run's start is written while its task boots (issue 15): the run-start
 * lock makes a process of the run that looks for its scope before the
 * start is committed wait for it, a start that cannot be recorded never
 * stops the task, and STINT_TRACE shows each step of the way.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { MAIN, makeProject, stint, tempState } from "./support/cli.ts";
import {
  holdWriteLock,
  rawQuery,
  rawRuns,
  seedOuterScope,
} from "./support/faults.ts";

const S = `deno run -A --quiet '${MAIN}'`;

Deno.test("a task that reads and writes its vars before its run is recorded waits for the start, and sees its scope chain", async () => {
  const t = tempState();
  assert.equal((await stint(["exec", "--", "true"], { env: t.env })).code, 0);
  // An outer scope (as a calling run's) with its own value over root's.
  const outer = seedOuterScope(t.db);
  const stamp = join(t.dir, "asked-at");
  // With the write lock held, the run's start waits in the busy handler
  // while its task runs and asks for its vars.
  const lock = await holdWriteLock(t.db, 2_500);
  const released = lock.released.then(() => Date.now());
  const r = await stint([
    "exec",
    "--name",
    "start:wait",
    "--shell",
    "--",
    `date +%s%3N > ${stamp}; ${S} vars get k && ${S} vars set mine v && ${S} vars get mine`,
  ], { env: { ...t.env, STINT_SCOPE: outer } });
  const releasedAt = await released;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "from-outer\nv\n");
  assert.equal(r.stderr, "");
  const askedAt = Number(Deno.readTextFileSync(stamp).trim());
  assert.ok(
    askedAt < releasedAt - 500,
    `the task asked (${askedAt}) well before the start could be written (${releasedAt})`,
  );
  const [run] = rawRuns(t.db, "start:wait");
  assert.equal(run.status, "succeeded");
  assert.ok(run.pid !== null, "the start was written with the task's pid");
  assert.deepEqual(
    rawQuery(t.db, "SELECT id FROM scopes WHERE id NOT IN ('root', ?)", outer),
    [],
    "the run's scope went with the run",
  );
});

Deno.test("a start the store refuses (a trigger blocks inserts) never stops the task: it runs to its end, stint exits with its code, the whole run is journalled and recorded once the store takes it", async () => {
  const t = tempState();
  assert.equal((await stint(["exec", "--", "true"], { env: t.env })).code, 0);
  const c = new DatabaseSync(t.db, { timeout: 10_000 });
  c.exec(
    `CREATE TRIGGER test_fail_insert BEFORE INSERT ON executions
     BEGIN SELECT RAISE(ABORT, 'inserts blocked by the test'); END`,
  );
  c.close();
  const marker = join(t.dir, "task-went-on");
  const r = await stint([
    "exec",
    "--name",
    "start:fails",
    "--shell",
    "--",
    `sleep 1; touch ${marker}; exit 6`,
  ], { env: t.env });
  assert.equal(r.code, 6, r.stderr);
  const warned = r.stderr.trim().split("\n");
  assert.equal(warned.length, 2, r.stderr);
  assert.match(
    warned[0],
    /^stint: could not record the start of this run \(.*inserts blocked by the test.*\); the task goes on/,
  );
  assert.match(warned[1], /saved in .*\.spool/);
  Deno.statSync(marker); // the task ran to its end
  assert.deepEqual(rawRuns(t.db, "start:fails"), []);
  assert.deepEqual(
    rawQuery(t.db, "SELECT id FROM scopes WHERE id != 'root'"),
    [],
    "no scope was made for it",
  );
  const d = new DatabaseSync(t.db, { timeout: 10_000 });
  d.exec("DROP TRIGGER test_fail_insert");
  d.close();
  // The next stint command replays the journal.
  assert.equal((await stint(["history", "--json"], { env: t.env })).code, 0);
  const [run] = rawRuns(t.db, "start:fails");
  assert.equal(run.status, "failed");
  assert.equal(run.exit_code, 6);
  assert.ok(Number(run.duration_ms) >= 1000, `duration ${run.duration_ms}`);
});

Deno.test("STINT_TRACE prints each step of a run to stderr; unset, nothing", async () => {
  const t = tempState();
  const dir = makeProject(t.dir, { noop: "true" });
  assert.equal(
    (await stint(["run", "noop"], { env: t.env, cwd: dir })).code,
    0,
  );
  const traced = await stint(["run", "noop"], {
    env: { ...t.env, STINT_TRACE: "1" },
    cwd: dir,
  });
  assert.equal(traced.code, 0, traced.stderr);
  const steps = traced.stderr.split("\n").filter((l) =>
    l.startsWith("stint-trace ")
  ).map((l) => l.split(" ").slice(3).join(" "));
  for (
    const step of [
      "deno: to stint's first line",
      "run: task resolved (config found and read)",
      "runner: child spawned",
      "runner: running record + scope written",
      "runner: child ran (deno task)",
      "runner: end recorded, scope dropped",
    ]
  ) assert.ok(steps.includes(step), `${step} in ${steps.join(" | ")}`);
  // The task's start is written after it was spawned (the store is known).
  assert.ok(
    steps.indexOf("runner: child spawned") <
      steps.indexOf("runner: running record + scope written"),
  );
  const plain = await stint(["run", "noop"], { env: t.env, cwd: dir });
  assert.equal(plain.code, 0);
  assert.doesNotMatch(plain.stderr, /stint-trace/);
});
