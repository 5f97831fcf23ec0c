/**
 * Parity with `deno task`: projects built in temp dirs (workspaces, npm
 * workspaces, wildcards, deno task's flags, bare arguments, lenient
 * configs) and each case run with both `deno task ...` and `stint run ...`,
 * comparing stdout, stderr and the exit code; the tasks print their cwd and
 * INIT_CWD, so those are compared too. Each stint run must also be
 * recorded under the ref that says what ran. Plus `stint run` with no task
 * and `stint tasks` against deno task's listing in a workspace member.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listExecutions, withStore } from "../src/store/mod.ts";
import { parseListing } from "../src/tasks/listing.ts";
import {
  assertFails,
  stint,
  type TempState,
  tempState,
} from "./support/cli.ts";

/** Files of a project, by path relative to its root. */
type Tree = Record<string, string | Record<string, unknown>>;

function build(root: string, tree: Tree): void {
  for (const [path, content] of Object.entries(tree)) {
    const file = join(root, path);
    Deno.mkdirSync(join(file, ".."), { recursive: true });
    Deno.writeTextFileSync(
      file,
      typeof content === "string" ? content : JSON.stringify(content, null, 2),
    );
  }
}

/** Print where the task runs and where deno task was started from. */
const WHERE = "echo cwd=$(pwd) init=$INIT_CWD";

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function env(s: TempState): Record<string, string> {
  const e: Record<string, string> = { ...Deno.env.toObject(), ...s.env };
  // deno task keeps an INIT_CWD it inherits; `deno task test` sets one.
  for (
    const k of [
      "INIT_CWD",
      "RUST_BACKTRACE",
      "STINT_RUN_ID",
      "STINT_SCOPE",
      "STINT_BUCKET",
    ]
  ) {
    delete e[k];
  }
  return e;
}

async function denoTask(
  s: TempState,
  cwd: string,
  args: string[],
): Promise<Outcome> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", ...args],
    cwd,
    env: env(s),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

async function stintRun(
  s: TempState,
  cwd: string,
  args: string[],
): Promise<Outcome> {
  const r = await stint(["run", ...args], {
    cwd,
    env: s.env,
    unset: ["INIT_CWD", "RUST_BACKTRACE"],
  });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

interface Case {
  /** What is checked. */
  what: string;
  /** The directory (relative to the project root) both run in. */
  cwd?: string;
  /** deno task's arguments. */
  args: string[];
  /** stint run's arguments, when they differ (the `--` form). */
  stintArgs?: string[];
  /** The ref stint must record (null: nothing recorded). */
  ref: string | null;
  /** The matched tasks a wildcard records. */
  matched?: string[];
  /** A pattern stdout must match (so a case cannot pass vacuously). */
  expect?: RegExp;
  /** Tasks run concurrently: compare the lines, not their order. */
  unordered?: boolean;
}

/** Whether deno task may run several tasks at once (output order varies). */
function concurrent(args: string[]): boolean {
  if (args.join(" ").includes("-j 1")) return false;
  return args.some((a) =>
    a.includes("*") ||
    ["-r", "--recursive", "--members", "--filter"].includes(a)
  );
}

/** The lines of `text`, sorted (for output of concurrent tasks). */
function lines(text: string, unordered: boolean | undefined): string {
  return unordered ? text.split("\n").sort().join("\n") : text;
}

/** Run every case in `tree` with both and compare; returns nothing, asserts. */
async function parity(tree: Tree, cases: Case[]): Promise<void> {
  for (const c of cases) {
    const s = tempState("stint-parity-");
    const root = join(s.dir, "project");
    build(root, tree);
    const cwd = join(root, c.cwd ?? ".");
    Deno.mkdirSync(cwd, { recursive: true });
    const deno = await denoTask(s, cwd, c.args);
    const ours = await stintRun(s, cwd, c.stintArgs ?? c.args);
    const label = `${c.what}: deno task ${c.args.join(" ")}`;
    const u = c.unordered ?? concurrent(c.args);
    assert.equal(
      lines(ours.stdout, u),
      lines(deno.stdout, u),
      `${label}: stdout`,
    );
    assert.equal(
      lines(ours.stderr, u),
      lines(deno.stderr, u),
      `${label}: stderr`,
    );
    assert.equal(ours.code, deno.code, `${label}: exit code`);
    if (c.expect) assert.match(deno.stdout, c.expect, `${label}: output`);
    const runs = withStore(s.db, (db) => listExecutions(db));
    if (c.ref === null) {
      assert.equal(runs.length, 0, `${label}: nothing recorded`);
      continue;
    }
    assert.equal(runs.length, 1, `${label}: one run recorded`);
    assert.equal(runs[0].ref, c.ref, `${label}: ref`);
    assert.equal(runs[0].exitCode, deno.code, `${label}: recorded exit code`);
    assert.deepEqual(
      runs[0].matchedTasks,
      c.matched ?? null,
      `${label}: matched`,
    );
  }
}

const DENO_WORKSPACE: Tree = {
  "deno.json": {
    name: "@ws/root",
    exports: "./mod.ts",
    workspace: ["./packages/a", "./packages/b"],
    tasks: {
      root: WHERE,
      shared: "echo root-shared",
      dep: { command: "echo dep-root", dependencies: ["shared"] },
      "build:x": "echo built-x",
    },
  },
  "packages/a/deno.json": {
    name: "@ws/a",
    exports: "./mod.ts",
    tasks: {
      shared: "echo a-shared",
      own: WHERE,
      "build:y": "echo built-y",
      usesroot: { command: "echo uses-root", dependencies: ["root"] },
    },
  },
  "packages/b/package.json": {
    name: "b-pkg",
    scripts: { bs: "echo b-script", shared: "echo b-shared" },
  },
  "outside/deno.json": { tasks: { c: WHERE } },
};

Deno.test("parity: a deno workspace, run from members, the root and outside it", async () => {
  await parity(DENO_WORKSPACE, [
    {
      what: "a member's own task",
      cwd: "packages/a",
      args: ["own"],
      ref: "@ws/a:own",
      expect: /cwd=.*packages\/a init=.*packages\/a/,
    },
    {
      what: "a root task from a member",
      cwd: "packages/a",
      args: ["root"],
      ref: "@ws/root:root",
      expect: /cwd=\S*project init=.*packages\/a$/m,
    },
    {
      what: "a root task from deep in a member",
      cwd: "packages/a/src/lib",
      args: ["root"],
      ref: "@ws/root:root",
      expect: /init=.*src\/lib/,
    },
    {
      what: "the member's task shadows the root's",
      cwd: "packages/a",
      args: ["shared"],
      ref: "@ws/a:shared",
      expect: /^a-shared$/m,
    },
    {
      what: "a root task's dependencies are the root's",
      cwd: "packages/a",
      args: ["dep"],
      ref: "@ws/root:dep",
      expect: /root-shared\ndep-root/,
    },
    {
      what: "a member task depending on a root task",
      cwd: "packages/a",
      args: ["usesroot"],
      ref: "@ws/a:usesroot",
      expect: /uses-root/,
    },
    {
      what: "a package.json member sees root tasks",
      cwd: "packages/b",
      args: ["root"],
      ref: "@ws/root:root",
      expect: /init=.*packages\/b/,
    },
    {
      what: "a package.json member's script",
      cwd: "packages/b",
      args: ["bs"],
      ref: "b-pkg:bs",
      expect: /b-script/,
    },
    {
      what: "from the root",
      args: ["root"],
      ref: "@ws/root:root",
      expect: /cwd=/,
    },
    {
      what: "a directory without config under the root",
      cwd: "docs",
      args: ["shared"],
      ref: "@ws/root:shared",
      expect: /root-shared/,
    },
    {
      what: "a config the workspace does not list",
      cwd: "outside",
      args: ["c"],
      ref: "outside:c",
      expect: /cwd=.*outside/,
    },
    {
      what: "a wildcard across the member and the root",
      cwd: "packages/a",
      args: ["build:*"],
      ref: "@ws/a:build:*",
      matched: ["build:y", "build:x"],
      expect: /built-y/,
    },
    {
      what: "-r from a member",
      cwd: "packages/a",
      args: ["-r", "shared"],
      ref: "@ws/root:shared@recursive",
      expect: /a-shared/,
    },
    {
      what: "--filter",
      cwd: "packages/a",
      args: ["--filter", "b-pkg", "shared"],
      ref: "@ws/root:shared@filter=b-pkg",
      expect: /b-shared/,
    },
    {
      what: "--members",
      args: ["--members", "shared"],
      ref: "@ws/root:shared@members",
      expect: /a-shared/,
    },
  ]);
});

Deno.test("parity: an npm workspace (package.json workspaces)", async () => {
  await parity({
    "package.json": {
      name: "npm-root",
      workspaces: ["packages/*"],
      scripts: { lint: WHERE, build: "echo root-build" },
    },
    "packages/web/package.json": {
      name: "web",
      scripts: { dev: WHERE, build: "echo web-build" },
    },
  }, [
    {
      what: "a member's script",
      cwd: "packages/web",
      args: ["dev"],
      ref: "web:dev",
      expect: /cwd=.*web init=.*web/,
    },
    {
      what: "a root script from a member",
      cwd: "packages/web",
      args: ["lint"],
      ref: "npm-root:lint",
      expect: /init=.*web/,
    },
    {
      what: "the member's script shadows the root's",
      cwd: "packages/web",
      args: ["build"],
      ref: "web:build",
      expect: /web-build/,
    },
  ]);
});

const TASKS: Tree = {
  "deno.json": {
    name: "app",
    tasks: {
      echo: "echo args:",
      where: WHERE,
      "build:web": "echo built-web",
      "build:cli": "echo built-cli",
      "build:e2e": "echo built-e2e",
      fail: "echo failing && exit 3",
      envvar: "echo value=$GREETING",
      selfterm: "sh -c 'kill -TERM $$'",
    },
  },
  "other.json": { name: "other", tasks: { alt: WHERE } },
  ".env": "GREETING=hi-from-env\n",
  "sub/keep": "",
};

Deno.test("parity: wildcards", async () => {
  await parity(TASKS, [
    {
      what: "a wildcard",
      args: ["build:*"],
      ref: "app:build:*",
      matched: ["build:web", "build:cli", "build:e2e"],
      expect: /built-web/,
    },
    {
      what: "a prefix wildcard",
      args: ["buil*"],
      ref: "app:buil*",
      matched: ["build:web", "build:cli", "build:e2e"],
      expect: /built-cli/,
    },
    {
      what: "an exclusion group",
      args: ["build:*(!e2e)"],
      ref: "app:build:*(!e2e)",
      matched: ["build:web", "build:cli"],
      expect: /built-web/,
    },
    {
      what: "arguments go to the last matched task",
      args: ["build:*", "extra"],
      ref: "app:build:*",
      matched: ["build:web", "build:cli", "build:e2e"],
      expect: /built-e2e extra/,
    },
    {
      what: "--no-prefix",
      args: ["--no-prefix", "build:*"],
      ref: "app:build:*",
      matched: ["build:web", "build:cli", "build:e2e"],
      expect: /^built-web$/m,
    },
    {
      what: "-j 1",
      args: ["-j", "1", "build:*"],
      ref: "app:build:*",
      matched: ["build:web", "build:cli", "build:e2e"],
      expect: /built-web/,
    },
  ]);
});

Deno.test("parity: deno task's own flags pass through", async () => {
  await parity(TASKS, [
    {
      what: "--cwd",
      args: ["--cwd", "sub", "where"],
      ref: "app:where",
      expect: /cwd=.*sub init=\S*project$/m,
    },
    {
      what: "--cwd= from a subdirectory",
      cwd: "sub",
      args: ["--cwd=..", "where"],
      ref: "app:where",
      expect: /init=.*sub$/m,
    },
    {
      what: "-c",
      cwd: "sub",
      args: ["-c", "../other.json", "alt"],
      ref: "other:alt",
      expect: /cwd=\S*project init=.*sub$/m,
    },
    {
      what: "--config=",
      args: ["--config=other.json", "alt"],
      ref: "other:alt",
      expect: /cwd=/,
    },
    {
      what: "--eval",
      args: ["--eval", "echo evaluated $INIT_CWD"],
      ref: "eval:echo",
      expect: /evaluated/,
    },
    {
      what: "--if-present with no such task",
      args: ["--if-present", "nothing"],
      ref: null,
    },
    {
      what: "--if-present with the task",
      args: ["--if-present", "echo", "yes"],
      ref: "app:echo",
      expect: /args: yes/,
    },
    {
      what: "--env-file=",
      args: ["--env-file=.env", "envvar"],
      ref: "app:envvar",
      expect: /value=hi-from-env/,
    },
    {
      what: "--env-file (default .env)",
      args: ["--env-file", "envvar"],
      ref: "app:envvar",
      expect: /value=hi-from-env/,
    },
    {
      what: "-q",
      args: ["-q", "echo", "quiet"],
      ref: "app:echo",
      expect: /args: quiet/,
    },
    {
      what: "--no-lock and --node-modules-dir=none",
      args: ["--no-lock", "--node-modules-dir=none", "echo", "x"],
      ref: "app:echo",
      expect: /args: x/,
    },
    {
      what: "--lock=",
      args: ["--lock=my.lock", "--frozen-lockfile=false", "echo", "y"],
      ref: "app:echo",
      expect: /args: y/,
    },
    {
      what: "a flag stint does not know goes to deno",
      args: ["--frobnicate", "echo"],
      ref: "app:echo",
    },
    {
      what: "a failing task",
      args: ["fail"],
      ref: "app:fail",
      expect: /failing/,
    },
    {
      what: "a task that dies of its own signal",
      args: ["selfterm"],
      ref: "app:selfterm",
    },
  ]);
});

Deno.test("parity: everything after the task name belongs to the task", async () => {
  await parity(TASKS, [
    {
      what: "options and quoted words",
      args: ["echo", "--update", "a b", "-x", "--flag=1"],
      ref: "app:echo",
      expect: /args: --update a b -x --flag=1/,
    },
    {
      what: "--help and --json are the task's",
      args: ["echo", "--help", "--json", "-b"],
      ref: "app:echo",
      expect: /args: --help --json -b/,
    },
    {
      what: "deno task flags after the name are the task's",
      args: ["echo", "--cwd", "x", "-r"],
      ref: "app:echo",
      expect: /args: --cwd x -r/,
    },
    {
      what: "-- after the name reaches the task, as from deno task",
      args: ["echo", "--", "after"],
      ref: "app:echo",
      expect: /args: -- after/,
    },
    {
      what: "a second -- reaches it too",
      args: ["echo", "--", "--", "x"],
      ref: "app:echo",
      expect: /args: -- -- x/,
    },
  ]);
});

const LENIENT: [string, string][] = [
  ["missing commas", `{"tasks": {"t": "echo one" "u": "echo two"}}`],
  ["unquoted keys", `{tasks: {t: "echo one", u-v: "echo two"}}`],
  ["single quotes", `{'tasks': {'t': 'echo "one"'}}`],
  ["comments", `// the app\n{"tasks": /* inline */ {"t": "echo one"}} // end`],
  ["trailing commas", `{"tasks": {"t": "echo one",},}`],
  [
    "all of it",
    `{\n  // deno parses this\n  name: 'lenient',\n  tasks: {\n    t: 'echo one' u: "echo two",\n  },\n  n: 0x1F, m: +1,\n}`,
  ],
];

Deno.test("parity: lenient configs deno task accepts (deno.json and deno.jsonc)", async () => {
  for (const [what, text] of LENIENT) {
    for (const file of ["deno.json", "deno.jsonc"]) {
      const name = what === "all of it" ? "lenient" : "project";
      await parity({ [file]: text }, [
        {
          what: `${what} in ${file}`,
          args: ["t", "x"],
          ref: `${name}:t`,
          expect: /one/,
        },
      ]);
    }
  }
});

Deno.test("parity: a config deno rejects is deno's error, recorded as what deno did", async () => {
  await parity({ "deno.json": `{"tasks": {"t": "echo one"}} trailing` }, [
    { what: "trailing text", args: ["t"], ref: "project:t" },
  ]);
});

Deno.test("stint's JSONC reader accepts and rejects what deno task does", async () => {
  const { parseJsonc } = await import("../src/tasks/jsonc.ts");
  const texts = [
    ...LENIENT.map(([, t]) => t),
    `{"tasks": {"t": "echo \\x41"}}`,
    `{"tasks": {"t": "echo ok"}, "x": .5}`,
    `{"tasks": {"t": "echo ok"}, "x": [1,,2]}`,
    `{"tasks": {"t": "echo ok"},, "y": 1}`,
    `{"tasks": {"t": "echo ok"}, "x": undefined}`,
    `{"tasks": {"t": "echo ok"}, "x": 'a\\"b'}`,
    `{"tasks": {"t": "echo ok"}, x y: 1}`,
    `{"tasks": {"t": "echo ok"}, "x": "\\uD83D\\uDE00"}`,
    `{"tasks": {"t": "echo ok"}, "x": "\\uDE00"}`,
    `{"tasks": {"t": "echo ok"}, 1: 2, 1x: 3}`,
    `{"tasks": {"t": "echo ok"}, "x": [true false null]}`,
    `{"tasks": {"t": "echo ok"}} /* open`,
    `\uFEFF{"tasks": {"t": "echo ok"}}`,
    `{"tasks": {"t": "echo a"}, "tasks": {"t": "echo b"}}`,
  ];
  const s = tempState("stint-jsonc-");
  for (const text of texts) {
    Deno.writeTextFileSync(join(s.dir, "deno.json"), text);
    const deno = await denoTask(s, s.dir, ["t"]);
    const denoAccepts = !/Failed (deserializing|parsing)/.test(deno.stderr);
    let ours = true;
    try {
      parseJsonc(text, { uniqueRootKeys: true });
    } catch {
      ours = false;
    }
    assert.equal(ours, denoAccepts, `${JSON.stringify(text)}: ${deno.stderr}`);
  }
});

Deno.test("parity: stint run with no task lists the tasks as deno task does", async () => {
  const s = tempState("stint-parity-");
  const root = join(s.dir, "project");
  build(root, DENO_WORKSPACE);
  for (
    const dir of [
      root,
      join(root, "packages", "a"),
      join(root, "packages", "b"),
    ]
  ) {
    const deno = await denoTask(s, dir, []);
    const ours = await stintRun(s, dir, []);
    assert.match(deno.stdout, /^Available tasks:/);
    assert.equal(ours.stdout, deno.stdout);
    assert.equal(ours.stderr, deno.stderr);
    assert.equal(ours.code, deno.code);
  }
  assert.equal(withStore(s.db, (db) => listExecutions(db)).length, 0);
});

Deno.test("stint run --json / --name / -b with no task: a one-line usage error (exit 2), nothing run or recorded; with deno task's own options it still lists", async () => {
  const s = tempState("stint-parity-");
  const root = join(s.dir, "project");
  build(root, DENO_WORKSPACE);
  for (
    const [args, flag] of [
      [["--json"], "--json"],
      [["--name", "x:y"], "--name"],
      [["--name=x:y"], "--name"],
      [["-b"], "--background"],
      [["--background", "--cwd", "packages/a"], "--background"],
    ] as const
  ) {
    const r = await stint(["run", ...args], { cwd: root, env: s.env });
    assertFails(r, 2, new RegExp(`${flag} needs a task`));
  }
  const deno = await denoTask(s, root, ["--cwd", "packages/a"]);
  const ours = await stintRun(s, root, ["--cwd", "packages/a"]);
  assert.match(deno.stdout, /^Available tasks:/);
  assert.equal(ours.stdout, deno.stdout);
  assert.equal(ours.code, deno.code);
  assert.equal(withStore(s.db, (db) => listExecutions(db)).length, 0);
});

Deno.test("parity: stint tasks lists what deno task lists in a workspace member, root tasks marked", async () => {
  const s = tempState("stint-parity-");
  const root = join(s.dir, "project");
  build(root, DENO_WORKSPACE);
  for (const dir of ["packages/a", "packages/b", "."]) {
    const cwd = join(root, dir);
    const deno = parseListing((await denoTask(s, cwd, [])).stdout);
    const r = await stint(["tasks", "--json"], { cwd, env: s.env });
    assert.equal(r.code, 0, r.stderr);
    const ours = JSON.parse(r.stdout);
    const view = (
      t: {
        name: string;
        source: string;
        workspace: boolean;
        command: string | null;
      },
    ) => [t.name, t.source, t.workspace, t.command];
    assert.ok(deno.length > 0);
    assert.deepEqual(ours.tasks.map(view), deno.map(view), dir);
    if (dir !== ".") assert.equal(ours.workspace_root.name, "@ws/root");
    // A root task's ref is the root's; the member's own are the member's.
    const refs = Object.fromEntries(
      ours.tasks.map((t: { name: string; ref: string }) => [t.name, t.ref]),
    );
    if (dir === "packages/a") {
      assert.equal(refs.root, "@ws/root:root");
      assert.equal(refs.own, "@ws/a:own");
    }
  }
  // The table marks them as deno does.
  const table = await stint(["tasks"], {
    cwd: join(root, "packages", "a"),
    env: s.env,
  });
  assert.match(table.stdout, /root \(workspace\)/);
  assert.doesNotMatch(table.stdout, /own \(workspace\)/);
});

Deno.test("a task stint is sure does not exist: exit 1 as from deno, one line with close matches (deno: a list), nothing recorded", async () => {
  const s = tempState("stint-parity-");
  const root = join(s.dir, "project");
  build(root, DENO_WORKSPACE);
  const cwd = join(root, "packages", "a");
  const deno = await denoTask(s, cwd, ["biuld:y"]);
  assert.equal(deno.code, 1);
  const ours = await stintRun(s, cwd, ["biuld:y"]);
  assert.equal(ours.code, deno.code);
  assert.match(
    ours.stderr,
    /^stint: Task "biuld:y" is not defined in .*packages\/a\/deno.json or its workspace root .*; did you mean "build:y"/,
  );
  assert.equal(ours.stderr.trim().split("\n").length, 1);
  // A root task is found from the member, so it is not "unknown".
  assert.equal((await stintRun(s, cwd, ["dep"])).code, 0);
  assert.equal(withStore(s.db, (db) => listExecutions(db)).length, 1);
});

Deno.test("stint history / stats with a bare task name use the current project's ref", async () => {
  const s = tempState("stint-parity-");
  const root = join(s.dir, "project");
  build(root, DENO_WORKSPACE);
  const cwd = join(root, "packages", "a");
  assert.equal((await stintRun(s, cwd, ["own"])).code, 0);
  assert.equal((await stintRun(s, cwd, ["root"])).code, 0);
  for (const [name, ref] of [["own", "@ws/a:own"], ["root", "@ws/root:root"]]) {
    const h = await stint(["history", name, "--json"], { cwd, env: s.env });
    assert.equal(h.code, 0, h.stderr);
    assert.deepEqual(JSON.parse(h.stdout).map((e: { ref: string }) => e.ref), [
      ref,
    ]);
    const st = await stint(["stats", name, "--json"], { cwd, env: s.env });
    assert.equal(st.code, 0, st.stderr);
    assert.equal(JSON.parse(st.stdout)[0].ref, ref);
  }
  // Elsewhere the same word is just a ref, which has no runs.
  const away = await stint(["stats", "own"], { cwd: s.dir, env: s.env });
  assert.equal(away.code, 1);
});

Deno.test("stint tasks on a config neither can read: deno's error, one line, exit 1", async () => {
  const s = tempState("stint-parity-");
  const root = join(s.dir, "project");
  build(root, { "deno.json": `{"tasks": {"t": "echo one"}} trailing` });
  const r = await stint(["tasks"], { cwd: root, env: s.env });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^stint: deno task cannot list the tasks either: error: Failed deserializing config file .*deno\.json/,
  );
  assert.equal(r.stderr.trim().split("\n").length, 1);
});

Deno.test("deno task's listing is parsed with markers, descriptions and dependencies", () => {
  const tasks = parseListing(
    "Available tasks:\n- own\n    // Builds it\n    // twice\n    deno run b.ts\n    depends on: a, b\n- root (workspace)\n    pwd\n- s (package.json)\n    echo s\n- r (workspace package.json)\n    echo r\n",
  );
  assert.deepEqual(
    tasks.map((
      t,
    ) => [
      t.name,
      t.source,
      t.workspace,
      t.command,
      t.description,
      t.dependencies,
    ]),
    [
      ["own", "deno.json", false, "deno run b.ts", "Builds it\ntwice", [
        "a",
        "b",
      ]],
      ["root", "deno.json", true, "pwd", null, []],
      ["s", "package.json", false, "echo s", null, []],
      ["r", "package.json", true, "echo r", null, []],
    ],
  );
});
