/**
 * Signals with real processes: SIGINT/SIGTERM to stint reach the task's
 * whole process group (grandchildren included), the run ends `killed`, stint
 * exits 128+n and nothing is left running; a second signal escalates to
 * SIGKILL; SIGKILL of stint itself leaves a record that becomes `lost`.
 * @module
 */
import assert from "node:assert/strict";
import {
  type Execution,
  listExecutions,
  scopeExists,
  withStore,
} from "../src/store/mod.ts";
import {
  groupAlive,
  groupMembers,
  signalGroup,
  waitGroupGone,
} from "../src/runner/process_group.ts";
import {
  makeProject,
  spawnStint,
  stint,
  type TempState,
  tempState,
  waitFor,
} from "./support/cli.ts";

/** A task whose shell starts two grandchildren and waits for them. */
const FAMILY = "sh -c 'sleep 101 & sleep 102 & wait'";

function runningExecution(s: TempState, stintPid: number): Execution | null {
  const [e] = withStore(s.db, (db) => listExecutions(db, { limit: 1 }));
  // Until the child is spawned the record carries stint's own pid.
  return e && e.status === "running" && e.pid !== null && e.pid !== stintPid
    ? e
    : null;
}

/** Start `stint args` and wait until its task group has `members` live processes. */
async function startFamily(
  s: TempState,
  args: string[],
  cwd: string,
  members: number,
): Promise<{ child: Deno.ChildProcess; pgid: number }> {
  const child = spawnStint(args, { env: s.env, cwd });
  await child.stdin.close();
  const e = await waitFor(() => runningExecution(s, child.pid), {
    timeoutMs: 20_000,
    what: "the run to start",
  });
  const pgid = e!.pid!;
  await waitFor(() => groupMembers(pgid).length >= members, {
    timeoutMs: 20_000,
    what: `${members} processes in the task's group`,
  });
  return { child, pgid };
}

function onlyExecution(s: TempState): Execution {
  const all = withStore(s.db, (db) => listExecutions(db));
  assert.equal(all.length, 1);
  return all[0];
}

for (
  const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const
) {
  Deno.test(`${signal} to stint run kills the task and its grandchildren; the run ends killed`, async () => {
    const s = tempState();
    const dir = makeProject(s.dir, { family: FAMILY }, { name: "sig" });
    // deno task + sh + two sleeps
    const { child, pgid } = await startFamily(s, ["run", "family"], dir, 4);
    child.kill(signal);
    const out = await child.output();
    assert.equal(out.code, code);
    assert.ok(await waitGroupGone(pgid, 5_000), "no process of the group left");
    const e = onlyExecution(s);
    assert.equal(e.status, "killed");
    assert.equal(e.signal, signal);
    assert.equal(e.ref, "sig:family");
    assert.ok(e.completedAt !== null && e.durationMs !== null);
    assert.ok(
      withStore(s.db, (db) => !scopeExists(db, e.scopeId!)),
      "scope deleted",
    );
  });
}

Deno.test("SIGTERM to stint exec kills the command's group too", async () => {
  const s = tempState();
  const { child, pgid } = await startFamily(
    s,
    ["exec", "--", "sh", "-c", "sleep 101 & sleep 102 & wait"],
    s.dir,
    3,
  );
  child.kill("SIGTERM");
  const out = await child.output();
  assert.equal(out.code, 143);
  assert.ok(await waitGroupGone(pgid, 5_000));
  assert.equal(onlyExecution(s).status, "killed");
});

Deno.test("a second signal kills a task that ignores the first", async () => {
  const s = tempState();
  const { child, pgid } = await startFamily(
    s,
    ["exec", "--", "sh", "-c", "trap '' INT TERM; sleep 103 & wait"],
    s.dir,
    2,
  );
  child.kill("SIGTERM");
  // The task ignores SIGTERM; it is still there a moment later.
  await new Promise((r) => setTimeout(r, 1_000));
  assert.ok(groupAlive(pgid), "the task ignored the first signal");
  child.kill("SIGTERM");
  const out = await child.output();
  assert.equal(out.code, 143);
  assert.ok(await waitGroupGone(pgid, 5_000));
  const e = onlyExecution(s);
  assert.equal(e.status, "killed");
  assert.equal(e.signal, "SIGTERM");
});

Deno.test("SIGKILL of stint leaves a running record that becomes lost once its task is gone", async () => {
  const s = tempState();
  const dir = makeProject(s.dir, { family: FAMILY }, { name: "kill9" });
  const { child, pgid } = await startFamily(s, ["run", "family"], dir, 4);
  child.kill("SIGKILL");
  await child.output();
  // stint cannot record anything now; the task is orphaned but still ours.
  const before = await stint(["history", "--json"], { env: s.env });
  assert.equal(before.code, 0, before.stderr);
  assert.equal(JSON.parse(before.stdout)[0].status, "running");
  signalGroup(pgid, "SIGKILL");
  assert.ok(await waitGroupGone(pgid, 5_000));
  const after = await stint(["history", "--json"], { env: s.env });
  const rec = JSON.parse(after.stdout)[0];
  assert.equal(rec.status, "lost");
  assert.match(rec.error, /gone/);
  const e = onlyExecution(s);
  assert.equal(e.status, "lost");
  assert.ok(
    withStore(s.db, (db) => !scopeExists(db, e.scopeId!)),
    "the lost run's scope was reclaimed",
  );
});

function processState(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return null;
  }
}

Deno.test("Ctrl-Z (SIGTSTP) stops the task's group and stint; SIGCONT resumes both", async () => {
  const s = tempState();
  const { child, pgid } = await startFamily(
    s,
    ["exec", "--", "sh", "-c", "sleep 1 & wait; echo resumed"],
    s.dir,
    2,
  );
  child.kill("SIGTSTP");
  await waitFor(
    () =>
      processState(child.pid) === "T" &&
      groupMembers(pgid).every((pid) => processState(pid) === "T"),
    { timeoutMs: 10_000, what: "stint and the task to stop" },
  );
  // Stopped, the task cannot finish its 1 s sleep; resume it after that.
  await new Promise((r) => setTimeout(r, 1_500));
  assert.ok(groupMembers(pgid).length >= 2, "the task is still there");
  child.kill("SIGCONT");
  const out = await child.output();
  assert.equal(out.code, 0);
  assert.equal(new TextDecoder().decode(out.stdout), "resumed\n");
  assert.equal(onlyExecution(s).status, "succeeded");
});

Deno.test("a task that handles the forwarded Ctrl-C and exits 7: stint exits 7, the run is killed by SIGINT", async () => {
  const s = tempState();
  const dir = makeProject(s.dir, {
    trapped:
      `sh -c 'trap "echo caught; exit 7" INT; echo ready; while :; do sleep 0.1; done'`,
  }, { name: "trap" });
  const { child } = await startFamily(s, ["run", "trapped"], dir, 2);
  await new Promise((r) => setTimeout(r, 300)); // the trap is set
  child.kill("SIGINT");
  const out = await child.output();
  assert.equal(
    out.code,
    7,
    "deno task reports the task's own code; so does stint",
  );
  assert.match(new TextDecoder().decode(out.stdout), /caught/);
  const e = onlyExecution(s);
  assert.equal(e.status, "killed");
  assert.equal(e.signal, "SIGINT");
  assert.equal(e.exitCode, 7);
});

Deno.test("an exec command that dies of its own signal is recorded failed with 128+n, as a task run is; stint exits 128+n", async () => {
  for (const [sig, n] of [["SEGV", 11], ["TERM", 15]] as const) {
    const s = tempState();
    for (
      const args of [["--", "sh", "-c", `kill -${sig} $$`], [
        "--shell",
        "--",
        `kill -${sig} $$`,
      ]]
    ) {
      const r = await stint(["exec", ...args], { env: s.env });
      assert.equal(r.code, 128 + n, r.stderr);
    }
    const runs = withStore(s.db, (db) => listExecutions(db, { limit: 10 }));
    assert.equal(runs.length, 2);
    for (const e of runs) {
      assert.equal(e.status, "failed", `SIG${sig}: ${e.error}`);
      assert.equal(e.exitCode, 128 + n);
      assert.equal(e.signal, null, "stint did not interrupt it");
      assert.match(e.error ?? "", new RegExp(`SIG${sig}`));
    }
  }
});

Deno.test("a task that dies of its own signal is recorded failed with deno's 128+n and no signal (stint did not interrupt it)", async () => {
  const s = tempState();
  const dir = makeProject(s.dir, { selfterm: "sh -c 'kill -TERM $$'" }, {
    name: "own",
  });
  const r = await stint(["run", "selfterm"], { env: s.env, cwd: dir });
  assert.equal(r.code, 143);
  const e = onlyExecution(s);
  assert.equal(e.status, "failed");
  assert.equal(e.exitCode, 143);
  assert.equal(e.signal, null);
});
