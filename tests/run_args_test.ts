/**
 * `stint run`'s command line: stint's own options, deno task's options
 * passed on word for word, and everything after the task name the task's.
 * @module
 */
import assert from "node:assert/strict";
import {
  DENO_TASK_OPTIONS,
  parseRunArgs,
  RUN_OWN_OPTIONS,
  taskNameIndex,
} from "../src/cli/run_args.ts";
import { extractGlobals } from "../src/cli/mod.ts";

Deno.test("run args: stint's options are taken, deno task's passed on as written", () => {
  const p = parseRunArgs([
    "-b",
    "--cwd",
    "pkg",
    "-rj2",
    "--env-file=.env",
    "--json",
    "--name",
    "ci:build",
    "build",
    "--watch",
  ]);
  assert.equal(p.background, true);
  assert.equal(p.json, true);
  assert.equal(p.name, "ci:build");
  assert.deepEqual(p.denoOptions, [
    "--cwd",
    "pkg",
    "-r",
    "-j2",
    "--env-file=.env",
  ]);
  assert.deepEqual(p.deno, {
    cwd: "pkg",
    recursive: true,
    jobs: "2",
    "env-file": ".env",
  });
  assert.equal(p.task, "build");
  assert.deepEqual(p.taskArgs, ["--watch"]);
  assert.equal(p.unknownOption, null);
});

Deno.test("run args: values as deno task takes them (--lock [file], --env-file only with =)", () => {
  assert.equal(parseRunArgs(["--lock", "my.lock", "t"]).task, "t");
  assert.equal(parseRunArgs(["--lock", "-r", "t"]).deno.lock, true);
  // Like deno: `--env-file .env t` runs the task ".env".
  assert.equal(parseRunArgs(["--env-file", ".env", "t"]).task, ".env");
  assert.equal(parseRunArgs(["--node-modules-dir", "t"]).task, "t");
  assert.equal(parseRunArgs(["-cdeno.jsonc", "t"]).deno.config, "deno.jsonc");
  assert.equal(parseRunArgs(["--concurrency=3", "t"]).deno.jobs, "3");
  assert.equal(parseRunArgs(["--unstable-kv", "t"]).task, "t");
});

Deno.test("run args: after the task name everything is the task's, a -- too (as deno task passes it)", () => {
  assert.deepEqual(parseRunArgs(["t", "-b", "--json", "--", "x"]).taskArgs, [
    "-b",
    "--json",
    "--",
    "x",
  ]);
  assert.deepEqual(parseRunArgs(["t", "--", "x"]).taskArgs, ["--", "x"]);
  assert.deepEqual(parseRunArgs(["t", "--", "--", "x"]).taskArgs, [
    "--",
    "--",
    "x",
  ]);
  assert.deepEqual(parseRunArgs(["--", "t", "a"]).task, "t");
  assert.equal(parseRunArgs([]).task, undefined);
});

Deno.test("run args: an option stint does not know is passed on and noted", () => {
  const p = parseRunArgs(["--frobnicate=3", "-Z", "t"]);
  assert.equal(p.unknownOption, "--frobnicate");
  assert.deepEqual(p.denoOptions, ["--frobnicate=3", "-Z"]);
  assert.equal(p.task, "t");
  assert.equal(parseRunArgs(["--name"]).missingValue, "--name");
});

Deno.test("globals are taken before a run's task name only; -q also goes to deno task", () => {
  assert.equal(taskNameIndex(["--db", "x.db", "-q", "t", "--help"]), 3);
  let g = extractGlobals([
    "run",
    "--db",
    "x.db",
    "-q",
    "t",
    "--help",
    "--db",
    "y",
  ], { taskNameIndex });
  assert.equal(g.db, "x.db");
  assert.equal(g.quiet, true);
  assert.equal(g.help, false, "--help after the task name is the task's");
  assert.deepEqual(g.args, ["run", "-q", "t", "--help", "--db", "y"]);
  g = extractGlobals(["run", "--help"], { taskNameIndex });
  assert.equal(g.help, true);
  g = extractGlobals(["history", "--json", "-q"]);
  assert.deepEqual(g.args, ["history", "--json"]);
  assert.equal(g.quiet, true);
});

Deno.test("the option tables describe every option (for help and completions)", () => {
  for (const o of [...RUN_OWN_OPTIONS, ...DENO_TASK_OPTIONS]) {
    assert.ok(o.long.length > 1 && o.help.length > 0, o.long);
  }
  const longs = DENO_TASK_OPTIONS.map((o) => o.long);
  for (
    const want of [
      "cwd",
      "config",
      "recursive",
      "members",
      "filter",
      "eval",
      "if-present",
      "no-prefix",
      "jobs",
      "env-file",
      "node-modules-dir",
      "lock",
      "no-lock",
      "frozen-lockfile",
    ]
  ) assert.ok(longs.includes(want), want);
});

Deno.test("every option `deno task --help` lists is in stint's table", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--help"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
  }).output();
  const help = new TextDecoder().decode(out.stdout);
  const listed = [...help.matchAll(/^\s+(?:-(\w), )?--([\w-]+)/gm)];
  assert.ok(listed.length >= 14, help);
  for (const [, short, long] of listed) {
    if (long === "help") continue;
    const opt = DENO_TASK_OPTIONS.find((o) => o.long === long);
    assert.ok(opt, `--${long} is in DENO_TASK_OPTIONS`);
    if (short) assert.equal(opt.short, short, `-${short} for --${long}`);
  }
});
