// history's filters (--grep, --exit, --project, --cwd, --until, --status
// aliases), one vocabulary across history and bg, live durations, and what
// a too-short or ambiguous id prefix says.
import assert from "node:assert/strict";
import { join } from "node:path";
import { processStartTime } from "../src/store/process.ts";
import { saveBackgroundRun, withStore } from "../src/store/mod.ts";
import { stint, tempState } from "./support/cli.ts";
import { seedRuns } from "./support/history_seed.ts";

const HOUR = 3_600_000;

function refsOf(stdout: string): string[] {
  return (JSON.parse(stdout) as { ref: string }[]).map((r) => r.ref);
}

Deno.test("history --grep, --exit, --cwd, --project and --until narrow the list in the store", async () => {
  const st = tempState();
  const app = join(st.dir, "app");
  const lib = join(st.dir, "app", "packages", "lib");
  const other = join(st.dir, "other");
  for (const d of [lib, other]) Deno.mkdirSync(d, { recursive: true });
  Deno.writeTextFileSync(join(app, "deno.json"), '{"tasks": {}}');
  // A project of its own inside app.
  Deno.writeTextFileSync(join(lib, "deno.json"), '{"tasks": {}}');
  const now = Date.now();
  seedRuns(st.db, [
    {
      ref: "app:test",
      startedAt: now - 3 * HOUR,
      status: "failed",
      exitCode: 2,
      projectDir: app,
      command: "deno task test --filter Parser",
      args: ["--filter", "Parser"],
    },
    { ref: "app:build", startedAt: now - 2 * HOUR, projectDir: app },
    {
      ref: "lib:check",
      startedAt: now - 30 * 60_000,
      status: "failed",
      exitCode: 1,
      projectDir: lib,
    },
    { ref: "exec:curl", startedAt: now - 60_000, projectDir: other },
    { ref: "50%_off:sale", startedAt: now - 30_000, projectDir: other },
  ]);
  const q = async (args: string[], cwd = st.dir) => {
    const r = await stint(["history", "--json", ...args], { env: st.env, cwd });
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    return refsOf(r.stdout);
  };
  // --grep: ref, command line or arguments, any case; % and _ are literal.
  assert.deepEqual(await q(["--grep", "parser"]), ["app:test"]);
  assert.deepEqual(await q(["--grep", "CURL"]), ["exec:curl"]);
  assert.deepEqual(await q(["--grep", "50%_"]), ["50%_off:sale"]);
  assert.deepEqual(await q(["--grep", "0%"]), ["50%_off:sale"]);
  // --exit: exactly that code (0 too).
  assert.deepEqual(await q(["--exit", "2"]), ["app:test"]);
  assert.deepEqual(await q(["--exit", "0"]), [
    "50%_off:sale",
    "exec:curl",
    "app:build",
  ]);
  // --cwd: that directory and below (relative to where stint runs).
  assert.deepEqual(await q(["--cwd", "app"]), [
    "lib:check",
    "app:build",
    "app:test",
  ]);
  assert.deepEqual(await q(["--cwd", lib]), ["lib:check"]);
  assert.deepEqual(await q(["--cwd", join(st.dir, "ap")]), []);
  // --project: the nearest config's directory, from anywhere inside it.
  assert.deepEqual(await q(["--project"], join(app, "packages")), [
    "lib:check",
    "app:build",
    "app:test",
  ]);
  // --until: started before; with --since a window.
  assert.deepEqual(await q(["--until", "1h"]), ["app:build", "app:test"]);
  assert.deepEqual(await q(["--since", "150m", "--until", "1h"]), [
    "app:build",
  ]);
  // Filters combine.
  assert.deepEqual(await q(["--status", "failed", "--project"], lib), [
    "lib:check",
  ]);
  const none = await stint(["history", "--exit", "42"], { env: st.env });
  assert.match(none.stdout, /^No runs match these filters/);
});

Deno.test("history --status accepts completed (the old background word) for succeeded", async () => {
  const st = tempState();
  seedRuns(st.db, [
    { ref: "a:ok", startedAt: Date.now() - 2000 },
    { ref: "a:bad", startedAt: Date.now() - 1000, status: "failed" },
  ]);
  for (const word of ["completed", "succeeded", "SUCCEEDED"]) {
    const r = await stint(["history", "--status", word, "--json"], {
      env: st.env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(refsOf(r.stdout), ["a:ok"], word);
  }
});

Deno.test("history filters: bad values are one-line usage errors", async () => {
  const st = tempState();
  const cases: [string[], RegExp][] = [
    [["--exit", "256"], /--exit must be a whole number from 0 to 255/],
    [["--exit", "x"], /--exit must be a whole number/],
    [["--until", "soon"], /--until must be a duration/],
    [["--project", "--cwd", "/tmp"], /either --project or --cwd/],
    [["--grep", ""], /--grep needs some text/],
    [["--status", "done"], /--status must be one of running, succeeded/],
  ];
  for (const [args, re] of cases) {
    const r = await stint(["history", ...args], { env: st.env });
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1);
  }
});

Deno.test("a running run has a live duration_ms in history and in bg; bg and history use one status word", async () => {
  const st = tempState();
  const started = Date.now() - 5000;
  const pidStart = processStartTime(Deno.pid);
  // This test process stands in for the live recorder.
  const [running, done] = seedRuns(st.db, [
    {
      ref: "a:dev",
      startedAt: started,
      status: "running",
      pid: Deno.pid,
      pidStart,
    },
    { ref: "a:build", startedAt: started - 1000, backgroundId: "zz1done0" },
  ]);
  withStore(st.db, (db) => {
    saveBackgroundRun(db, {
      id: "zz0runs0",
      ref: "a:dev",
      executionId: running.id,
      pid: Deno.pid,
      pidStart,
      startedAt: started,
    });
    saveBackgroundRun(db, {
      id: "zz1done0",
      ref: "a:build",
      executionId: done.id,
      status: "completed",
      exitCode: 0,
      startedAt: started - 1000,
      completedAt: started,
    });
  });
  const h = JSON.parse(
    (await stint(["history", "--json"], { env: st.env })).stdout,
  );
  const live = h.find((e: { id: string }) => e.id === running.id);
  assert.equal(live.status, "running");
  assert.ok(live.duration_ms >= 5000 && live.duration_ms < 60_000, live);
  const bg = JSON.parse(
    (await stint(["bg", "list", "--all", "--json"], { env: st.env })).stdout,
  );
  const liveBg = bg.find((b: { id: string }) => b.id === "zz0runs0");
  assert.ok(liveBg.duration_ms >= 5000 && liveBg.duration_ms < 60_000);
  // The finished one: "succeeded" in bg as in history.
  const doneBg = bg.find((b: { id: string }) => b.id === "zz1done0");
  assert.equal(doneBg.status, "succeeded");
  assert.equal(
    h.find((e: { id: string }) => e.id === done.id).status,
    "succeeded",
  );
  const table = await stint(["bg", "list", "--all"], { env: st.env });
  assert.match(table.stdout, /zz1done0\s+a:build\s+succeeded/);
  assert.doesNotMatch(table.stdout, /completed/);
});

Deno.test("an id prefix shorter than the minimum says so; an ambiguous one names its candidates", async () => {
  const st = tempState();
  const t = Date.UTC(2026, 10, 23, 15, 28, 0, 0);
  // Same millisecond: the ids share their first 12 hex digits.
  const runs = seedRuns(st.db, [
    { ref: "app:test", startedAt: t, log: "1\n" },
    { ref: "app:build", startedAt: t, log: "2\n" },
    { ref: "app:lint", startedAt: t, log: "3\n" },
    { ref: "app:fmt", startedAt: t, log: "4\n" },
    { ref: "app:dev", startedAt: t, log: "5\n" },
  ]);
  const prefix = runs[0].id.slice(0, 9);
  const amb = await stint(["logs", prefix], { env: st.env });
  assert.equal(amb.code, 1);
  assert.match(
    amb.stderr,
    new RegExp(`^stint: Run id prefix "${prefix}" is ambiguous: `),
  );
  assert.match(amb.stderr, /\(app:\w+, 2026-11-23 15:28\)/);
  assert.match(amb.stderr, / and 2 more; give more characters\n$/);
  assert.equal(amb.stderr.trimEnd().split("\n").length, 1);
  // Each candidate shown is long enough to pick it.
  const shown = [...amb.stderr.matchAll(/([0-9a-f-]{10,}) \(app:/g)].map((m) =>
    m[1]
  );
  assert.equal(shown.length, 3);
  for (const id of shown) {
    const one = await stint(["logs", id], { env: st.env });
    assert.equal(one.code, 0, `${id}: ${one.stderr}`);
  }
  const short = await stint(["logs", "01a"], { env: st.env });
  assert.equal(short.code, 1);
  assert.match(
    short.stderr,
    /a run id prefix "01a" is too short; give at least 4 characters/,
  );
  const rerunShort = await stint(["rerun", "01a"], { env: st.env });
  assert.match(rerunShort.stderr, /too short; give at least 4 characters/);

  withStore(st.db, (db) => {
    for (const id of ["ab12cd34", "ab12ef56"]) {
      saveBackgroundRun(db, {
        id,
        ref: "app:dev",
        status: "completed",
        startedAt: t,
        completedAt: t + 1,
      });
    }
  });
  const bgAmb = await stint(["bg", "show", "ab12"], { env: st.env });
  assert.equal(bgAmb.code, 1);
  assert.match(
    bgAmb.stderr,
    /^stint: Background run id "ab12" is ambiguous: ab12cd34 \(app:dev, 2026-11-23 15:28\), ab12ef56 \(app:dev, 2026-11-23 15:28\); give more characters\n$/,
  );
  const bgShort = await stint(["bg", "show", "a"], { env: st.env });
  assert.equal(bgShort.code, 1);
  assert.match(
    bgShort.stderr,
    /prefix "a" is too short; give at least 2 characters/,
  );
});
