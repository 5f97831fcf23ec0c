// stint logs through the real CLI: byte-exact output, --tail, --grep,
// --follow ending with the run, id resolution (prefix, background id), and
// no id at all (the newest run here, --failed).
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  finishExecution,
  processStartTime,
  saveBackgroundRun,
  withStore,
} from "../src/store/mod.ts";
import {
  assertOneLine,
  makeProject,
  spawnStint,
  stint,
  tempState,
  waitFor,
} from "./support/cli.ts";
import { appendLog, seedRuns, writeLog } from "./support/history_seed.ts";
import { HAS_SCRIPT, stintOnPty, stripEscapes } from "./support/pty.ts";

const LOG =
  "compiling\nwarning: unused x\nerror: boom\nretrying\nerror: boom again\ndone";

Deno.test("logs: prints the log byte-exact, binary and non-UTF-8 included", async () => {
  const st = tempState();
  const bytes = new Uint8Array([
    ...new TextEncoder().encode("colour \x1b[31mred\x1b[0m\r\npartial"),
    0x00,
    0xff,
    0xfe,
    0x80,
    0x0a,
    ...Array.from({ length: 300_000 }, (_, i) => i % 256),
  ]);
  const [e] = seedRuns(st.db, [{
    ref: "app:bin",
    startedAt: Date.now() - 5000,
    log: bytes,
  }]);
  const r = await stint(["logs", e.id], { env: st.env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdoutBytes, bytes);
  // A prefix works as well as the whole id.
  const p = await stint(["logs", e.id.slice(0, 13)], { env: st.env });
  assert.deepEqual(p.stdoutBytes, bytes);
});

Deno.test("logs: --tail and --grep select lines, together like grep | tail", async () => {
  const st = tempState();
  const [e] = seedRuns(st.db, [{
    ref: "app:x",
    startedAt: Date.now() - 5000,
    log: LOG,
  }]);
  const out = async (...args: string[]) => {
    const r = await stint(["logs", e.id, ...args], { env: st.env });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  assert.equal(await out("--tail", "2"), "error: boom again\ndone");
  assert.equal(await out("-n", "1"), "done");
  assert.equal(await out("--tail", "0"), "");
  assert.equal(await out("--tail", "100"), LOG);
  assert.equal(
    await out("--grep", "^error"),
    "error: boom\nerror: boom again\n",
  );
  assert.equal(
    await out("--grep", "boom|warn", "--tail", "2"),
    "error: boom\nerror: boom again\n",
  );
  assert.equal(await out("--grep", "does not occur"), "");
  // The last line has no newline; it still matches.
  assert.equal(await out("--grep", "one$"), "done");
});

Deno.test("logs: bad flags exit 2, unknown ids and missing logs exit 1", async () => {
  const st = tempState();
  const t = Date.now() - 5000;
  const [withLog, noLog] = seedRuns(st.db, [
    { ref: "app:x", startedAt: t, log: "x\n" },
    { ref: "app:y", startedAt: t + 1 },
  ]);
  const cases: [string[], number, RegExp][] = [
    [
      [withLog.id, "--grep", "(unclosed"],
      2,
      /--grep is not a valid regular expression/,
    ],
    [[withLog.id, "--tail", "-3"], 2, /--tail/],
    [[withLog.id, "--tail", "many"], 2, /--tail must be a whole number/],
    // No id: the newest run of the current project; none was recorded here.
    [[], 1, /No run recorded in .* or below; give a run id/],
    [["--failed", withLog.id], 2, /either a run id or --failed/],
    [[withLog.id, "extra"], 2, /Unexpected argument/],
    [["ffffffff"], 1, /No run or background run with id "ffffffff"/],
    [["../../etc/passwd"], 1, /No run or background run/],
    [[noLog.id], 1, /has no log file/],
  ];
  for (const [args, code, re] of cases) {
    const r = await stint(["logs", ...args], { env: st.env });
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assertOneLine(r.stderr);
    assert.match(r.stderr, re);
    assert.equal(r.stdout, "");
  }
  // The record says there is a log but the file is gone.
  Deno.removeSync(
    (await import("../src/store/mod.ts")).logPath(st.db, withLog.logId!),
  );
  const gone = await stint(["logs", withLog.id], { env: st.env });
  assert.equal(gone.code, 1);
  assertOneLine(gone.stderr);
  assert.match(gone.stderr, /has no log file on this machine/);
});

Deno.test("logs: an ambiguous prefix says so (exit 1), a longer one resolves", async () => {
  const st = tempState();
  const t = Date.now() - 5000;
  const [a, b] = seedRuns(st.db, [
    { ref: "app:x", startedAt: t, log: "first\n" },
    { ref: "app:x", startedAt: t, log: "second\n" },
  ]);
  const shared = a.id.slice(0, 13);
  assert.ok(b.id.startsWith(shared));
  const r = await stint(["logs", shared], { env: st.env });
  assert.equal(r.code, 1);
  assertOneLine(r.stderr);
  assert.match(r.stderr, /ambiguous/);
  const full = await stint(["logs", b.id.slice(0, 30)], { env: st.env });
  assert.equal(full.stdout, "second\n");
});

Deno.test("logs: a background run id shows its execution's log", async () => {
  const st = tempState();
  const [e] = seedRuns(st.db, [{
    ref: "app:serve",
    startedAt: Date.now() - 5000,
    log: "serving on :8000\n",
    backgroundId: "k3x9q2mf",
  }]);
  withStore(st.db, (db) =>
    saveBackgroundRun(db, {
      id: "k3x9q2mf",
      ref: "app:serve",
      executionId: e.id,
      status: "completed",
      exitCode: 0,
      completedAt: Date.now(),
    }));
  for (const id of ["k3x9q2mf", "k3x9"]) {
    const r = await stint(["logs", id], { env: st.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "serving on :8000\n");
  }
});

/** Collect a child's stdout as it arrives. */
function collect(child: Deno.ChildProcess): {
  text: () => string;
  done: Promise<void>;
} {
  const chunks: Uint8Array[] = [];
  const dec = new TextDecoder();
  const done = (async () => {
    for await (const c of child.stdout) chunks.push(c);
  })();
  return {
    text: () => chunks.map((c) => dec.decode(c, { stream: true })).join(""),
    done,
  };
}

/** A live process to stand in for a running task (pid + start time). */
function liveProcess(): Deno.ChildProcess {
  return new Deno.Command("sleep", {
    args: ["120"],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

Deno.test("logs --follow: prints new bytes as they arrive and ends when the run ends", async () => {
  const st = tempState();
  const sleeper = liveProcess();
  try {
    const [e] = seedRuns(st.db, [{
      ref: "app:watch",
      startedAt: Date.now() - 1000,
      status: "running",
      pid: sleeper.pid,
      pidStart: processStartTime(sleeper.pid),
      log: "line 1\nline 2\nline 3\n",
    }]);
    const child = spawnStint(["logs", e.id, "--follow", "--tail", "1"], {
      env: st.env,
    });
    await child.stdin.close();
    const out = collect(child);
    await waitFor(() => out.text() === "line 3\n", {
      timeoutMs: 20_000,
      what: "the tail of the log",
    });
    appendLog(st.db, e.logId!, "line 4 partial");
    await waitFor(() => out.text().endsWith("line 4 partial"), {
      timeoutMs: 20_000,
      what: "a partial line while following",
    });
    appendLog(st.db, e.logId!, " done\n");
    await waitFor(() => out.text().endsWith("line 4 partial done\n"), {
      timeoutMs: 20_000,
      what: "the rest of the line",
    });
    // Still following: the run is still running.
    const early = await Promise.race([
      child.status.then(() => "exited"),
      new Promise((r) => setTimeout(() => r("running"), 500)),
    ]);
    assert.equal(early, "running");
    appendLog(st.db, e.logId!, "last words\n");
    withStore(
      st.db,
      (db) => finishExecution(db, e.id, { status: "succeeded", exitCode: 0 }),
    );
    const status = await child.status;
    await out.done;
    assert.equal(status.code, 0);
    assert.equal(out.text(), "line 3\nline 4 partial done\nlast words\n");
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
});

Deno.test("logs --follow --grep: whole matching lines only; ends when the run is lost", async () => {
  const st = tempState();
  const sleeper = liveProcess();
  let killed = false;
  try {
    const [e] = seedRuns(st.db, [{
      ref: "app:watch",
      startedAt: Date.now() - 1000,
      status: "running",
      pid: sleeper.pid,
      pidStart: processStartTime(sleeper.pid),
      log: "ok 1\nERR a\nok 2\nERR b",
    }]);
    const child = spawnStint(["logs", e.id, "-f", "--grep", "^ERR"], {
      env: st.env,
    });
    await child.stdin.close();
    const out = collect(child);
    await waitFor(() => out.text() === "ERR a\n", {
      timeoutMs: 20_000,
      what: "the first matching line",
    });
    appendLog(st.db, e.logId!, " continued\nok 3\nERR c\n");
    await waitFor(() => out.text() === "ERR a\nERR b continued\nERR c\n", {
      timeoutMs: 20_000,
      what: "matching lines appended later",
    });
    // The "task" dies without its record being finished (stint was
    // SIGKILLed): the next read marks it lost and the follow ends.
    sleeper.kill("SIGKILL");
    await sleeper.status;
    killed = true;
    const status = await child.status;
    await out.done;
    assert.equal(status.code, 0);
    const [rec] = JSON.parse(
      (await stint(["history", "--json"], { env: st.env })).stdout,
    );
    assert.equal(rec.status, "lost");
  } finally {
    if (!killed) {
      sleeper.kill();
      await sleeper.status;
    }
  }
});

Deno.test("logs --follow on a finished run prints the log and exits", async () => {
  const st = tempState();
  const [e] = seedRuns(st.db, [{
    ref: "app:x",
    startedAt: Date.now() - 5000,
    log: LOG,
  }]);
  const r = await stint(["logs", e.id, "--follow", "--tail", "1"], {
    env: st.env,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "done");
});

Deno.test("logs --follow waits for a log file that does not exist yet", async () => {
  const st = tempState();
  const sleeper = liveProcess();
  try {
    const [e] = seedRuns(st.db, [{
      ref: "app:late",
      startedAt: Date.now() - 1000,
      status: "running",
      pid: sleeper.pid,
      pidStart: processStartTime(sleeper.pid),
    }]);
    withStore(
      st.db,
      (db) =>
        db.prepare("UPDATE executions SET log_id = id WHERE id = ?").run(e.id),
    );
    const child = spawnStint(["logs", e.id, "--follow"], { env: st.env });
    await child.stdin.close();
    const out = collect(child);
    await new Promise((r) => setTimeout(r, 400));
    writeLog(st.db, e.id, "hello late\n");
    await waitFor(() => out.text() === "hello late\n", {
      timeoutMs: 20_000,
      what: "the late log",
    });
    withStore(
      st.db,
      (db) => finishExecution(db, e.id, { status: "failed", exitCode: 1 }),
    );
    assert.equal((await child.status).code, 0);
    await out.done;
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
});

Deno.test("end to end: logs --follow on a real background run ends with it", async () => {
  const st = tempState();
  const dir = makeProject(st.dir, {
    slow: "echo start && sleep 1 && echo middle && sleep 1 && echo end",
  }, { name: "bgproj" });
  const started = await stint(["run", "-b", "--json", "slow"], {
    env: st.env,
    cwd: dir,
  });
  assert.equal(started.code, 0, started.stderr);
  const id = JSON.parse(started.stdout).id as string;
  const r = await stint([
    "logs",
    id,
    "--follow",
    "--grep",
    "^(start|middle|end)$",
  ], {
    env: st.env,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "start\nmiddle\nend\n");
  const [rec] = JSON.parse(
    (await stint(["history", "bgproj:slow", "--json"], { env: st.env })).stdout,
  );
  assert.equal(rec.status, "succeeded");
  assert.equal(rec.background_id, id);
});

Deno.test("logs --follow on a run still running on another host says so (exit 1)", async () => {
  const st = tempState();
  const [e] = seedRuns(st.db, [{
    ref: "app:far",
    startedAt: Date.now() - 1000,
    status: "running",
    log: "partial\n",
  }]);
  // As a pull would bring it in: recorded by another host, still running.
  withStore(
    st.db,
    (db) =>
      db.prepare("UPDATE executions SET host_id = 'far-away-1234' WHERE id = ?")
        .run(e.id),
  );
  const r = await stint(["logs", e.id, "--follow"], { env: st.env });
  assert.equal(r.code, 1);
  assertOneLine(r.stderr);
  assert.match(r.stderr, /running on host far-away-1234/);
  // Without --follow, what this machine has is printed.
  const plain = await stint(["logs", e.id], { env: st.env });
  assert.equal(plain.stdout, "partial\n");
});

Deno.test("logs: --tail and --grep across many read chunks (a 1.3 MB log)", async () => {
  const st = tempState();
  const lines = Array.from({ length: 120_000 }, (_, i) => `line ${i}\n`);
  const [e] = seedRuns(st.db, [{
    ref: "app:big",
    startedAt: Date.now() - 5000,
    log: lines.join(""),
  }]);
  const tail = await stint(["logs", e.id, "--tail", "3"], { env: st.env });
  assert.equal(tail.stdout, lines.slice(-3).join(""));
  const grep = await stint(["logs", e.id, "--grep", "^line 7777\\d$"], {
    env: st.env,
  });
  assert.equal(grep.stdout, lines.slice(77770, 77780).join(""));
  const both = await stint(
    ["logs", e.id, "--grep", "^line \\d*99$", "--tail", "2"],
    { env: st.env },
  );
  assert.equal(both.stdout, "line 119899\nline 119999\n");
  const all = await stint(["logs", e.id], { env: st.env });
  assert.equal(all.stdout.length, lines.join("").length);
  assert.equal(all.stdout, lines.join(""));
});

Deno.test("--tail / --grep on a log with one huge line (progress bars without newlines) stay linear", async () => {
  const st = tempState();
  const [e] = seedRuns(st.db, [{
    ref: "app:pull",
    startedAt: Date.now(),
    log: "",
  }]);
  // 100 MB of progress updates separated by \r only, then a last line.
  const huge = new Uint8Array(100_000_000).fill(0x61);
  for (let i = 99; i < huge.length; i += 100) huge[i] = 0x0d;
  const tailLine = new TextEncoder().encode("\ndone pulling\n");
  const log = new Uint8Array(huge.length + tailLine.length);
  log.set(huge);
  log.set(tailLine, huge.length);
  writeLog(st.db, e.id, log);
  // A hang guard, not a benchmark: splitting this line by re-copying the
  // pending part on every 64 KiB read takes minutes; streaming takes seconds.
  const guard = (args: string[]) => {
    const child = spawnStint(args, { env: st.env });
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    return child.output().finally(() => clearTimeout(timer));
  };
  const tail = await guard(["logs", e.id, "--tail", "1"]);
  assert.equal(tail.signal, null, "--tail hung");
  assert.equal(new TextDecoder().decode(tail.stdout), "done pulling\n");
  const grep = await guard(["logs", e.id, "--grep", "^done"]);
  assert.equal(grep.signal, null, "--grep hung");
  assert.equal(new TextDecoder().decode(grep.stdout), "done pulling\n");
  const two = await guard(["logs", e.id, "--tail", "2"]);
  assert.equal(two.stdout.length, huge.length + tailLine.length);
});

Deno.test("logs without an id: the newest run of the current project; --failed the newest failure", async () => {
  const st = tempState();
  const a = makeProject(st.dir, {}, { name: "a" });
  const b = makeProject(st.dir, {}, { name: "b" });
  const empty = join(st.dir, "empty");
  Deno.mkdirSync(join(a, "src"));
  Deno.mkdirSync(empty);
  const exec = async (cwd: string, script: string) =>
    await stint(["exec", "--shell", "--", script], { env: st.env, cwd });
  await exec(a, "echo a1");
  assert.equal((await exec(join(a, "src"), "echo a-fail; exit 2")).code, 2);
  await exec(a, "echo a3; echo a3-more");
  await exec(b, "echo b1"); // the newest run overall, in another project
  const logs = async (args: string[], cwd: string) =>
    await stint(["logs", ...args], { env: st.env, cwd });

  let r = await logs([], a);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "a3\na3-more\n");
  assert.equal(r.stderr, "", "nothing on stderr when it is not a terminal");
  r = await logs(["--last", "--tail", "1"], join(a, "src"));
  assert.equal(r.stdout, "a3-more\n");
  r = await logs(["--failed"], a);
  assert.equal(r.stdout, "a-fail\n");
  r = await logs([], b);
  assert.equal(r.stdout, "b1\n");
  r = await logs(["--failed"], b);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^stint: No failed run recorded in .*\/b or below; give a run id/,
  );
  r = await logs([], empty);
  assert.equal(r.code, 1);
  assertOneLine(r.stderr);
});

Deno.test({
  name: HAS_SCRIPT
    ? "logs without an id names the run it shows on a terminal"
    : "logs without an id names its run on a terminal (needs script(1); not installed)",
  ignore: !HAS_SCRIPT,
  fn: async () => {
    const st = tempState();
    const a = makeProject(st.dir, {}, { name: "a" });
    await stint(["exec", "--name", "a:hello", "--", "echo", "hi"], {
      env: st.env,
      cwd: a,
    });
    const r = await stintOnPty(["logs"], { cols: 80, env: st.env, cwd: a });
    assert.equal(r.code, 0, r.output);
    assert.match(
      stripEscapes(r.output),
      /stint: [0-9a-f-]{13} {2}a:hello {2}succeeded {2}just now\nhi\n/,
    );
  },
});
