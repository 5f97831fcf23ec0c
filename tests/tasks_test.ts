import assert from "node:assert/strict";
import { join } from "node:path";
import { StintError, UsageError } from "../src/errors.ts";
import { findProject, resolveTask, taskRef } from "../src/tasks/mod.ts";
import { parseJsonc, stripJsonc } from "../src/tasks/jsonc.ts";
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
  // Valid JSON is unchanged, so package.json parses the same either way.
  const json = '{"a":[1,{"b":"c,]"}],"d":"/*x*/"}';
  assert.equal(stripJsonc(json), json);
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
    () => resolveTask(root, "x"),
    (e) => e instanceof UsageError && /defines no tasks/.test(e.message),
  );
});

Deno.test("findProject: a malformed config is a one-line StintError naming the file", () => {
  const root = tempDir();
  write(join(root, "deno.json"), '{"tasks": {"a": "x"');
  assert.throws(
    () => findProject(root),
    (e) =>
      e instanceof StintError && !(e instanceof UsageError) &&
      e.message.includes(join(root, "deno.json")) &&
      !e.message.includes("\n"),
  );
  write(join(root, "deno.json"), '{"tasks": ["a"]}');
  assert.throws(() => findProject(root), /"tasks" in .* must be an object/);
  write(join(root, "deno.json"), '{"tasks": {"a": 3}}');
  assert.throws(() => findProject(root), /Task "a" .* string or an object/);
});

Deno.test("resolveTask: finds the task and its project", () => {
  const root = tempDir();
  write(join(root, "deno.json"), '{"tasks":{"hello":"echo hi"}}');
  const { project, task } = resolveTask(root, "hello");
  assert.equal(project.dir, root);
  assert.equal(task.command, "echo hi");
});

Deno.test("resolveTask: an unknown task is a UsageError with close matches", () => {
  const root = tempDir();
  write(
    join(root, "deno.json"),
    '{"tasks":{"build":"a","build:web":"b","test":"c","lint":"d"}}',
  );
  assert.throws(
    () => resolveTask(root, "buld"),
    (e) =>
      e instanceof UsageError && e.exitCode === 2 &&
      e.message.includes(join(root, "deno.json")) &&
      e.message.includes('"build"') && !e.message.includes('"lint"'),
  );
  assert.throws(
    () => resolveTask(root, "zzzzzz"),
    (e) => e instanceof UsageError && /stint tasks/.test(e.message),
  );
});

Deno.test("resolveTask: no config anywhere is a StintError (exit 1)", () => {
  // The temp dir's ancestors (/tmp, /) hold no config on a sane machine;
  // guard so the test fails loudly rather than passing vacuously if they do.
  const root = tempDir();
  if (findProject(root) !== null) {
    throw new Error(`a config exists above ${root}; cannot run this test`);
  }
  assert.throws(
    () => resolveTask(root, "x"),
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
