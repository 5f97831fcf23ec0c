/**
 * Ways back to a run: `stint rerun` (a task with its arguments, a command,
 * a --shell script, the newest run here, the newest failure, by ref / task /
 * id), `bg restart`, and `rerunSpec` / `splitCommand` themselves.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { quoteArg } from "../src/cli/run.ts";
import { rerunSpec, splitCommand } from "../src/runner/rerun.ts";
import type { Execution } from "../src/store/mod.ts";
import {
  makeProject,
  stint,
  type TempState,
  tempState,
  waitFor,
} from "./support/cli.ts";
import { seedRuns } from "./support/history_seed.ts";

interface RunJson {
  id: string;
  ref: string;
  task: string | null;
  command: string;
  args: string[];
  status: string;
  exit_code: number | null;
  project_dir: string;
  rerun_of: string | null;
  background_id: string | null;
  caller_cwd: string | null;
}

async function history(st: TempState): Promise<RunJson[]> {
  const r = await stint(["history", "--all", "--json"], { env: st.env });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function project(st: TempState): string {
  return makeProject(st.dir, {
    echoargs: "echo args:",
    flaky: "echo flaky; exit 3",
    fine: "echo fine",
  }, { name: "app" });
}

Deno.test("rerun repeats a task with the same arguments and names the run it repeats", async () => {
  const st = tempState();
  const dir = project(st);
  const first = await stint(["run", "echoargs", "a", "b c", "it's"], {
    env: st.env,
    cwd: dir,
  });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, "args: a b c it's\n");
  const [original] = await history(st);

  // No id: the newest run of the current project (from a subdirectory too).
  Deno.mkdirSync(join(dir, "sub"));
  const again = await stint(["rerun"], { env: st.env, cwd: join(dir, "sub") });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, "args: a b c it's\n");
  const [repeat] = await history(st);
  assert.notEqual(repeat.id, original.id);
  assert.equal(repeat.rerun_of, original.id);
  assert.equal(repeat.ref, "app:echoargs");
  assert.equal(repeat.task, "echoargs");
  assert.deepEqual(repeat.args, ["a", "b c", "it's"]);
  assert.equal(repeat.command, original.command);
  assert.equal(repeat.project_dir, original.project_dir);
  assert.equal(repeat.status, "succeeded");

  // By ref, by the bare task name, and by an id prefix (--json: the new record).
  for (const target of ["app:echoargs", "echoargs", original.id.slice(0, 13)]) {
    const r = await stint(["rerun", target, "--json"], {
      env: st.env,
      cwd: dir,
    });
    assert.equal(r.code, 0, `${target}: ${r.stderr}`);
    const rec = JSON.parse(r.stdout.slice(r.stdout.indexOf("{")));
    assert.equal(rec.ref, "app:echoargs");
    assert.deepEqual(rec.args, ["a", "b c", "it's"]);
    assert.ok(rec.rerun_of, target);
  }
  const all = await history(st);
  assert.equal(all.length, 5);
  // The id prefix named the original itself.
  assert.equal(all[0].rerun_of, original.id);
});

Deno.test("rerun of a run started away from its project dir with a relative -c / --env-file runs from where it was started, so deno task reads the same files", async () => {
  const st = tempState();
  const dir = makeProject(st.dir, { greet: "echo value=$GREETING" }, {
    name: "app",
  });
  Deno.writeTextFileSync(
    join(dir, "other.json"),
    JSON.stringify({ name: "other", tasks: { alt: "echo alt-ran" } }),
  );
  Deno.writeTextFileSync(join(dir, ".env.test"), "GREETING=hi-from-env\n");
  const sub = join(dir, "sub");
  Deno.mkdirSync(sub);
  const cases = [
    [["-c", "../other.json", "alt"], "alt-ran\n"],
    [["--env-file=../.env.test", "greet"], "value=hi-from-env\n"],
  ] as const;
  for (const [args, out] of cases) {
    const first = await stint(["run", ...args], { env: st.env, cwd: sub });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, out);
    const [original] = await history(st);
    assert.equal(original.caller_cwd, sub);
    assert.equal(original.project_dir, dir);
    // From a directory that is neither the caller's nor the project's.
    const again = await stint(["rerun", original.id], {
      env: st.env,
      cwd: st.dir,
    });
    assert.equal(again.code, 0, `${args.join(" ")}: ${again.stderr}`);
    assert.equal(again.stdout, out);
    const [repeat] = await history(st);
    assert.equal(repeat.rerun_of, original.id);
    assert.equal(repeat.status, "succeeded");
    // And a rerun of the rerun, from the project dir itself.
    const third = await stint(["rerun", repeat.id], { env: st.env, cwd: dir });
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.stdout, out);
  }
});

Deno.test("rerun --failed repeats the newest failure and exits with its code", async () => {
  const st = tempState();
  const dir = project(st);
  assert.equal(
    (await stint(["run", "flaky"], { env: st.env, cwd: dir })).code,
    3,
  );
  assert.equal(
    (await stint(["run", "fine"], { env: st.env, cwd: dir })).code,
    0,
  );
  const r = await stint(["rerun", "--failed"], { env: st.env, cwd: dir });
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, "flaky\n");
  const [newest, fine, flaky] = await history(st);
  assert.equal(newest.ref, "app:flaky");
  assert.equal(newest.rerun_of, flaky.id);
  assert.equal(fine.ref, "app:fine");
  // With a ref: that ref's newest failure.
  const byRef = await stint(["rerun", "app:fine", "--failed"], {
    env: st.env,
    cwd: dir,
  });
  assert.equal(byRef.code, 1);
  assert.match(byRef.stderr, /No failed run with id, ref or task "app:fine"/);
});

Deno.test("rerun of a command (and a --shell script) runs the same argv in its own directory", async () => {
  const st = tempState();
  const here = join(st.dir, "here");
  const elsewhere = join(st.dir, "elsewhere");
  Deno.mkdirSync(here);
  Deno.mkdirSync(elsewhere);
  const script = 'pwd; printf "<%s>" "$@"; echo';
  const r1 = await stint(
    ["exec", "--", "sh", "-c", script, "sh", "a b", "$HOME", "'q'"],
    { env: st.env, cwd: here },
  );
  assert.equal(r1.code, 0, r1.stderr);
  const expected = `${Deno.realPathSync(here)}\n<a b><$HOME><'q'>\n`;
  assert.equal(r1.stdout, expected);
  const [original] = await history(st);
  const r2 = await stint(["rerun", original.id], {
    env: st.env,
    cwd: elsewhere,
  });
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(r2.stdout, expected);
  assert.equal((await history(st))[0].rerun_of, original.id);

  const s1 = await stint(["exec", "--shell", "--", "echo $((40+2)) | tr 4 x"], {
    env: st.env,
    cwd: here,
  });
  assert.equal(s1.stdout, "x2\n");
  const [shellRun] = await history(st);
  const s2 = await stint(["rerun", shellRun.id.slice(0, 13)], {
    env: st.env,
    cwd: elsewhere,
  });
  assert.equal(s2.code, 0, s2.stderr);
  assert.equal(s2.stdout, "x2\n");
});

Deno.test("rerun: a gone directory, nothing to repeat, and bad targets are one-line errors", async () => {
  const st = tempState();
  const gone = join(st.dir, "gone");
  Deno.mkdirSync(gone);
  const none = await stint(["rerun"], { env: st.env, cwd: st.dir });
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^stint: No runs recorded yet/);
  assert.equal(
    (await stint(["exec", "--", "true"], { env: st.env, cwd: gone })).code,
    0,
  );
  const [run] = await history(st);
  Deno.removeSync(gone);
  const r = await stint(["rerun", run.id], { env: st.env, cwd: st.dir });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^stint: Cannot run exec:true again: its directory .*gone does not exist here/,
  );
  assert.equal(r.stderr.trimEnd().split("\n").length, 1);
  const cases: [string[], number, RegExp][] = [
    [["nope:nothing"], 1, /No run with id, ref or task "nope:nothing"/],
    [["ab"], 1, /too short; give at least 4 characters/],
    [[run.id, "--failed"], 2, /--failed picks a run/],
    [["a", "b"], 2, /Unexpected argument "b"/],
    [["--bogus"], 2, /Unknown option --bogus/],
  ];
  for (const [args, code, re] of cases) {
    const c = await stint(["rerun", ...args], { env: st.env, cwd: st.dir });
    assert.equal(c.code, code, `${args.join(" ")}: ${c.stderr}`);
    assert.match(c.stderr, re, args.join(" "));
  }
});

Deno.test("bg restart kills a running run and starts it again; a finished one just starts again", async () => {
  const st = tempState();
  const dir = makeProject(st.dir, {
    // deno task's shell has no loops: the waiting is sh's.
    serve:
      "sh -c 'echo serving; i=0; while [ ! -e gate ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; echo done'",
  }, { name: "web" });
  const start = await stint(["run", "-b", "serve"], { env: st.env, cwd: dir });
  assert.equal(start.code, 0, start.stderr);
  const first = start.stdout.trim();
  const bgList = async () =>
    JSON.parse(
      (await stint(["bg", "list", "--all", "--json"], { env: st.env })).stdout,
    ) as { id: string; status: string; execution_id: string }[];
  await waitFor(async () => {
    const runs = (await history(st)).filter((r) => r.status === "running");
    return runs.length === 1 && runs[0].background_id === first;
  }, { what: "the first run to start" });

  const r = await stint(["bg", "restart", first, "--grace", "2s"], {
    env: st.env,
    cwd: st.dir,
  });
  assert.equal(r.code, 0, r.stderr);
  const second = r.stdout.trim();
  assert.match(second, /^[0-9a-z]{8}$/);
  assert.notEqual(second, first);
  const runs = await bgList();
  assert.equal(runs.find((b) => b.id === first)?.status, "killed");
  await waitFor(async () => {
    const all = await history(st);
    return all.find((e) =>
      e.background_id === second && e.status === "running"
    );
  }, { what: "the restarted run to start" });
  const all = await history(st);
  const old = all.find((e) => e.background_id === first)!;
  const fresh = all.find((e) => e.background_id === second)!;
  assert.equal(fresh.rerun_of, old.id);
  assert.equal(fresh.ref, "web:serve");
  Deno.writeTextFileSync(join(dir, "gate"), "");
  const w = await stint(["bg", "wait", second, "--timeout", "30s"], {
    env: st.env,
  });
  assert.equal(w.code, 0, w.stderr);
  const log = await stint(["bg", "logs", second], { env: st.env });
  assert.match(log.stdout, /serving\ndone\n$/);

  // Finished: restart just starts it again (the gate is open: it ends at once).
  const again = await stint(["bg", "restart", second, "--json"], {
    env: st.env,
  });
  assert.equal(again.code, 0, again.stderr);
  const third = JSON.parse(again.stdout);
  assert.equal(third.ref, "web:serve");
  const end = await stint(["bg", "wait", third.id, "--json"], { env: st.env });
  assert.equal(JSON.parse(end.stdout).status, "succeeded");
});

Deno.test("splitCommand reads back every command line quoteArg writes", () => {
  const words = [
    "deno",
    "task",
    "test",
    "--filter",
    "a b",
    "it's",
    "",
    "$HOME",
    'say "hi"',
    "tab\there",
    "new\nline",
    "ünïcode",
    "--x=1,2",
  ];
  assert.deepEqual(splitCommand(words.map(quoteArg).join(" ")), words);
  assert.equal(splitCommand("echo $(rm -rf x)"), null);
  assert.equal(splitCommand("echo 'unclosed"), null);
});

Deno.test("rerunSpec: a task goes through deno task again, a command runs its argv", () => {
  const [task, cmd, shell] = seedRuns(tempState().db, [
    { ref: "app:test", startedAt: Date.now() - 3000 },
    { ref: "exec:ls", startedAt: Date.now() - 2000 },
    { ref: "exec:sh", startedAt: Date.now() - 1000 },
  ]);
  const t: Execution = {
    ...task,
    task: "test",
    args: ["--filter", "a b"],
    command: "deno task test --filter 'a b'",
    projectDir: "/srv/app",
  };
  const ts = rerunSpec(t, {
    denoPath: "/bin/deno",
    callerCwd: "/home",
    env: {},
  });
  assert.equal(ts.program, "/bin/deno");
  assert.deepEqual(ts.programArgs, ["task", "test", "--filter", "a b"]);
  assert.equal(ts.cwd, "/srv/app");
  assert.equal(ts.rerunOf, task.id);
  assert.deepEqual(ts.extraEnv, { INIT_CWD: "/home" });
  // deno task flags recorded on the command line are kept.
  const flagged = rerunSpec({
    ...t,
    command: "deno task --cwd pkg test --filter 'a b'",
  }, {
    denoPath: "/bin/deno",
    callerCwd: "/home",
    env: {},
  });
  assert.deepEqual(flagged.programArgs, [
    "task",
    "--cwd",
    "pkg",
    "test",
    "--filter",
    "a b",
  ]);
  const c = rerunSpec(
    {
      ...cmd,
      task: null,
      command: "ls -la 'my dir'",
      args: ["-la", "my dir"],
      projectDir: "/tmp",
    },
    { denoPath: "/bin/deno", callerCwd: "/home", env: {} },
  );
  assert.equal(c.program, "ls");
  assert.deepEqual(c.programArgs, ["-la", "my dir"]);
  const s = rerunSpec(
    {
      ...shell,
      task: null,
      command: "sh -c 'echo hi'",
      args: ["echo hi"],
      projectDir: "/tmp",
    },
    { denoPath: "/bin/deno", callerCwd: "/home", env: {} },
  );
  assert.equal(s.program, "/bin/sh");
  assert.deepEqual(s.programArgs, ["-c", "echo hi"]);
});
