/**
 * `stint run` and `stint exec` with real processes: exit codes, task
 * dependencies and arguments, byte-exact output on the terminal side and in
 * the log, the child's environment and scope, and usage errors.
 * @module
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type Execution,
  getExecution,
  listExecutions,
  logPath,
  scopeExists,
  withStore,
} from "../src/store/mod.ts";
import {
  MAIN,
  makeProject,
  spawnStint,
  stint,
  tempState,
  waitFor,
} from "./support/cli.ts";

function executions(db: string): Execution[] {
  return withStore(db, (conn) => listExecutions(conn));
}

function execution(db: string, id: string): Execution {
  return withStore(db, (conn) => getExecution(conn, id));
}

function scopeGone(db: string, scope: string | null): boolean {
  assert.ok(scope, "the run recorded a scope");
  return withStore(db, (conn) => !scopeExists(conn, scope));
}

function logBytes(db: string, e: Execution): Uint8Array {
  assert.ok(e.logId, "the run has a log");
  return Deno.readFileSync(logPath(db, e.logId));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Bytes that are not UTF-8, with colours, CR and NUL, plus `size` random ones. */
function nastyBytes(size: number): Uint8Array {
  const head = new Uint8Array([
    0xff,
    0xfe,
    0xc3,
    0x28,
    0x00,
    0x0d,
    ...new TextEncoder().encode("\x1b[31mred\x1b[0m no newline at the end"),
  ]);
  const rest = new Uint8Array(size);
  for (let off = 0; off < size; off += 65536) {
    crypto.getRandomValues(rest.subarray(off, Math.min(size, off + 65536)));
  }
  return concat(head, rest);
}

Deno.test("stint run propagates exit codes 0, 1, 3 and 130 and records each run", async () => {
  const s = tempState();
  const dir = makeProject(s.dir, {
    ok: "echo fine",
    one: "exit 1",
    three: "echo about to fail && exit 3",
    sigint: "exit 130",
  }, { name: "codes" });
  const cases: [string, number, string][] = [
    ["ok", 0, "succeeded"],
    ["one", 1, "failed"],
    ["three", 3, "failed"],
    ["sigint", 130, "failed"],
  ];
  const results = await Promise.all(
    cases.map(([task]) => stint(["run", task], { env: s.env, cwd: dir })),
  );
  for (const [i, [task, code]] of cases.entries()) {
    assert.equal(results[i].code, code, `exit code of ${task}`);
  }
  assert.match(results[0].stdout, /^fine\n$/);
  const byRef = new Map(executions(s.db).map((e) => [e.ref, e]));
  for (const [task, code, status] of cases) {
    const e = byRef.get(`codes:${task}`);
    assert.ok(e, `recorded codes:${task}`);
    assert.equal(e.status, status);
    assert.equal(e.exitCode, code);
    assert.equal(e.task, task);
    assert.equal(e.projectDir, dir);
    assert.ok(e.durationMs !== null && e.durationMs >= 0);
    assert.ok(e.completedAt !== null && e.completedAt >= e.startedAt);
    assert.ok(e.pid !== null && e.pid !== 0);
    assert.ok(scopeGone(s.db, e.scopeId), `scope of ${task} deleted`);
  }
});

Deno.test("stint run runs a task's dependencies and records the top run", async () => {
  const s = tempState();
  const dir = makeProject(s.dir, {
    first: "echo first > first.txt",
    second: "echo second > second.txt",
    top: {
      command: "cat first.txt second.txt",
      dependencies: ["first", "second"],
    },
  }, { name: "deps" });
  const r = await stint(["run", "top"], { env: s.env, cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "first\nsecond\n");
  const all = executions(s.db);
  assert.deepEqual(all.map((e) => e.ref), ["deps:top"]);
  assert.equal(all[0].status, "succeeded");
});

Deno.test("arguments after the task name, a -- among them, reach the task unchanged", async () => {
  const s = tempState();
  const dir = makeProject(s.dir, { show: "printf '[%s]\\n'" }, {
    name: "argv",
  });
  const args = ["plain", "two words", "$HOME", "--flag", "-x", "quote'd", "*"];
  const r = await stint(["run", "show", "--", ...args], {
    env: s.env,
    cwd: dir,
  });
  assert.equal(r.code, 0, r.stderr);
  // As from `deno task show -- ...`: the -- is the task's too.
  const passed = ["--", ...args];
  assert.equal(r.stdout, passed.map((a) => `[${a}]\n`).join(""));
  const [e] = executions(s.db);
  assert.deepEqual(e.args, passed);
});

Deno.test("stint run finds the config walking up and runs in its directory", async () => {
  const s = tempState();
  const dir = makeProject(s.dir, { where: "pwd && echo $INIT_CWD" }, {
    name: "walk",
  });
  const sub = join(dir, "a", "b");
  Deno.mkdirSync(sub, { recursive: true });
  const r = await stint(["run", "where"], {
    env: s.env,
    cwd: sub,
    unset: ["INIT_CWD"],
  });
  assert.equal(r.code, 0, r.stderr);
  const [pwd, init] = r.stdout.trim().split("\n");
  assert.equal(Deno.realPathSync(pwd), Deno.realPathSync(dir));
  assert.equal(Deno.realPathSync(init), Deno.realPathSync(sub));
  assert.equal(executions(s.db)[0].ref, "walk:where");
});

Deno.test("output is byte-identical on the terminal side and in the log (binary, non-UTF-8, large)", async () => {
  const s = tempState();
  const out = nastyBytes(3 * 1024 * 1024);
  const err = nastyBytes(4096);
  const tail = new TextEncoder().encode("partial line, no newline");
  Deno.writeFileSync(join(s.dir, "out.bin"), out);
  Deno.writeFileSync(join(s.dir, "err.bin"), err);
  Deno.writeFileSync(join(s.dir, "tail.bin"), tail);
  // Pauses between the writes fix the order the two pipes are read in.
  const script =
    "cat out.bin; sleep 0.5; cat err.bin >&2; sleep 0.5; cat tail.bin";
  const r = await stint(["exec", "--", "sh", "-c", script], {
    env: s.env,
    cwd: s.dir,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdoutBytes, concat(out, tail));
  const [e] = executions(s.db);
  assert.deepEqual(logBytes(s.db, e), concat(out, err, tail));
  const stderrBytes = new TextEncoder().encode(r.stderr);
  assert.equal(stderrBytes.length >= 6, true); // decoded lossy; length check only
});

Deno.test("stint run keeps a task's binary stdout byte-exact in the log", async () => {
  const s = tempState();
  const dir = makeProject(s.dir, { blob: "cat blob.bin" }, { name: "bin" });
  const blob = nastyBytes(256 * 1024);
  Deno.writeFileSync(join(dir, "blob.bin"), blob);
  const r = await stint(["run", "blob"], { env: s.env, cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdoutBytes, blob);
  const log = logBytes(s.db, executions(s.db)[0]);
  // deno task announces the task on stderr first; the task's bytes follow.
  assert.deepEqual(log.subarray(log.length - blob.length), blob);
  assert.match(new TextDecoder().decode(log.subarray(0, 200)), /Task/);
});

Deno.test("the child gets STINT_RUN_ID, its own STINT_SCOPE and STINT_DB; the scope is deleted after", async () => {
  const s = tempState();
  const r = await stint([
    "exec",
    "--name",
    "env:probe",
    "--",
    "sh",
    "-c",
    'echo "$STINT_RUN_ID|$STINT_SCOPE|${STINT_PARENT_RUN_ID-unset}|$STINT_DB"',
  ], { env: s.env, cwd: s.dir });
  assert.equal(r.code, 0, r.stderr);
  const [runId, scope, parent, db] = r.stdout.trim().split("|");
  const e = execution(s.db, runId);
  assert.equal(e.ref, "env:probe");
  assert.equal(e.scopeId, scope);
  assert.equal(parent, "unset");
  assert.equal(e.parentId, null);
  assert.equal(db, s.db);
  assert.ok(scopeGone(s.db, scope));
});

Deno.test("a nested run records its parent and sees its caller's vars through the scope chain", async () => {
  const s = tempState();
  const deno = Deno.execPath();
  const inner = `"${deno}" run -A --quiet "${MAIN}"`;
  const script = [
    `${inner} vars set color blue`,
    `${inner} exec --name nested:inner -- sh -c 'echo "$STINT_PARENT_RUN_ID"; ${inner} vars get color'`,
  ].join(" && ");
  const r = await stint([
    "exec",
    "--name",
    "nested:outer",
    "--shell",
    "--",
    script,
  ], {
    env: s.env,
    cwd: s.dir,
  });
  assert.equal(r.code, 0, r.stderr);
  const [parentSeen, color] = r.stdout.trim().split("\n");
  const all = executions(s.db);
  const outer = all.find((e) => e.ref === "nested:outer")!;
  const innerRun = all.find((e) => e.ref === "nested:inner")!;
  assert.equal(parentSeen, outer.id);
  assert.equal(innerRun.parentId, outer.id);
  assert.equal(color, "blue");
  assert.ok(scopeGone(s.db, outer.scopeId));
  assert.ok(scopeGone(s.db, innerRun.scopeId));
  // The caller's var lived in the caller's scope, not root.
  const after = await stint(["vars", "get", "color"], { env: s.env });
  assert.notEqual(after.code, 0);
});

Deno.test("stdin reaches the child", async () => {
  const s = tempState();
  const r = await stint(["exec", "--", "cat"], {
    env: s.env,
    cwd: s.dir,
    stdin: "piped in\n",
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "piped in\n");
});

Deno.test("stint exec --shell runs a script; without it words are not interpreted", async () => {
  const s = tempState();
  const shell = await stint([
    "exec",
    "--shell",
    "--",
    "echo $((6 * 7)) | tr 4 x",
  ], {
    env: s.env,
    cwd: s.dir,
  });
  assert.equal(shell.code, 0, shell.stderr);
  assert.equal(shell.stdout, "x2\n");
  const plain = await stint(["exec", "--", "echo", "$HOME", "|", "*"], {
    env: s.env,
    cwd: s.dir,
  });
  assert.equal(plain.stdout, "$HOME | *\n");
  const refs = executions(s.db).map((e) => e.ref).sort();
  assert.deepEqual(refs, ["exec:echo", "exec:echo"]);
});

Deno.test("--json prints the finished record", async () => {
  const s = tempState();
  const dir = makeProject(s.dir, { quiet: "exit 4" }, { name: "js" });
  const r = await stint(["run", "--json", "quiet"], { env: s.env, cwd: dir });
  assert.equal(r.code, 4);
  const rec = JSON.parse(r.stdout);
  assert.equal(rec.ref, "js:quiet");
  assert.equal(rec.status, "failed");
  assert.equal(rec.exit_code, 4);
  assert.equal(typeof rec.duration_ms, "number");
  assert.ok(!Number.isNaN(Date.parse(rec.started_at)));
});

Deno.test("an unknown task exits 1 (as deno task) with close matches and records nothing", async () => {
  const s = tempState();
  const dir = makeProject(s.dir, { build: "echo b", bench: "echo c" }, {
    name: "typo",
  });
  const r = await stint(["run", "buld"], { env: s.env, cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^stint: Task "buld" is not defined.*"build"/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.deepEqual(executions(s.db), []);
});

Deno.test("usage errors are one line with exit 2", async () => {
  const s = tempState();
  const dir = makeProject(s.dir, { t: "echo t" }, { name: "usage" });
  for (
    const args of [
      ["run", "--name"],
      ["run", "--name", "", "t"],
      ["exec"],
      ["exec", "--name", "", "--", "true"],
    ]
  ) {
    const r = await stint(args, { env: s.env, cwd: dir });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^stint: \S[^\n]*\n$/);
  }
  assert.deepEqual(executions(s.db), []);
});

Deno.test("a command that does not exist exits 127 and is recorded as failed", async () => {
  const s = tempState();
  const r = await stint(["exec", "--", "no-such-command-xyz"], {
    env: s.env,
    cwd: s.dir,
  });
  assert.equal(r.code, 127);
  assert.match(r.stderr, /command not found/);
  const [e] = executions(s.db);
  assert.equal(e.status, "failed");
  assert.equal(e.exitCode, 127);
  assert.match(e.error ?? "", /command not found/);
  assert.ok(scopeGone(s.db, e.scopeId));
});

/** Pids whose command line is exactly `argv` (read from /proc). */
function processesRunning(argv: string[]): number[] {
  const want = argv.join("\0") + "\0";
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`) === want) {
        pids.push(Number(e.name));
      }
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

Deno.test("a daemon that leaves the group and keeps the pipe open does not hold the run", async () => {
  const s = tempState();
  // setsid puts the sleeper in a session of its own, holding stdout open.
  const nap = `107.${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  const r = await stint([
    "exec",
    "--",
    "sh",
    "-c",
    `setsid sleep ${nap} & echo started`,
  ], { env: s.env, cwd: s.dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "started\n");
  const daemon = processesRunning(["sleep", nap]);
  try {
    assert.ok(daemon.length > 0, "the daemon outlived the run");
    assert.equal(executions(s.db)[0].status, "succeeded");
  } finally {
    for (const pid of daemon) Deno.kill(pid, "SIGKILL");
  }
});

Deno.test("a relative --db / STINT_DB means the same store for the task, nested stint and the supervisor", async () => {
  const s = tempState();
  const inner = `"${Deno.execPath()}" run -A --quiet "${MAIN}"`;
  const dir = makeProject(s.dir, {
    t: `${inner} vars set x 1 && ${inner} vars get x`,
  });
  const sub = join(dir, "sub");
  Deno.mkdirSync(sub);
  const { STINT_DB: _, ...env } = s.env;
  // From a subdirectory: the task itself runs in the project's directory.
  const r = await stint(["--db", "rel.db", "run", "t"], { env, cwd: sub });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), "1");
  assert.equal(existsSync(join(dir, "rel.db")), false, "no stray store");
  const runs = withStore(join(sub, "rel.db"), (db) => listExecutions(db));
  assert.equal(runs.length, 1);
  assert.equal(runs[0].status, "succeeded");
  // A background run's supervisor starts elsewhere; it must still record here.
  const b = await stint(["exec", "-b", "--", "true"], {
    env: { ...env, STINT_DB: "rel2.db" },
    cwd: sub,
  });
  assert.equal(b.code, 0, b.stderr);
  const w = await stint(["bg", "wait", b.stdout.trim(), "--timeout", "20s"], {
    env: { ...env, STINT_DB: "rel2.db" },
    cwd: sub,
  });
  assert.equal(w.code, 0, w.stderr);
});

/**
 * Sets O_NONBLOCK on its stdout (the open file description, which a child
 * inheriting fd 1 shares, as a task that sets O_NONBLOCK on a shared
 * terminal does) and runs `stint <args>` with stdout inherited. Linux/glibc
 * (FFI fcntl).
 */
const NONBLOCKING_FIXTURE = `
const libc = Deno.dlopen("libc.so.6", {
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
});
const flags = libc.symbols.fcntl(1, 3, 0); // F_GETFL
if (flags < 0 || libc.symbols.fcntl(1, 4, flags | 0o4000) < 0) Deno.exit(99);
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", "--quiet", ${JSON.stringify(MAIN)}, ...Deno.args],
  stdin: "null",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
Deno.exit((await child.status).code);
`;

/**
 * Run stint with a non-blocking stdout that nobody reads for a while, so its
 * writes hit EAGAIN; returns everything it wrote and its exit code.
 */
async function withNonBlockingStdout(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
  const fixture = join(
    Deno.makeTempDirSync({ prefix: "stint-nb-" }),
    "nonblocking_stdout.ts",
  );
  Deno.writeTextFileSync(fixture, NONBLOCKING_FIXTURE);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", fixture, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  // Let the pipe fill before reading, then read slowly at first.
  await new Promise((r) => setTimeout(r, 1500));
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of child.stdout) {
    chunks.push(c);
    if (n++ < 20) await new Promise((r) => setTimeout(r, 5));
  }
  const { code } = await child.status;
  const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return { code, stdout: all, stderr: await stderr };
}

Deno.test("a non-blocking stdout (EAGAIN) loses no output: the run's copy, logs and cache get", async () => {
  const s = tempState();
  const lines = 200_000;
  const r = await withNonBlockingStdout(
    ["exec", "--", "sh", "-c", `yes abcdefghij | head -n ${lines}`],
    s.env,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.length, lines * 11, r.stderr);
  const [e] = executions(s.db);
  const logs = await withNonBlockingStdout(["logs", e.id], s.env);
  assert.equal(logs.code, 0, logs.stderr);
  assert.equal(logs.stdout.length, lines * 11);
  const blob = new Uint8Array(3_000_000).map((_, i) => (i * 7) & 0xff);
  const set = await stint(["cache", "set", "blob"], {
    env: s.env,
    stdin: blob,
  });
  assert.equal(set.code, 0, set.stderr);
  const get = await withNonBlockingStdout(["cache", "get", "blob"], s.env);
  assert.equal(get.code, 0, get.stderr);
  assert.deepEqual(get.stdout, blob);
  // Text printed the ordinary way (println) too: a var with many lines.
  const value = Array.from({ length: 100_000 }, (_, i) => String(i)).join("\n");
  const set2 = await stint(["vars", "set", "big", "-"], {
    env: s.env,
    stdin: value,
  });
  assert.equal(set2.code, 0, set2.stderr);
  const v = await withNonBlockingStdout(["vars", "get", "big"], s.env);
  assert.equal(v.code, 0, v.stderr);
  assert.equal(new TextDecoder().decode(v.stdout), value + "\n");
});

Deno.test("a run whose leader exited while its children still write is running (not lost) until stint records it", async () => {
  const s = tempState();
  const pidFile = join(s.dir, "leader.pid");
  const child = spawnStint([
    "exec",
    "--",
    "sh",
    "-c",
    `echo $$ > '${pidFile}'; echo first; (sleep 4; echo late) & exit 0`,
  ], { env: s.env, cwd: s.dir });
  const out = new Response(child.stdout).text();
  const err = new Response(child.stderr).text();
  // Wait until the leader (sh) is gone but its background child is not.
  await waitFor(() => {
    try {
      const pid = Deno.readTextFileSync(pidFile).trim();
      return pid !== "" && !existsSync(`/proc/${pid}`);
    } catch {
      return false;
    }
  }, { timeoutMs: 20_000, what: "the leader to exit" });
  const [e] = executions(s.db);
  // A reader in the meantime (it reconciles) must not call it lost, and
  // following it must not stop before the late output.
  const h = await stint(["history", "--json"], { env: s.env });
  assert.equal(h.code, 0, h.stderr);
  assert.equal(JSON.parse(h.stdout)[0].status, "running");
  const follow = await stint(["logs", e.id, "--follow"], { env: s.env });
  assert.equal(follow.code, 0, follow.stderr);
  assert.equal(follow.stdout, "first\nlate\n");
  const { code } = await child.status;
  await err;
  assert.equal(code, 0);
  assert.equal(await out, "first\nlate\n");
  const [done] = executions(s.db);
  assert.equal(done.status, "succeeded");
});
