// A clean install: the runtime import map holds only what stint needs at
// runtime (fauxqs is test-only, in the tests/ workspace member);
// `deno task install` installs those packages at deno.lock's versions;
// stint runs from a checkout in any project directory; --version is
// deno.json's.
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeProject, tempState } from "./support/cli.ts";
import { HAS_SCRIPT, stintOnPty, stripEscapes } from "./support/pty.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const read = (p: string) => JSON.parse(Deno.readTextFileSync(join(ROOT, p)));
const TEST_ONLY = /fauxqs|fastify|pino|avvio/;

Deno.test("the runtime import map has no test-only package; the tests/ member has them", () => {
  const config = read("deno.json");
  assert.ok(!Object.keys(config.imports).some((k) => TEST_ONLY.test(k)));
  assert.ok(
    !Object.values(config.imports).some((v) => TEST_ONLY.test(String(v))),
  );
  assert.ok(config.workspace.includes("./tests"));
  assert.match(read("tests/deno.json").imports.fauxqs, /^npm:fauxqs@/);
  const lock = read("deno.lock");
  assert.ok(
    !lock.workspace.dependencies.some((d: string) => TEST_ONLY.test(d)),
    "the root's locked dependencies are the runtime ones",
  );
});

Deno.test("deno task install: runtime packages only, at deno.lock's versions; the shim works anywhere", async () => {
  const st = tempState();
  const root = join(st.dir, "root");
  const started = Date.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "install", "--root", root],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  console.log(`installed in ${Date.now() - started} ms`);
  const hidden = join(root, "bin", ".stint");
  const packages = [...Deno.readDirSync(join(hidden, "node_modules", ".deno"))]
    .map((e) => e.name);
  assert.ok(packages.length > 0);
  assert.deepEqual(packages.filter((p) => TEST_ONLY.test(p)), []);
  assert.ok(packages.some((p) => p.startsWith("cli-table3@")));
  // Every package it resolved is the one deno.lock pins.
  const locked = read("deno.lock").specifiers as Record<string, string>;
  const installed = JSON.parse(
    Deno.readTextFileSync(join(hidden, "deno.lock")),
  ).specifiers as Record<string, string>;
  assert.ok(Object.keys(installed).length > 0);
  for (const [spec, version] of Object.entries(installed)) {
    assert.equal(version, locked[spec], spec);
  }
  // The installed command, from a project directory of its own.
  const project = makeProject(st.dir, { greet: "echo hi" }, { name: "p" });
  const shim = join(root, "bin", "stint");
  const run = (args: string[]) =>
    new Deno.Command(shim, {
      args,
      cwd: project,
      env: st.env,
      stdout: "piped",
      stderr: "piped",
    }).output();
  const v = await run(["--version"]);
  assert.equal(
    new TextDecoder().decode(v.stdout),
    `stint ${read("deno.json").version}\n`,
  );
  const tasks = await run(["tasks"]);
  assert.equal(tasks.code, 0, new TextDecoder().decode(tasks.stderr));
  assert.match(new TextDecoder().decode(tasks.stdout), /^greet\s+echo hi/m);
});

Deno.test("run from a checkout: deno run <checkout>/main.ts works in any project directory", async () => {
  const st = tempState();
  // A project whose own config maps a name stint uses: stint must keep its own.
  const project = makeProject(st.dir, { greet: "echo hi from p" }, {
    name: "p",
  });
  const config = JSON.parse(Deno.readTextFileSync(join(project, "deno.json")));
  config.imports = { "cli-table3": "./nope.ts" };
  Deno.writeTextFileSync(join(project, "deno.json"), JSON.stringify(config));
  const stint = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", join(ROOT, "main.ts"), ...args],
      cwd: project,
      env: { ...st.env, COLUMNS: "80" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const r = await stint(["run", "greet"]);
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  assert.equal(new TextDecoder().decode(r.stdout), "hi from p\n");
  const h = await stint(["history"]);
  assert.match(new TextDecoder().decode(h.stdout), /p:greet\s+just now/);
  if (HAS_SCRIPT) {
    // A box loads cli-table3 through stint's import map, not the project's.
    const boxed = await stintOnPty(["history"], {
      cols: 80,
      env: st.env,
      cwd: project,
    });
    assert.equal(boxed.code, 0, boxed.output);
    assert.match(stripEscapes(boxed.output), /┌[\s\S]*p:greet/);
  }
});
