/**
 * Background runs with real processes: a run outlives the shell that started
 * it and is recorded to the end; bg list / show / logs -f / kill / wait /
 * clean; a killed supervisor becomes `lost`; ten runs at once; a background
 * run's own vars scope; nested background runs.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type BackgroundRun,
  type Execution,
  getBackgroundRun,
  getExecution,
  listBackgroundRuns,
  logPath,
  saveBackgroundRun,
  scopeExists,
  withStore,
} from "../src/store/mod.ts";
import {
  groupMembers,
  signalGroup,
  waitGroupGone,
} from "../src/runner/process_group.ts";
import {
  MAIN,
  makeProject,
  spawnStint,
  stint,
  type TempState,
  tempState,
  waitFor,
} from "./support/cli.ts";
import { isAlive } from "./support/proc.ts";

function bgRun(s: TempState, id: string): BackgroundRun {
  return withStore(s.db, (db) => getBackgroundRun(db, id));
}

function bgExecution(s: TempState, run: BackgroundRun): Execution | null {
  if (!run.executionId) return null;
  try {
    return withStore(s.db, (db) => getExecution(db, run.executionId!));
  } catch {
    return null; // the supervisor has not recorded it yet
  }
}

/** A shell loop that waits until the file `gate` exists (the test opens it). */
// Bounded (about a minute), so a test that fails before opening the gate
// does not leave a supervisor waiting forever.
const WAIT_GATE =
  "i=0; while [ ! -e gate ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done";

/** Start a background exec and return its id. */
async function startBg(
  s: TempState,
  command: string[],
  options: { name?: string; cwd?: string } = {},
): Promise<string> {
  const r = await stint([
    "exec",
    "-b",
    ...(options.name ? ["--name", options.name] : []),
    "--",
    ...command,
  ], { env: s.env, cwd: options.cwd ?? s.dir });
  assert.equal(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  assert.match(id, /^[0-9a-z]{8}$/);
  return id;
}

/** Wait for the run's task group (the execution's pid) to have `members` processes. */
async function taskGroup(
  s: TempState,
  id: string,
  members: number,
): Promise<number> {
  return await waitFor<number>(() => {
    const run = bgRun(s, id);
    const e = bgExecution(s, run);
    if (!e || e.pid === null || e.pid === run.pid) return 0;
    return groupMembers(e.pid).length >= members ? e.pid : 0;
  }, { timeoutMs: 20_000, what: `the task group of ${id}` });
}

async function waitEnded(s: TempState, id: string): Promise<BackgroundRun> {
  return await waitFor<BackgroundRun | null>(() => {
    const r = bgRun(s, id);
    return r.status === "running" ? null : r;
  }, {
    timeoutMs: 30_000,
    what: `background run ${id} to end`,
  }) as BackgroundRun;
}

Deno.test("a background run outlives the shell that started it and is recorded to the end", async () => {
  const s = tempState();
  const dir = makeProject(s.dir, {
    slow: `sh -c '${WAIT_GATE}; echo done-slowly; exit 5'`,
  }, { name: "bgp" });
  // The starting shell exits as soon as stint run -b returns.
  const shell = await new Deno.Command("sh", {
    args: [
      "-c",
      '"$0" run -A --quiet "$1" run -b slow > id.txt; echo started',
      Deno.execPath(),
      MAIN,
    ],
    cwd: dir,
    env: { ...s.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(shell.code, 0, new TextDecoder().decode(shell.stderr));
  const id = Deno.readTextFileSync(`${dir}/id.txt`).trim();
  assert.equal(
    bgRun(s, id).status,
    "running",
    "still running after the shell exited",
  );
  Deno.writeTextFileSync(`${dir}/gate`, "");
  const end = await waitEnded(s, id);
  assert.equal(end.status, "failed");
  assert.equal(end.exitCode, 5);
  assert.ok(end.completedAt !== null);
  assert.equal(end.ref, "bgp:slow");
  const e = bgExecution(s, end)!;
  assert.equal(e.status, "failed");
  assert.equal(e.exitCode, 5);
  assert.equal(e.backgroundId, id);
  assert.equal(e.ref, "bgp:slow");
  assert.ok(withStore(s.db, (db) => !scopeExists(db, e.scopeId!)));
  const log = Deno.readTextFileSync(logPath(s.db, e.logId!));
  assert.match(log, /done-slowly\n$/);
  assert.equal(log.match(/^done-slowly$/gm)?.length, 1, "no duplicated bytes");
});

Deno.test("run -b --json prints the background run and returns at once", async () => {
  const s = tempState();
  const dir = makeProject(s.dir, { nap: "sleep 2" }, { name: "js" });
  const r = await stint(["run", "-b", "--json", "nap"], {
    env: s.env,
    cwd: dir,
  });
  assert.equal(r.code, 0, r.stderr);
  const rec = JSON.parse(r.stdout);
  assert.equal(rec.status, "running");
  assert.equal(rec.ref, "js:nap");
  assert.equal(typeof rec.pid, "number");
  assert.equal(typeof rec.execution_id, "string");
  assert.ok(rec.log_path.endsWith(`${rec.execution_id}.log`));
  const w = await stint(["bg", "wait", rec.id], { env: s.env });
  assert.equal(w.code, 0, w.stderr);
});

Deno.test("bg list shows running runs, then finished ones only with --all", async () => {
  const s = tempState();
  const id = await startBg(s, ["sh", "-c", WAIT_GATE], { name: "lister" });
  const during = await stint(["bg", "list", "--json"], { env: s.env });
  assert.equal(during.code, 0, during.stderr);
  const rows = JSON.parse(during.stdout);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].id, id);
  assert.equal(rows[0].status, "running");
  assert.equal(rows[0].ref, "lister");
  const table = await stint(["bg", "list"], { env: s.env });
  assert.match(
    table.stdout,
    /^ID\s+REF\s+STATUS\s+PID\s+STARTED\s+DURATION\s+EXIT\n/,
  );
  assert.match(table.stdout, new RegExp(`${id}\\s+lister\\s+running`));
  Deno.writeTextFileSync(`${s.dir}/gate`, "");
  await waitEnded(s, id);
  const after = await stint(["bg", "list", "--json"], { env: s.env });
  assert.deepEqual(JSON.parse(after.stdout), []);
  const all = JSON.parse(
    (await stint(["bg", "list", "--all", "--json"], { env: s.env })).stdout,
  );
  // The same word as stint history (the store keeps "completed").
  assert.equal(all[0].status, "succeeded");
  assert.equal(all[0].exit_code, 0);
  assert.ok(!Number.isNaN(Date.parse(all[0].completed_at)));
  const show = await stint(["bg", "show", id.slice(0, 5)], { env: s.env });
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^id\s+\S+\n/);
  assert.match(show.stdout, /status\s+succeeded/);
});

Deno.test("bg logs -f streams the log while the run goes on and ends with it", async () => {
  const s = tempState();
  const id = await startBg(s, [
    "sh",
    "-c",
    `echo one; ${WAIT_GATE}; printf 'two '; sleep 0.3; echo three`,
  ]);
  const follower = spawnStint(["bg", "logs", id, "-f"], { env: s.env });
  await follower.stdin.close();
  const reader = follower.stdout.getReader();
  const dec = new TextDecoder();
  let seen = "";
  let firstWhileRunning = false;
  while (!seen.includes("one\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += dec.decode(value);
    if (seen.includes("one\n")) {
      firstWhileRunning = bgRun(s, id).status === "running";
    }
  }
  assert.ok(
    firstWhileRunning,
    "the first line arrived while the run was running",
  );
  Deno.writeTextFileSync(`${s.dir}/gate`, "");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += dec.decode(value);
  }
  reader.releaseLock();
  const status = await follower.status;
  await follower.stderr.cancel();
  assert.equal(status.code, 0);
  assert.equal(seen, "one\ntwo three\n");
  assert.equal(bgRun(s, id).status, "completed");
  const once = await stint(["bg", "logs", id], { env: s.env });
  assert.equal(once.stdout, "one\ntwo three\n");
});

Deno.test("bg kill signals the whole group; nothing is left and the run ends killed", async () => {
  const s = tempState();
  const id = await startBg(s, ["sh", "-c", "sleep 101 & sleep 102 & wait"]);
  const pgid = await taskGroup(s, id, 3);
  const r = await stint(["bg", "kill", id], { env: s.env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Killed background run/);
  assert.ok(await waitGroupGone(pgid, 5_000), "no process of the group left");
  const run = bgRun(s, id);
  assert.equal(run.status, "killed");
  assert.equal(run.exitCode, 143);
  const e = bgExecution(s, run)!;
  assert.equal(e.status, "killed");
  assert.equal(e.signal, "SIGTERM");
  assert.ok(withStore(s.db, (db) => !scopeExists(db, e.scopeId!)));
  const again = await stint(["bg", "kill", id], { env: s.env });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already ended \(killed/);
});

Deno.test("bg kill escalates to SIGKILL when the task ignores the signal", async () => {
  const s = tempState();
  const id = await startBg(s, [
    "sh",
    "-c",
    "trap '' TERM INT; sleep 104 & wait",
  ]);
  const pgid = await taskGroup(s, id, 2);
  const r = await stint(["bg", "kill", id, "--grace", "1s"], { env: s.env });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(await waitGroupGone(pgid, 5_000));
  assert.equal(bgRun(s, id).status, "killed");
});

Deno.test("bg kill --signal INT is forwarded, --signal KILL goes straight to the group", async () => {
  const s = tempState();
  const [intId, killId] = await Promise.all([
    startBg(s, ["sh", "-c", "sleep 108 & wait"]),
    startBg(s, ["sh", "-c", "sleep 109 & wait"]),
  ]);
  const groups = await Promise.all([
    taskGroup(s, intId, 2),
    taskGroup(s, killId, 2),
  ]);
  const [a, b] = await Promise.all([
    stint(["bg", "kill", intId, "--signal", "INT"], { env: s.env }),
    stint(["bg", "kill", killId, "-s", "9"], { env: s.env }),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  for (const g of groups) assert.ok(await waitGroupGone(g, 5_000));
  const waits = await Promise.all(
    [intId, killId].map((id) => stint(["bg", "wait", id], { env: s.env })),
  );
  assert.deepEqual(waits.map((w) => w.code), [130, 137]);
  const execs = [intId, killId].map((id) => bgExecution(s, bgRun(s, id))!);
  assert.deepEqual(execs.map((e) => [e.status, e.signal]), [
    ["killed", "SIGINT"],
    ["killed", "SIGKILL"],
  ]);
});

Deno.test("bg wait exits with the run's code, 124 on timeout", async () => {
  const s = tempState();
  const quick = await startBg(s, ["sh", "-c", "sleep 0.5; exit 7"]);
  const slow = await startBg(s, ["sleep", "30"]);
  const w = await stint(["bg", "wait", quick], { env: s.env });
  assert.equal(w.code, 7, w.stderr);
  const t = await stint(["bg", "wait", slow, "--timeout", "300ms"], {
    env: s.env,
  });
  assert.equal(t.code, 124);
  assert.match(t.stderr, /^stint: Timed out after 300ms .*still running\n$/);
  assert.equal((await stint(["bg", "kill", slow], { env: s.env })).code, 0);
  const k = await stint(["bg", "wait", slow], { env: s.env });
  assert.equal(k.code, 143);
});

async function killSupervisor(s: TempState, id: string): Promise<void> {
  const supervisor = bgRun(s, id).pid!;
  Deno.kill(supervisor, "SIGKILL");
  await waitFor(() => {
    try {
      Deno.kill(supervisor, "SIGCONT");
      return false;
    } catch {
      return true;
    }
  }, { what: "the supervisor to die" });
}

Deno.test("SIGKILL of the supervisor: the run is running while its task lives, and bg kill ends the task", async () => {
  const s = tempState();
  const id = await startBg(s, ["sh", "-c", "sleep 105 & wait"]);
  const pgid = await taskGroup(s, id, 2);
  await killSupervisor(s, id);
  const list = JSON.parse(
    (await stint(["bg", "list", "--all", "--json"], { env: s.env })).stdout,
  );
  assert.equal(list[0].status, "running", "its task still runs");
  const k = await stint(["bg", "kill", id, "--grace", "1s"], { env: s.env });
  assert.equal(k.code, 0, k.stderr);
  if (!(await waitGroupGone(pgid, 5_000))) signalGroup(pgid, "SIGKILL");
  assert.ok(await waitGroupGone(pgid, 5_000), "the orphaned task was killed");
  assert.equal(bgRun(s, id).status, "killed");
  const k2 = await stint(["bg", "kill", id], { env: s.env });
  assert.equal(k2.code, 1);
});

Deno.test("SIGKILL of the supervisor, then its task ends: the run is lost and bg wait says so (125)", async () => {
  const s = tempState();
  const id = await startBg(s, ["sh", "-c", WAIT_GATE]);
  const pgid = await taskGroup(s, id, 1);
  await killSupervisor(s, id);
  Deno.writeTextFileSync(join(s.dir, "gate"), "");
  assert.ok(await waitGroupGone(pgid, 10_000));
  const list = JSON.parse(
    (await stint(["bg", "list", "--all", "--json"], { env: s.env })).stdout,
  );
  assert.equal(list[0].status, "lost");
  assert.match(list[0].error, /gone/);
  const w = await stint(["bg", "wait", id], { env: s.env });
  assert.equal(w.code, 125);
  assert.match(w.stderr, /was lost/);
});

Deno.test("ten background runs at once all complete with correct records", async () => {
  const s = tempState();
  const ids = await Promise.all(
    Array.from(
      { length: 10 },
      (_, i) =>
        startBg(s, ["sh", "-c", `echo run-${i}; exit ${i % 3}`], {
          name: `many:${i}`,
        }),
    ),
  );
  assert.equal(new Set(ids).size, 10);
  const codes = await Promise.all(
    ids.map((id) =>
      stint(["bg", "wait", id, "--timeout", "60s"], { env: s.env })
    ),
  );
  for (const [i, id] of ids.entries()) {
    assert.equal(codes[i].code, i % 3, codes[i].stderr);
    const run = bgRun(s, id);
    assert.equal(run.ref, `many:${i}`);
    assert.equal(run.status, i % 3 === 0 ? "completed" : "failed");
    assert.equal(run.exitCode, i % 3);
    const e = bgExecution(s, run)!;
    assert.equal(e.status, i % 3 === 0 ? "succeeded" : "failed");
    assert.equal(e.backgroundId, id);
    assert.equal(Deno.readTextFileSync(logPath(s.db, e.logId!)), `run-${i}\n`);
  }
  const all = withStore(s.db, (db) => listBackgroundRuns(db, { all: true }));
  assert.equal(all.length, 10);
});

Deno.test("a background run has its own vars scope, and a nested run -b starts its own background run", async () => {
  const s = tempState();
  const stintCmd = `"${Deno.execPath()}" run -A --quiet "${MAIN}"`;
  const script = [
    `${stintCmd} vars set mood calm`,
    `${stintCmd} vars get mood`,
    `${stintCmd} exec -b --name inner -- sh -c 'echo inner ran' > inner.txt`,
  ].join(" && ");
  const id = await startBg(s, ["sh", "-c", script], { name: "outer" });
  const end = await waitEnded(s, id);
  assert.equal(end.status, "completed", end.error ?? "");
  const outer = bgExecution(s, end)!;
  assert.equal(Deno.readTextFileSync(logPath(s.db, outer.logId!)), "calm\n");
  // The var lived in the run's scope: gone with it, never in root.
  const root = await stint(["vars", "get", "mood"], { env: s.env });
  assert.notEqual(root.code, 0);
  const innerId = Deno.readTextFileSync(`${s.dir}/inner.txt`).trim();
  assert.notEqual(innerId, id);
  const inner = await waitEnded(s, innerId);
  assert.equal(inner.status, "completed");
  assert.equal(inner.ref, "inner");
  const innerExec = bgExecution(s, inner)!;
  assert.equal(innerExec.parentId, outer.id);
  assert.equal(
    Deno.readTextFileSync(logPath(s.db, innerExec.logId!)),
    "inner ran\n",
  );
});

Deno.test("bg clean deletes finished runs and their logs, keeps running ones", async () => {
  const s = tempState();
  const done = await startBg(s, ["true"]);
  const running = await startBg(s, ["sleep", "30"]);
  const finished = await waitEnded(s, done);
  const log = logPath(s.db, finished.logId!);
  assert.ok(Deno.statSync(log).isFile);
  const keep = await stint(["bg", "clean", "--older-than", "7d"], {
    env: s.env,
  });
  assert.equal(keep.code, 0, keep.stderr);
  assert.match(keep.stdout, /No finished background runs older than 7d/);
  const r = await stint(["bg", "clean", "--json"], { env: s.env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { removed: 1, ids: [done] });
  assert.throws(() => Deno.statSync(log), Deno.errors.NotFound);
  assert.equal(bgRun(s, running).status, "running");
  assert.equal((await stint(["bg", "kill", running], { env: s.env })).code, 0);
});

Deno.test("bad ids and usage give one line and a documented exit code", async () => {
  const s = tempState();
  const cases: [string[], number, RegExp][] = [
    [["bg", "show", "zzzzzzzz"], 1, /No background run with id "zzzzzzzz"/],
    [["bg", "wait", "../etc"], 1, /No background run/],
    [["bg", "kill", "nope", "--signal", "FOO"], 2, /--signal must be a signal/],
    [
      ["bg", "wait", "x", "--timeout", "soon"],
      2,
      /--timeout must be a duration/,
    ],
    [["bg"], 2, /needs a subcommand/],
    [["bg", "frob"], 2, /Unknown subcommand "bg frob"/],
    [["bg", "logs"], 2, /needs an argument/],
  ];
  for (const [args, code, re] of cases) {
    const r = await stint(args, { env: s.env });
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1);
  }
  // Two finished runs whose ids share a prefix.
  withStore(s.db, (db) => {
    for (const id of ["ab111111", "ab222222"]) {
      saveBackgroundRun(db, {
        id,
        ref: "seeded",
        status: "completed",
        exitCode: 0,
        completedAt: Date.now(),
      });
    }
  });
  const amb = await stint(["bg", "show", "ab"], { env: s.env });
  assert.equal(amb.code, 1);
  assert.match(amb.stderr, /^stint: Background run id "ab" is ambiguous/);
  const one = await stint(["bg", "show", "ab1", "--json"], { env: s.env });
  assert.equal(JSON.parse(one.stdout).id, "ab111111");
});

Deno.test("a running run synced from another host is not killed, waited for or followed here", async () => {
  const s = tempState();
  withStore(s.db, (db) => {
    saveBackgroundRun(db, {
      id: "far00001",
      ref: "remote:job",
      status: "running",
      // pid 1 exists on every machine: signalling it here would be a disaster.
      pid: 1,
      pgid: 1,
    });
    db.exec(
      "UPDATE background_runs SET host_id = 'far-away-1a2b3c4d' WHERE id = 'far00001'",
    );
  });
  for (
    const [args, re] of [
      [
        ["bg", "kill", "far00001"],
        /runs on host far-away-1a2b3c4d; kill it there/,
      ],
      [["bg", "wait", "far00001"], /wait for it there/],
      [["bg", "logs", "far00001", "-f"], /follow it there/],
    ] as const
  ) {
    const r = await stint([...args], { env: s.env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, re);
  }
  const list = JSON.parse(
    (await stint(["bg", "list", "--json"], { env: s.env })).stdout,
  );
  assert.equal(list[0].status, "running", "not judged by a local pid");
});

Deno.test("bg list / show / logs / wait / kill on a store that does not exist create nothing", async () => {
  const s = tempState();
  const list = await stint(["bg", "list"], { env: s.env });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /No background runs/);
  const json = await stint(["bg", "list", "--all", "--json"], { env: s.env });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), []);
  for (const sub of ["show", "logs", "wait", "kill"]) {
    const r = await stint(["bg", sub, "abc123"], { env: s.env });
    assert.equal(r.code, 1, `${sub}: ${r.stderr}`);
    assert.match(r.stderr, /^stint: No background run with id "abc123"/);
  }
  let exists = true;
  try {
    Deno.statSync(s.db);
  } catch {
    exists = false;
  }
  assert.equal(exists, false, "a read created the store");
});

Deno.test("a background run takes arguments as long as a foreground one (over 128 KiB in all)", async () => {
  const s = tempState();
  const words = Array.from({ length: 30_000 }, (_, i) => String(i));
  const b = await stint(["exec", "-b", "--", "echo", ...words], {
    env: s.env,
    cwd: s.dir,
  });
  assert.equal(b.code, 0, b.stderr);
  const id = b.stdout.trim();
  const w = await stint(["bg", "wait", id, "--timeout", "30s"], {
    env: s.env,
  });
  assert.equal(w.code, 0, w.stderr);
  const logs = await stint(["bg", "logs", id], { env: s.env });
  assert.equal(logs.stdout, words.join(" ") + "\n");
  // The hand-over file is gone once the supervisor has read it.
  const left = [...Deno.readDirSync(join(s.dir, "state", "logs"))]
    .map((e) => e.name).filter((n) => !n.endsWith(".log"))
    .filter((n) => n !== ".starting"); // the start sidecars' dir
  assert.deepEqual(left, []);
});

Deno.test("bg __supervise never reads or removes a file outside the logs dir", async () => {
  const s = tempState();
  const victim = join(s.dir, "victim.payload");
  Deno.writeTextFileSync(victim, "{}");
  for (const arg of [`@${victim}`, "@../victim", "@"]) {
    const r = await stint(["bg", "__supervise", arg], { env: s.env });
    assert.equal(r.code, 2, arg);
  }
  assert.equal(Deno.readTextFileSync(victim), "{}");
});

Deno.test("bg kill after the task's leader exited still ends what is left of its group", async () => {
  const s = tempState();
  const pidFile = join(s.dir, "leader.pid");
  const b = await stint([
    "exec",
    "-b",
    "--",
    "sh",
    "-c",
    `echo $$ > '${pidFile}'; (trap '' TERM; sleep 60) & exit 0`,
  ], { env: s.env, cwd: s.dir });
  assert.equal(b.code, 0, b.stderr);
  const id = b.stdout.trim();
  const leader = Number(
    await waitFor(() => {
      try {
        const pid = Deno.readTextFileSync(pidFile).trim();
        return pid !== "" && !isAlive(Number(pid)) ? pid : "";
      } catch {
        return "";
      }
    }, { timeoutMs: 20_000, what: "the leader to exit" }),
  );
  assert.ok(groupMembers(leader).length > 0, "the subshell still runs");
  // Still running (the group lives), so there is something to kill.
  const show = await stint(["bg", "show", id, "--json"], { env: s.env });
  assert.equal(JSON.parse(show.stdout).status, "running");
  const k = await stint(["bg", "kill", id, "--signal", "KILL"], {
    env: s.env,
  });
  assert.equal(k.code, 0, k.stderr);
  assert.ok(
    await waitGroupGone(leader, 10_000),
    "nothing of the group is left",
  );
});

Deno.test("bg show names the supervisor and the task the same way in its text and --json", async () => {
  const s = tempState();
  const id = await startBg(s, ["sh", "-c", WAIT_GATE], { name: "shown" });
  const task = await taskGroup(s, id, 1);
  const json = JSON.parse(
    (await stint(["bg", "show", id, "--json"], { env: s.env })).stdout,
  );
  assert.equal(json.task_pid, task);
  assert.equal(json.task_pgid, task);
  assert.equal(json.pgid, json.pid, "the supervisor leads its own group");
  assert.notEqual(json.pid, task);
  assert.equal(json.status, "running");
  assert.ok(json.duration_ms >= 0);
  assert.equal(
    json.execution.duration_ms >= 0,
    true,
    "live in the execution too",
  );
  const text = (await stint(["bg", "show", id], { env: s.env })).stdout;
  assert.match(
    text,
    new RegExp(
      `supervisor\\s+pid ${json.pid}, process group ${json.pgid} \\(pid, pgid\\)`,
    ),
  );
  assert.match(
    text,
    new RegExp(
      `task\\s+pid ${task}, process group ${task} \\(task_pid, task_pgid\\)`,
    ),
  );
  Deno.writeTextFileSync(`${s.dir}/gate`, "");
  await waitEnded(s, id);
});
