// Shell completions: what `stint __complete` offers at each point of a
// command line (from the command table, the project's tasks and the
// store), the scripts for bash, zsh and fish (each shell's own syntax
// check), and a task name completed by TAB in each real shell on a pty.
import assert from "node:assert/strict";
import { join } from "node:path";
import { completeWords } from "../src/cli/completions.ts";
import { saveBackgroundRun, withStore } from "../src/store/mod.ts";
import { MAIN, makeProject, stint, tempState } from "./support/cli.ts";
import { seedRuns } from "./support/history_seed.ts";
import { HAS_SCRIPT, shQuote, stripEscapes } from "./support/pty.ts";

function has(cmd: string): boolean {
  try {
    new Deno.Command(cmd, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .outputSync();
    return true;
  } catch {
    return false;
  }
}

const SHELLS = ["bash", "zsh", "fish"] as const;
const HAVE = Object.fromEntries(SHELLS.map((s) => [s, has(s)])) as Record<
  (typeof SHELLS)[number],
  boolean
>;

/** A store with two refs and a background run, and a project with tasks. */
function fixture() {
  const st = tempState();
  const runs = seedRuns(st.db, [
    { ref: "shop:test", startedAt: Date.now() - 60_000, status: "failed" },
    { ref: "shop:build", startedAt: Date.now() - 30_000 },
  ]);
  withStore(st.db, (db) =>
    saveBackgroundRun(db, {
      id: "k3x9q2mf",
      ref: "shop:dev",
      status: "completed",
      startedAt: Date.now() - 10_000,
      completedAt: Date.now(),
    }));
  const project = makeProject(st.dir, {
    "deploy-staging": {
      description: "Ship it to staging",
      command: "echo ship",
    },
    test: "deno test",
    lint: "deno lint",
  }, { name: "shop" });
  return { st, runs, project };
}

Deno.test("__complete: commands, subcommands, flags, values, tasks, refs and run ids", async () => {
  const { st, runs, project } = fixture();
  const where = { dbPath: st.db, cwd: project };
  const values = async (...words: string[]) =>
    (await completeWords(words, where)).candidates.map((c) => c.value);
  const directive = async (...words: string[]) =>
    (await completeWords(words, where)).directive;

  const top = await values("");
  for (const c of ["run", "exec", "rerun", "history", "bg", "completions"]) {
    assert.ok(top.includes(c), c);
  }
  assert.ok(!top.includes("__complete"));
  assert.deepEqual(await values("hi"), ["history"]);
  assert.deepEqual(await values("--"), [
    "--db",
    "--quiet",
    "--verbose",
    "--help",
    "--version",
  ]);
  // A global flag before the command is skipped.
  assert.deepEqual(await values("--db", "x.db", "st"), [
    "stats",
    "status",
    "store",
  ]);
  assert.equal(await directive("--db", ""), "files");

  const bg = await values("bg", "");
  assert.deepEqual(bg, [
    "list",
    "show",
    "logs",
    "kill",
    "wait",
    "restart",
    "clean",
  ]);
  assert.deepEqual(await values("bg", "kill", "k3x9q2mf", "--signal", "K"), [
    "KILL",
  ]);
  assert.deepEqual(await values("bg", "show", ""), ["k3x9q2mf"]);
  assert.deepEqual(await values("bg", "list", "--a"), ["--all"]);

  // Task names of the current project, for run.
  assert.deepEqual(await values("run", ""), ["deploy-staging", "test", "lint"]);
  assert.deepEqual(await values("run", "dep"), ["deploy-staging"]);
  const withDesc = await completeWords(["run", "dep"], where);
  assert.equal(withDesc.candidates[0].description, "Ship it to staging");
  assert.deepEqual(await values("run", "-b", "li"), ["lint"]);
  // After the task: its own arguments, files.
  assert.equal(await directive("run", "lint", ""), "files");

  // history: its subcommands and the refs in the store; its flags and values.
  assert.deepEqual(await values("history", ""), [
    "refs",
    "clear",
    "prune",
    "shop:build",
    "shop:test",
  ]);
  assert.deepEqual(await values("history", "clear", "shop:t"), ["shop:test"]);
  assert.deepEqual(await values("history", "--st"), ["--status"]);
  assert.deepEqual(await values("history", "--status", "f"), ["failed"]);
  assert.deepEqual(await values("history", "--status=s"), [
    "--status=succeeded",
  ]);
  assert.equal(await directive("history", "--cwd", ""), "dirs");
  assert.deepEqual(await values("stats", "shop:b"), ["shop:build"]);

  // Recent run ids (as history shows them), newest first.
  const ids = await values("logs", "");
  assert.equal(ids.length, 2);
  assert.ok(runs[1].id.startsWith(ids[0]) && runs[0].id.startsWith(ids[1]));
  assert.deepEqual(await values("rerun", ids[0]), [ids[0]]);

  assert.deepEqual(await values("completions", ""), ["bash", "zsh", "fish"]);
  assert.equal(await directive("exec", "--", ""), "commands");
  assert.equal(await directive("store", "backup", ""), "files");
  assert.deepEqual(await values("vars", "s"), ["set"]);
  assert.deepEqual(await values("vars", "get", "-"), [
    "--global",
    "--no-newline",
    "-n",
    "--db",
    "--quiet",
    "-q",
    "--verbose",
    "--help",
    "-h",
  ]);
});

Deno.test("__complete: stint run offers deno task's options and completes their values", async () => {
  const { st, project } = fixture();
  const where = { dbPath: st.db, cwd: project };
  const values = async (...words: string[]) =>
    (await completeWords(words, where)).candidates.map((c) => c.value);
  const directive = async (...words: string[]) =>
    (await completeWords(words, where)).directive;
  const long = await values("run", "--");
  for (
    const f of [
      "--background",
      "--json",
      "--name",
      "--cwd",
      "--config",
      "--recursive",
      "--filter",
      "--eval",
      "--if-present",
      "--jobs",
      "--env-file",
      "--lock",
      "--frozen-lockfile",
    ]
  ) {
    assert.ok(long.includes(f), `run -- offers ${f}: ${long.join(" ")}`);
  }
  assert.deepEqual(await values("run", "--cw"), ["--cwd"]);
  // An option's value is its kind of value, not a task name.
  assert.equal(await directive("run", "--cwd", ""), "dirs");
  assert.deepEqual(await values("run", "--cwd", ""), []);
  assert.equal(await directive("run", "-c", ""), "files");
  assert.equal(await directive("run", "--config", ""), "files");
  assert.equal(await directive("run", "--env-file=", ""), "none");
  assert.equal(await directive("run", "--env-file="), "files");
  assert.deepEqual(await values("run", "--name", "shop:b"), ["shop:build"]);
  assert.deepEqual(await values("run", "-L", ""), ["trace", "debug", "info"]);
  // After the option and its value: the task names again.
  assert.deepEqual(await values("run", "--cwd", "x", "-r", "li"), ["lint"]);
  // --env-file takes a value only after "=": the next word is the task.
  assert.deepEqual(await values("run", "--env-file", "li"), ["lint"]);
  // After the task name everything is the task's: no stint options.
  assert.deepEqual(await values("run", "lint", "--cw"), []);
});

Deno.test("__complete: the value of a global --db completes files through the real CLI", async () => {
  const { st, project } = fixture();
  const r = await stint(["__complete", "--db", ""], {
    env: st.env,
    cwd: project,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, ":files\n");
  // The word being completed may itself be --db, and --help is just a word.
  const word = await stint(["__complete", "--d"], { env: st.env });
  assert.equal(word.stdout.split("\n")[0].split("\t")[0], "--db");
  const help = await stint(["__complete", "history", "--help", "--st"], {
    env: st.env,
  });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^--status\t/);
  // A --db given on the line is the store the values come from.
  const refs = await stint(["__complete", "--db", st.db, "stats", "shop:b"], {
    env: { ...st.env, STINT_DB: join(st.dir, "other.db") },
  });
  assert.match(refs.stdout, /^shop:build\t/);
});

Deno.test("__complete on a machine without a store offers no runs and creates nothing", async () => {
  const st = tempState();
  const r = await stint(["__complete", "logs", ""], { env: st.env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, ":none\n");
  const refs = await stint(["__complete", "history", ""], { env: st.env });
  assert.equal(
    refs.stdout,
    "refs\tEvery ref with its run count, last run and last status\nclear\tDelete every finished run of <ref> and its log files\nprune\tDelete finished runs (and their logs) beyond a retention policy\n:none\n",
  );
  assert.throws(() => Deno.statSync(st.db), Deno.errors.NotFound);
});

Deno.test("stint completions prints a script each shell accepts; other shells are a usage error", async () => {
  const st = tempState();
  for (const shell of SHELLS) {
    const r = await stint(["completions", shell], { env: st.env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /stint __complete/);
    if (!HAVE[shell]) {
      console.log(`skipped ${shell} -n: ${shell} is not installed`);
      continue;
    }
    const file = join(st.dir, `stint.${shell}`);
    Deno.writeTextFileSync(file, r.stdout);
    const check = new Deno.Command(shell, {
      args: ["-n", file],
      stderr: "piped",
    })
      .outputSync();
    assert.equal(
      check.code,
      0,
      `${shell} -n: ${new TextDecoder().decode(check.stderr)}`,
    );
  }
  const bad = await stint(["completions", "tcsh"], { env: st.env });
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /^stint: No completions for "tcsh"; stint completes bash, zsh, fish\n$/,
  );
  const none = await stint(["completions"], { env: st.env });
  assert.equal(none.code, 2);
});

/**
 * Type `keys` into an interactive `shell` on a pty (script(1)), wait until
 * the screen shows `expect`, then leave. Returns what the screen showed.
 */
async function typeInShell(
  shell: string[],
  options: {
    env: Record<string, string>;
    cwd: string;
    keys: string;
    expect: RegExp;
  },
): Promise<string> {
  const child = new Deno.Command("script", {
    args: [
      "-qfc",
      `stty cols 120 rows 40; exec ${shell.map(shQuote).join(" ")}`,
      "/dev/null",
    ],
    env: options.env,
    clearEnv: true,
    cwd: options.cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  const enc = new TextEncoder();
  let screen = "";
  const reading = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stdout) screen += dec.decode(chunk);
  })();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const deadline = Date.now() + 20_000;
  // Wait for the shell's first prompt, then type.
  while (screen.length === 0 && Date.now() < deadline) await sleep(50);
  await sleep(700);
  await writer.write(enc.encode(options.keys));
  while (!options.expect.test(stripEscapes(screen)) && Date.now() < deadline) {
    await sleep(100);
  }
  await writer.write(enc.encode("\x03"));
  await sleep(200);
  await writer.write(enc.encode("exit\n"));
  await writer.close().catch(() => {});
  const killer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, 5000);
  await child.status;
  clearTimeout(killer);
  await reading;
  return stripEscapes(screen);
}

for (const shell of SHELLS) {
  const why = !HAS_SCRIPT
    ? "needs script(1) for a pty; not installed"
    : !HAVE[shell]
    ? `${shell} is not installed`
    : null;
  Deno.test({
    name: why
      ? `${shell}: TAB completes a task name (skipped: ${why})`
      : `${shell}: TAB completes a task name of the current project, in the real shell on a pty`,
    ignore: why !== null,
    fn: async () => {
      const { st, project } = fixture();
      // `stint` on PATH, as after deno install -g.
      const bin = join(st.dir, "bin");
      Deno.mkdirSync(bin);
      Deno.writeTextFileSync(
        join(bin, "stint"),
        `#!/bin/sh\nexec ${shQuote(Deno.execPath())} run -A --quiet ${
          shQuote(MAIN)
        } "$@"\n`,
        { mode: 0o755 },
      );
      const script = join(st.dir, `completion.${shell}`);
      Deno.writeTextFileSync(
        script,
        (await stint(["completions", shell], { env: st.env })).stdout,
      );
      const home = join(st.dir, "home");
      Deno.mkdirSync(home);
      const env: Record<string, string> = {
        ...st.env,
        PATH: `${bin}:${Deno.env.get("PATH")}`,
        HOME: home,
        TERM: "xterm",
        XDG_DATA_HOME: join(home, "data"),
      };
      let cmd: string[];
      if (shell === "bash") {
        const rc = join(st.dir, "bashrc");
        Deno.writeTextFileSync(rc, `PS1='$ '\nsource ${shQuote(script)}\n`);
        cmd = ["bash", "--noprofile", "--rcfile", rc, "-i"];
      } else if (shell === "zsh") {
        const zdot = join(st.dir, "zdot");
        Deno.mkdirSync(zdot);
        Deno.writeTextFileSync(
          join(zdot, ".zshrc"),
          `PS1='$ '\nautoload -U compinit\ncompinit -u -D\nsource ${
            shQuote(script)
          }\n`,
        );
        env.ZDOTDIR = zdot;
        cmd = ["zsh", "-i"];
      } else {
        cmd = ["fish", "--no-config", "-i", "-C", `source ${shQuote(script)}`];
      }
      const screen = await typeInShell(cmd, {
        env,
        cwd: project,
        keys: "stint run dep\t",
        expect: /stint run deploy-staging/,
      });
      assert.match(screen, /stint run deploy-staging/, screen);
    },
  });
}
