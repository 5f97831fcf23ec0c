import assert from "node:assert/strict";
import { join } from "node:path";
import { NotFoundError, StintError, UsageError } from "../src/errors.ts";
import { findProject, refForName, taskRef } from "../src/tasks/mod.ts";
import { resolveRun } from "../src/tasks/resolve.ts";
import { JsoncError, parseJsonc } from "../src/tasks/jsonc.ts";
import { basename, dirname, resolve } from "../src/tasks/path.ts";

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "stint-tasks-" });
}

function write(path: string, text: string): void {
  Deno.mkdirSync(join(path, ".."), { recursive: true });
  Deno.writeTextFileSync(path, text);
}

Deno.test("jsonc: comments and trailing commas are stripped, strings kept", () => {
  const text = `{
    // a line comment
    "a": "http://x//not-a-comment", /* block
    comment */ "b": [1, 2,],
    "c": "quote \\" // still string",
    "d": { "e": 1, },
  }`;
  assert.deepEqual(parseJsonc(text), {
    a: "http://x//not-a-comment",
    b: [1, 2],
    c: 'quote " // still string',
    d: { e: 1 },
  });
  // Valid JSON parses as JSON.parse parses it.
  const json = '{"a":[1,{"b":"c,]"}],"d":"/*x*/","__proto__":{"x":1}}';
  assert.deepEqual(parseJsonc(json), JSON.parse(json));
});

Deno.test("jsonc: a comma inside a string before a bracket is kept", () => {
  assert.deepEqual(parseJsonc('{"a": ",}", "b": [","]}'), {
    a: ",}",
    b: [","],
  });
});

Deno.test("findProject: nearest deno.jsonc walking up, string and object tasks", () => {
  const root = tempDir();
  write(
    join(root, "app", "deno.jsonc"),
    `{
      // the app
      "name": "myapp",
      "tasks": {
        "build": "deno run build.ts",
        "test": {
          "command": "deno test",
          "description": "Run the tests",
          "dependencies": ["build"],
        },
        "all": { "dependencies": ["build", "test"] },
      },
    }`,
  );
  const deep = join(root, "app", "src", "deep");
  Deno.mkdirSync(deep, { recursive: true });
  const p = findProject(deep);
  assert.ok(p);
  assert.equal(p.configPath, join(root, "app", "deno.jsonc"));
  assert.equal(p.dir, join(root, "app"));
  assert.equal(p.name, "myapp");
  assert.deepEqual(p.tasks.map((t) => t.name), ["build", "test", "all"]);
  const test = p.tasks[1];
  assert.equal(test.command, "deno test");
  assert.equal(test.description, "Run the tests");
  assert.deepEqual(test.dependencies, ["build"]);
  assert.equal(p.tasks[2].command, null);
  assert.deepEqual(p.tasks[2].dependencies, ["build", "test"]);
  assert.equal(taskRef(p, "build"), "myapp:build");
});

Deno.test("findProject: name falls back to the directory basename", () => {
  const root = tempDir();
  write(join(root, "widget", "deno.json"), '{"tasks":{"a":"echo a"}}');
  const p = findProject(join(root, "widget"));
  assert.equal(p?.name, "widget");
});

Deno.test("findProject: deno.json wins over deno.jsonc in the same directory", () => {
  const root = tempDir();
  write(join(root, "deno.json"), '{"tasks":{"fromjson":"x"}}');
  write(join(root, "deno.jsonc"), '{"tasks":{"fromjsonc":"y"}}');
  const p = findProject(root);
  assert.equal(p?.configPath, join(root, "deno.json"));
  assert.deepEqual(p?.tasks.map((t) => t.name), ["fromjson"]);
});

Deno.test("findProject: package.json scripts, and deno.json wins name clashes", () => {
  const root = tempDir();
  write(
    join(root, "package.json"),
    JSON.stringify({
      name: "pkgname",
      scripts: { start: "node start.js", build: "tsc" },
    }),
  );
  const onlyPkg = findProject(root);
  assert.equal(onlyPkg?.configPath, join(root, "package.json"));
  assert.equal(onlyPkg?.name, "pkgname");
  assert.deepEqual(onlyPkg?.tasks.map((t) => [t.name, t.source]), [
    ["start", "package.json"],
    ["build", "package.json"],
  ]);

  write(join(root, "deno.json"), '{"tasks":{"build":"deno run b.ts"}}');
  const both = findProject(root);
  assert.equal(both?.configPath, join(root, "deno.json"));
  // No name in deno.json: the package.json name is used before the basename.
  assert.equal(both?.name, "pkgname");
  assert.deepEqual(both?.tasks.map((t) => [t.name, t.command]), [
    ["build", "deno run b.ts"],
    ["start", "node start.js"],
  ]);
});

Deno.test("findProject: the nearest directory wins over a parent's config", () => {
  const root = tempDir();
  write(join(root, "deno.json"), '{"tasks":{"outer":"x"}}');
  write(join(root, "inner", "package.json"), '{"scripts":{"inner":"y"}}');
  assert.deepEqual(
    findProject(join(root, "inner"))?.tasks.map((t) => t.name),
    ["inner"],
  );
  assert.deepEqual(findProject(root)?.tasks.map((t) => t.name), ["outer"]);
});

Deno.test("findProject: a config without tasks is still the project", () => {
  const root = tempDir();
  write(join(root, "deno.json"), '{"name":"bare"}');
  const p = findProject(root);
  assert.equal(p?.name, "bare");
  assert.deepEqual(p?.tasks, []);
  assert.throws(
    () => resolveRun({ cwd: root, task: "x" }),
    (e) => e instanceof NotFoundError && /defines no tasks/.test(e.message),
  );
});

Deno.test("findProject: what stint cannot read is a one-line problem naming the file (deno decides)", () => {
  const root = tempDir();
  write(join(root, "deno.json"), '{"tasks": {"a": "x"');
  let p = findProject(root);
  assert.equal(p?.problems.length, 1);
  assert.ok(p!.problems[0].includes(join(root, "deno.json")));
  assert.ok(!p!.problems[0].includes("\n"));
  write(join(root, "deno.json"), '{"tasks": ["a"]}');
  assert.match(
    findProject(root)!.problems[0],
    /"tasks" in .* must be an object/,
  );
  write(join(root, "deno.json"), '{"tasks": {"a": 3}}');
  assert.match(
    findProject(root)!.problems[0],
    /Task "a" .* string or an object/,
  );
  // Unsure: the run is handed to deno task, never refused.
  const target = resolveRun({ cwd: root, task: "zzz" });
  assert.ok(target?.unsure);
  assert.equal(target?.ref, `${p!.name}:zzz`);
  p = null;
});

Deno.test("resolveRun: finds the task and its project", () => {
  const root = tempDir();
  write(join(root, "deno.json"), '{"tasks":{"hello":"echo hi"}}');
  const target = resolveRun({ cwd: root, task: "hello" });
  assert.equal(target?.projectDir, root);
  assert.equal(target?.unsure, null);
  assert.equal(target?.matched, null);
});

Deno.test("resolveRun: an unknown task is a NotFoundError (exit 1, as deno task) with close matches (a swap is one edit)", () => {
  const root = tempDir();
  write(
    join(root, "deno.json"),
    '{"tasks":{"build":"a","build:web":"b","test":"c","lint":"d"}}',
  );
  for (const typo of ["buld", "biuld"]) {
    assert.throws(
      () => resolveRun({ cwd: root, task: typo }),
      (e) =>
        e instanceof NotFoundError && e.exitCode === 1 &&
        e.message.includes(join(root, "deno.json")) &&
        e.message.includes('"build"') && !e.message.includes('"lint"'),
    );
  }
  assert.throws(
    () => resolveRun({ cwd: root, task: "zzzzzz" }),
    (e) => e instanceof NotFoundError && /stint tasks/.test(e.message),
  );
  // --if-present: nothing to run, no error.
  assert.equal(
    resolveRun({ cwd: root, task: "zzzzzz", ifPresent: true }),
    null,
  );
});

Deno.test("resolveRun: no config anywhere is a StintError (exit 1)", () => {
  // The temp dir's ancestors (/tmp, /) hold no config on a sane machine;
  // guard so the test fails loudly rather than passing vacuously if they do.
  const root = tempDir();
  if (findProject(root) !== null) {
    throw new Error(`a config exists above ${root}; cannot run this test`);
  }
  assert.throws(
    () => resolveRun({ cwd: root, task: "x" }),
    (e) =>
      e instanceof StintError && !(e instanceof UsageError) &&
      e.exitCode === 1 && /No deno.json/.test(e.message),
  );
});

Deno.test("path helpers: resolve, dirname, basename, join (POSIX)", () => {
  if (Deno.build.os === "windows") return;
  assert.equal(resolve("/a/b/../c/./d/"), "/a/c/d");
  assert.equal(resolve("x/y"), `${Deno.cwd()}/x/y`.replace(/\/+/g, "/"));
  assert.equal(resolve("/.."), "/");
  assert.equal(dirname("/a/b"), "/a");
  assert.equal(dirname("/a"), "/");
  assert.equal(dirname("/"), "/");
  assert.equal(basename("/a/b"), "b");
  assert.equal(basename("/"), "");
  assert.equal(join("/", "deno.json"), "/deno.json");
  assert.equal(join("/a", "deno.json"), "/a/deno.json");
});

Deno.test("findProject: a relative start directory resolves against the cwd", () => {
  const root = tempDir();
  write(join(root, "deno.json"), '{"tasks":{"a":"x"}}');
  Deno.mkdirSync(join(root, "sub"));
  const rel = relativeTo(Deno.cwd(), join(root, "sub"));
  assert.equal(findProject(rel)?.dir, root);
});

function relativeTo(from: string, to: string): string {
  const up = from.split("/").filter(Boolean).map(() => "..").join("/");
  return `${up}${to}`;
}

/** A deno workspace: root tasks, a deno member, a package.json member, and an outsider. */
function workspace(): string {
  const root = tempDir();
  write(
    join(root, "deno.json"),
    JSON.stringify({
      name: "@ws/root",
      workspace: ["./packages/a", "packages/b"],
      tasks: {
        shared: "echo root-shared",
        root: "pwd",
        "build:x": "echo x",
      },
    }),
  );
  write(
    join(root, "packages", "a", "deno.json"),
    JSON.stringify({
      name: "@ws/a",
      tasks: { shared: "echo a-shared", own: "pwd", "build:y": "echo y" },
    }),
  );
  write(
    join(root, "packages", "b", "package.json"),
    JSON.stringify({ name: "b-pkg", scripts: { bs: "echo b" } }),
  );
  write(join(root, "outside", "deno.json"), '{"tasks":{"c":"echo c"}}');
  return root;
}

Deno.test("workspace: a member sees the root's tasks after its own, marked, and a root task's ref is the root's", () => {
  const root = workspace();
  const p = findProject(join(root, "packages", "a", "src"))!;
  assert.equal(p.name, "@ws/a");
  assert.equal(p.root?.name, "@ws/root");
  assert.deepEqual(p.problems, []);
  assert.deepEqual(p.tasks.map((t) => [t.name, t.workspace]), [
    ["shared", false],
    ["own", false],
    ["build:y", false],
    ["root", true],
    ["build:x", true],
  ]);
  assert.equal(taskRef(p, "own"), "@ws/a:own");
  assert.equal(taskRef(p, "shared"), "@ws/a:shared", "the member's own wins");
  assert.equal(taskRef(p, "root"), "@ws/root:root");
  const b = findProject(join(root, "packages", "b"))!;
  assert.deepEqual(b.tasks.map((t) => [t.name, t.source, t.workspace]), [
    ["bs", "package.json", false],
    ["shared", "deno.json", true],
    ["root", "deno.json", true],
    ["build:x", "deno.json", true],
  ]);
  // From the root (or a plain directory under it): only the root's tasks.
  for (const dir of [root, join(root, "docs", "deep")]) {
    Deno.mkdirSync(dir, { recursive: true });
    const r = findProject(dir)!;
    assert.equal(r.root, null);
    assert.equal(r.name, "@ws/root");
    assert.ok(r.tasks.every((t) => !t.workspace));
  }
  // A config the root does not list stands alone, as deno has it.
  const out = findProject(join(root, "outside"))!;
  assert.equal(out.root, null);
  assert.deepEqual(out.tasks.map((t) => t.name), ["c"]);
});

Deno.test("workspace: member globs follow deno (*, last match wins, ! excludes, no hidden dirs)", () => {
  const root = tempDir();
  write(
    join(root, "deno.json"),
    JSON.stringify({
      workspace: { members: ["./libs/*", "!libs/skip", "apps/**"] },
      tasks: { top: "echo top" },
    }),
  );
  for (const m of ["libs/one", "libs/skip", "libs/.hidden", "apps/x/y"]) {
    write(join(root, m, "deno.json"), '{"tasks":{"own":"x"}}');
  }
  const member = (rel: string) => findProject(join(root, rel))!.root !== null;
  assert.equal(member("libs/one"), true);
  assert.equal(member("libs/skip"), false);
  assert.equal(member("libs/.hidden"), false);
  assert.equal(member("apps/x/y"), true);
});

Deno.test("workspace: npm workspaces (package.json members only), object form too", () => {
  const root = tempDir();
  write(
    join(root, "package.json"),
    JSON.stringify({
      name: "npm-root",
      workspaces: { packages: ["packages/*"] },
      scripts: { lint: "eslint ." },
    }),
  );
  write(
    join(root, "packages", "web", "package.json"),
    JSON.stringify({ name: "web", scripts: { dev: "vite" } }),
  );
  // A deno.json alone does not make an npm workspace member.
  write(join(root, "packages", "denoonly", "deno.json"), '{"tasks":{"d":"x"}}');
  const web = findProject(join(root, "packages", "web"))!;
  assert.deepEqual(web.tasks.map((t) => [t.name, t.workspace]), [
    ["dev", false],
    ["lint", true],
  ]);
  assert.equal(taskRef(web, "lint"), "npm-root:lint");
  assert.equal(findProject(join(root, "packages", "denoonly"))!.root, null);
});

Deno.test("workspace: a member pattern stint does not model makes it unsure, never sure of 'not found'", () => {
  const root = tempDir();
  write(
    join(root, "deno.json"),
    JSON.stringify({ workspace: ["../elsewhere/*"], tasks: { t: "x" } }),
  );
  write(join(root, "m", "deno.json"), '{"tasks":{"own":"x"}}');
  const target = resolveRun({ cwd: join(root, "m"), task: "t" });
  assert.ok(target?.unsure, "unsure");
});

Deno.test("resolveRun: wildcards match as deno does (anchored at the start, exclusion groups) and keep the names", () => {
  const root = tempDir();
  write(
    join(root, "deno.json"),
    JSON.stringify({
      name: "app",
      tasks: {
        "build:web": "a",
        "build:cli": "b",
        "build:e2e": "c",
        "rebuild": "d",
      },
    }),
  );
  const m = (task: string) => resolveRun({ cwd: root, task });
  assert.deepEqual(m("build:*")?.matched, [
    "build:web",
    "build:cli",
    "build:e2e",
  ]);
  assert.equal(m("build:*")?.ref, "app:build:*");
  assert.deepEqual(m("buil*")?.matched, [
    "build:web",
    "build:cli",
    "build:e2e",
  ]);
  assert.deepEqual(m("b*d:w")?.matched, ["build:web"], "no end anchor");
  assert.deepEqual(m("build:*(!e2e|cli)")?.matched, ["build:web"]);
  assert.deepEqual(m("*")?.matched?.length, 4);
  assert.throws(
    () => m("deploy:*"),
    (e) =>
      e instanceof NotFoundError &&
      /No task matches "deploy:\*"/.test(e.message),
  );
  // deno rejects an exclusion group without a wildcard itself: deferred.
  assert.ok(m("build(!x)")?.unsure);
});

Deno.test("resolveRun: deno task's workspace flags, --eval, -c and --cwd decide the ref", () => {
  const root = workspace();
  const a = join(root, "packages", "a");
  assert.equal(
    resolveRun({ cwd: a, task: "shared", recursive: true })?.ref,
    "@ws/root:shared@recursive",
  );
  assert.equal(
    resolveRun({ cwd: a, task: "shared", members: true })?.ref,
    "@ws/root:shared@members",
  );
  assert.equal(
    resolveRun({ cwd: a, task: "t", filter: "@ws/*" })?.ref,
    "@ws/root:t@filter=@ws/*",
  );
  assert.equal(
    resolveRun({ cwd: a, task: "echo hi there", eval: true })?.ref,
    "eval:echo",
  );
  assert.equal(
    resolveRun({ cwd: root, task: "own", taskCwd: "packages/a" })?.ref,
    "@ws/a:own",
  );
  assert.equal(
    resolveRun({
      cwd: root,
      task: "c",
      config: join(root, "outside", "deno.json"),
    })?.ref,
    "outside:c",
  );
  // A flag stint does not know: deno judges it; the run goes ahead.
  const odd = resolveRun({
    cwd: a,
    task: "nope",
    unknownOption: "--frobnicate",
  });
  assert.match(odd?.unsure ?? "", /--frobnicate/);
});

Deno.test("refForName: a bare task name is the current project's ref; anything else as typed", () => {
  const root = workspace();
  const a = join(root, "packages", "a");
  assert.equal(refForName("own", a), "@ws/a:own");
  assert.equal(refForName("root", a), "@ws/root:root");
  assert.equal(refForName("build:*", a), "@ws/a:build:*");
  assert.equal(refForName("exec:cargo", a), "exec:cargo");
  assert.equal(refForName("@ws/a:own", a), "@ws/a:own");
  assert.equal(refForName("own", tempDir()), "own");
});

Deno.test("jsonc: as lenient as deno.json parsing (missing commas, words, single quotes, hex, +)", () => {
  assert.deepEqual(
    parseJsonc(`{
      tasks: { 'a': 'x' "b": "y", c-d: 0x1F, 1: +2, },
      list: [1 2, 3,],
    }`),
    { tasks: { a: "x", b: "y", "c-d": 31, "1": 2 }, list: [1, 2, 3] },
  );
  assert.equal(parseJsonc(""), null);
  assert.equal(parseJsonc("  // only a comment\n"), null);
  for (
    const bad of [
      '{"a": 1} x',
      '{"a": undefined}',
      '{"a": "\\x41"}',
      "{'a': 'it\\\"s'}",
      '{"a": 1,, "b": 2}',
      "[,1]",
      "\uFEFF{}",
      '{"a": .5}',
      '{"a" 1}',
      "/* open",
    ]
  ) {
    assert.throws(() => parseJsonc(bad), JsoncError, bad);
  }
  assert.throws(
    () => parseJsonc('{"tasks": {}, "tasks": {}}', { uniqueRootKeys: true }),
    /duplicate field `tasks` on line 1 column 15/,
  );
});
