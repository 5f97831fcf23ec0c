// stint history / refs / clear, stint stats and stint tasks through the real
// CLI, on histories seeded with the store API (explicit times and statuses).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  countExecutions,
  medianDuration,
  nearestRank,
  percentiles,
} from "../src/store/stats.ts";
import { logPath, withStore } from "../src/store/mod.ts";
import { sparkline } from "../src/cli/stats.ts";
import { parseSince } from "../src/cli/history.ts";
import { assertOneLine, makeProject, stint, tempState } from "./support/cli.ts";
import { seedRuns } from "./support/history_seed.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Data rows of a plain (non-TTY) table: every line after the header. */
function tableRows(stdout: string): string[][] {
  return stdout.trimEnd().split("\n").slice(1).map((l) => l.split(/\s{2,}/));
}

Deno.test("history: newest first, 20 by default, the columns a person scans", async () => {
  const st = tempState();
  const now = Date.now();
  const seeded = seedRuns(
    st.db,
    Array.from({ length: 25 }, (_, i) => ({
      ref: i % 2 ? "app:test" : "app:build",
      startedAt: now - (25 - i) * HOUR,
      durationMs: 1500,
      status: i === 24 ? "failed" as const : "succeeded" as const,
      exitCode: i === 24 ? 3 : 0,
    })),
  );
  const r = await stint(["history"], { env: st.env });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^ID\s+REF\s+STARTED\s+DURATION\s+STATUS$/);
  const rows = tableRows(r.stdout);
  assert.equal(rows.length, 20);
  // Newest first: the last seeded run (1h ago, failed with exit 3) leads.
  assert.equal(rows[0][1], "app:build");
  assert.equal(rows[0][2], "1h ago");
  assert.equal(rows[0][3], "1.50s");
  assert.equal(rows[0][4], "failed (exit 3)");
  assert.equal(rows[1][4], "succeeded");
  assert.ok(seeded[24].id.startsWith(rows[0][0]));
  assert.equal(rows[19][2], "20h ago");
  // The short id is a usable prefix: stint logs resolves it (no log -> exit 1
  // with a "no log file" message, not "no run").
  const logs = await stint(["logs", rows[0][0]], { env: st.env });
  assert.equal(logs.code, 1);
  assert.match(logs.stderr, /has no log file/);

  const all = await stint(["history", "--all", "--json"], { env: st.env });
  assert.equal(JSON.parse(all.stdout).length, 25);
  const three = await stint(["history", "--limit", "3", "--json"], {
    env: st.env,
  });
  assert.deepEqual(
    JSON.parse(three.stdout).map((e: { id: string }) => e.id),
    [seeded[24].id, seeded[23].id, seeded[22].id],
  );
});

Deno.test("history: short ids grow until unique when runs share a prefix", async () => {
  const st = tempState();
  const t = Date.now() - HOUR;
  // Same millisecond: the first 13 characters of the UUIDv7s are equal.
  const seeded = seedRuns(st.db, [
    { ref: "a:x", startedAt: t },
    { ref: "a:x", startedAt: t },
  ]);
  const r = await stint(["history"], { env: st.env });
  const ids = tableRows(r.stdout).map((row) => row[0]);
  assert.equal(ids.length, 2);
  assert.notEqual(ids[0], ids[1]);
  assert.ok(ids[0].length > 13, ids[0]);
  for (const id of ids) {
    assert.ok(seeded.some((e) => e.id.startsWith(id)));
  }
});

Deno.test("history: --status failed --limit 5 gives the 5 newest failures however old", async () => {
  const st = tempState();
  const now = Date.now();
  const runs = [];
  // 8 failures 30-37 days ago, then 200 recent successes.
  for (let i = 0; i < 8; i++) {
    runs.push({
      ref: "app:test",
      startedAt: now - (37 - i) * DAY,
      status: "failed" as const,
    });
  }
  for (let i = 0; i < 200; i++) {
    runs.push({ ref: "app:test", startedAt: now - (200 - i) * 60_000 });
  }
  const seeded = seedRuns(st.db, runs);
  const r = await stint(
    ["history", "--status", "failed", "--limit", "5", "--json"],
    { env: st.env },
  );
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { id: string; status: string }[];
  assert.deepEqual(
    got.map((e) => e.id),
    seeded.slice(3, 8).reverse().map((e) => e.id),
  );
  assert.ok(got.every((e) => e.status === "failed"));
});

Deno.test("history: ref, --since (duration and date) and --host filters", async () => {
  const st = tempState();
  const now = Date.now();
  seedRuns(st.db, [
    { ref: "app:build", startedAt: now - 10 * DAY },
    { ref: "app:build", startedAt: now - 2 * DAY },
    { ref: "app:test", startedAt: now - 1 * DAY },
    { ref: "app:test", startedAt: now - HOUR },
  ]);
  // A run recorded on another host (as sync would bring it in).
  const [other] = seedRuns(st.db, [{
    ref: "app:test",
    startedAt: now - 90_000,
  }]);
  withStore(
    st.db,
    (db) =>
      db.prepare("UPDATE executions SET host_id = 'far-host' WHERE id = ?").run(
        other.id,
      ),
  );

  const refs = async (args: string[]) => {
    const r = await stint(["history", ...args, "--json"], { env: st.env });
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { ref: string; started_at: string }[]);
  };
  assert.equal((await refs(["app:build"])).length, 2);
  assert.equal((await refs(["app:test", "--since", "2h"])).length, 2);
  assert.equal((await refs(["--since", "3d"])).length, 4);
  const since = new Date(now - 5 * DAY).toISOString().slice(0, 10);
  assert.equal((await refs(["app:build", "--since", since])).length, 1);
  const far = await refs(["--host", "far-host"]);
  assert.equal(far.length, 1);
  assert.equal(far[0].started_at, new Date(now - 90_000).toISOString());
  assert.equal((await refs(["nope:nothing"])).length, 0);

  // Two hosts in view: the table grows a HOST column.
  const table = await stint(["history", "app:test"], { env: st.env });
  assert.match(table.stdout.split("\n")[0], /\bHOST$/);
  assert.match(table.stdout, /far-host/);
  const none = await stint(["history", "nope:nothing"], { env: st.env });
  assert.equal(none.code, 0);
  assert.match(none.stdout, /No runs match/);
});

Deno.test("history --json: stable snake_case fields and ISO-8601 times", async () => {
  const st = tempState();
  const t = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
  seedRuns(st.db, [{
    ref: "app:build",
    startedAt: t,
    durationMs: 2500,
    status: "killed",
    signal: "SIGTERM",
    exitCode: 143,
  }]);
  const r = await stint(["history", "--json"], { env: st.env });
  const [e] = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(e).sort(), [
    "args",
    "background_id",
    "caller_cwd",
    "command",
    "completed_at",
    "duration_ms",
    "error",
    "exit_code",
    "host_id",
    "id",
    "log_id",
    "matched_tasks",
    "parent_id",
    "pid",
    "project_dir",
    "ref",
    "rerun_of",
    "signal",
    "started_at",
    "status",
    "task",
  ]);
  assert.equal(e.started_at, "2026-01-02T03:04:05.006Z");
  assert.equal(e.completed_at, "2026-01-02T03:04:07.506Z");
  assert.equal(e.duration_ms, 2500);
  assert.equal(e.status, "killed");
  assert.equal(e.signal, "SIGTERM");
  const table = await stint(["history"], { env: st.env });
  assert.match(table.stdout, /killed \(SIGTERM\)/);
  // An empty store prints an empty array, not a message.
  const empty = tempState();
  const er = await stint(["history", "--json"], { env: empty.env });
  assert.deepEqual(JSON.parse(er.stdout), []);
});

Deno.test("history: a running record whose process is gone reads as lost", async () => {
  const st = tempState();
  const child = new Deno.Command("true").spawn();
  const { pid } = child;
  await child.status;
  seedRuns(st.db, [{
    ref: "app:dev",
    startedAt: Date.now() - 5000,
    status: "running",
    pid,
    pidStart: "1",
  }]);
  const r = await stint(["history", "--json"], { env: st.env });
  const [e] = JSON.parse(r.stdout);
  assert.equal(e.status, "lost");
  assert.match(e.error, /lost/i);
});

Deno.test("history: bad flags exit 2 with one line", async () => {
  const st = tempState();
  const cases: [string[], RegExp][] = [
    [["--status", "exploded"], /--status must be one of/],
    [["--since", "3 fortnights"], /--since must be a duration/],
    [["--since", "2026-13-45"], /--since must be/],
    [["--limit", "0"], /--limit must be a whole number/],
    [["--limit", "ten"], /--limit must be a whole number/],
    // A value that starts with a dash: name the fix, not "takes no value".
    [["--limit", "-1"], /Option --limit needs a value.* --limit=<value>/],
    [["--limit", "5", "--all"], /either --limit or --all/],
    [["--colour"], /Unknown option --colour/],
    [["a:b", "c:d"], /Unexpected argument "c:d"/],
    [["refs", "extra"], /Unexpected argument/],
    [["clear"], /needs an argument/],
  ];
  for (const [args, re] of cases) {
    const r = await stint(["history", ...args], { env: st.env });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assertOneLine(r.stderr);
    assert.match(r.stderr, re);
  }
});

Deno.test("history refs: every ref with runs, last run and status", async () => {
  const st = tempState();
  const now = Date.now();
  seedRuns(st.db, [
    { ref: "app:build", startedAt: now - 3 * HOUR },
    { ref: "app:test", startedAt: now - 2 * HOUR, status: "failed" },
    { ref: "app:build", startedAt: now - HOUR },
  ]);
  const r = await stint(["history", "refs", "--json"], { env: st.env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [
    {
      ref: "app:build",
      runs: 2,
      last_started_at: new Date(now - HOUR).toISOString(),
      last_status: "succeeded",
    },
    {
      ref: "app:test",
      runs: 1,
      last_started_at: new Date(now - 2 * HOUR).toISOString(),
      last_status: "failed",
    },
  ]);
  const table = await stint(["history", "refs"], { env: st.env });
  assert.deepEqual(tableRows(table.stdout), [
    ["app:build", "2", "1h ago", "succeeded"],
    ["app:test", "1", "2h ago", "failed"],
  ]);
});

Deno.test("history clear: needs --yes without a terminal, then removes records and logs", async () => {
  const st = tempState();
  const now = Date.now();
  const sleeper = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    const { processStartTime } = await import("../src/store/process.ts");
    const seeded = seedRuns(st.db, [
      { ref: "app:build", startedAt: now - 3 * HOUR, log: "one\n" },
      { ref: "app:build", startedAt: now - 2 * HOUR, log: "two\n" },
      { ref: "app:test", startedAt: now - HOUR, log: "keep me\n" },
      {
        ref: "app:build",
        startedAt: now - 1000,
        status: "running",
        pid: sleeper.pid,
        pidStart: processStartTime(sleeper.pid),
        log: "still going\n",
      },
    ]);
    const paths = seeded.map((e) => logPath(st.db, e.logId!));

    const refused = await stint(["history", "clear", "app:build"], {
      env: st.env,
    });
    assert.equal(refused.code, 2);
    assertOneLine(refused.stderr);
    assert.match(refused.stderr, /--yes/);
    assert.equal(withStore(st.db, (db) => countExecutions(db)), 4);
    assert.ok(paths.every((p) => existsSync(p)));

    const ok = await stint(["history", "clear", "app:build", "--yes"], {
      env: st.env,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Deleted 2 runs of app:build and 2 log files/);
    assert.match(ok.stdout, /kept 1 still running/);
    assert.ok(!existsSync(paths[0]) && !existsSync(paths[1]));
    assert.ok(existsSync(paths[2]) && existsSync(paths[3]));
    const left = await stint(["history", "--json"], { env: st.env });
    assert.deepEqual(
      JSON.parse(left.stdout).map((e: { id: string }) => e.id).sort(),
      [seeded[2].id, seeded[3].id].sort(),
    );
    // The deletes are recorded as tombstones so they sync.
    const tombs = withStore(
      st.db,
      (db) =>
        db.prepare("SELECT key FROM tombstones WHERE kind = 'execution'").all()
          .map((r) => String(r.key)).sort(),
    );
    assert.deepEqual(tombs, [seeded[0].id, seeded[1].id].sort());

    const again = await stint(["history", "clear", "app:build", "--yes"], {
      env: st.env,
    });
    assert.equal(again.code, 1);
    assertOneLine(again.stderr);
    assert.match(again.stderr, /still running/);
    const unknown = await stint(["history", "clear", "no:such", "--yes"], {
      env: st.env,
    });
    assert.equal(unknown.code, 1);
    assertOneLine(unknown.stderr);
    assert.match(unknown.stderr, /No runs recorded for "no:such"/);
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
});

Deno.test("stats: runs, success rate, nearest-rank p50/p95 and a sparkline", async () => {
  const st = tempState();
  const now = Date.now();
  const runs = [];
  // app:test: durations 100..2000 ms (20 runs), every 4th one failed; one
  // killed run whose duration must not count.
  for (let i = 1; i <= 20; i++) {
    runs.push({
      ref: "app:test",
      startedAt: now - (30 - i) * HOUR,
      durationMs: i * 100,
      status: i % 4 === 0 ? "failed" as const : "succeeded" as const,
    });
  }
  runs.push({
    ref: "app:test",
    startedAt: now - 5 * HOUR,
    durationMs: 999_999,
    status: "killed" as const,
  });
  runs.push({ ref: "app:lint", startedAt: now - HOUR, durationMs: 700 });
  seedRuns(st.db, runs);

  const r = await stint(["stats", "--json"], { env: st.env });
  assert.equal(r.code, 0, r.stderr);
  const stats = JSON.parse(r.stdout);
  assert.deepEqual(stats.map((s: { ref: string }) => s.ref), [
    "app:lint",
    "app:test",
  ]);
  const t = stats[1];
  assert.equal(t.runs, 21);
  assert.equal(t.succeeded, 15);
  assert.equal(t.failed, 5);
  assert.equal(t.killed, 1);
  assert.equal(t.success_rate, 15 / 21);
  assert.equal(t.p50_ms, 1000);
  assert.equal(t.p95_ms, 1900);
  assert.deepEqual(
    t.recent_ms,
    Array.from({ length: 20 }, (_, i) => (i + 1) * 100),
  );
  assert.equal(t.last_status, "killed");

  const one = await stint(["stats", "app:test", "--recent", "8"], {
    env: st.env,
  });
  assert.equal(one.code, 0, one.stderr);
  const [row] = tableRows(one.stdout);
  assert.deepEqual(row.slice(0, 6), [
    "app:test",
    "21",
    "71%",
    "1.00s",
    "1.90s",
    sparkline([1300, 1400, 1500, 1600, 1700, 1800, 1900, 2000]),
  ]);
  assert.equal(row[5], "▁▂▃▄▅▆▇█");

  // A window of the newest 4 runs: killed, failed (2000), 1900, 1800.
  const win = await stint(["stats", "app:test", "--window", "4", "--json"], {
    env: st.env,
  });
  const [w] = JSON.parse(win.stdout);
  assert.equal(w.runs, 21);
  assert.equal(w.window, 4);
  assert.deepEqual([w.succeeded, w.failed, w.killed], [2, 1, 1]);
  assert.equal(w.success_rate, 0.5);
  assert.equal(w.p50_ms, 1900);
  assert.equal(w.p95_ms, 2000);

  const unknown = await stint(["stats", "no:such"], { env: st.env });
  assert.equal(unknown.code, 1);
  assertOneLine(unknown.stderr);
  const bad = await stint(["stats", "--recent", "x"], { env: st.env });
  assert.equal(bad.code, 2);
  assertOneLine(bad.stderr);
});

Deno.test("stats helpers: nearest rank, percentiles in SQL, sparkline scaling", () => {
  assert.equal(nearestRank(50, 1), 1);
  assert.equal(nearestRank(50, 4), 2);
  assert.equal(nearestRank(95, 20), 19);
  assert.equal(nearestRank(95, 100), 95);
  assert.equal(nearestRank(0, 10), 1);
  assert.equal(sparkline([]), "");
  assert.equal(sparkline([5, 5, 5]), "▄▄▄");
  assert.equal(sparkline([0, 70, 35]), "▁█▅");
  const st = tempState();
  const now = Date.now();
  seedRuns(
    st.db,
    [7, 3, 9, 1, 5].map((d, i) => ({
      ref: "r:x",
      startedAt: now - i * 1000,
      durationMs: d,
    })),
  );
  assert.deepEqual(percentiles([7, 3, 9, 1, 5], [50, 95, 0]), [5, 9, 1]);
  assert.deepEqual(percentiles([], [50]), [null]);
  withStore(st.db, (db) => {
    assert.equal(medianDuration(db, "r:x"), 5);
    // The window covers the newest runs only: the two newest are 7 and 3.
    assert.equal(medianDuration(db, "r:x", 2), 3);
    assert.equal(medianDuration(db, "none"), null);
  });
});

Deno.test("parseSince: durations back from now and dates", () => {
  const now = Date.UTC(2026, 10, 23);
  assert.equal(parseSince("7d", now), now - 7 * DAY);
  assert.equal(parseSince("90s", now), now - 90_000);
  assert.equal(parseSince("2026-11-01", now), Date.UTC(2026, 10, 1));
  assert.equal(parseSince(undefined, now), undefined);
  assert.throws(() => parseSince("soon", now), /--since must be/);
});

Deno.test("tasks: every task with description, dependencies and history", async () => {
  const st = tempState();
  const dir = makeProject(st.dir, {
    build: { command: "echo build", description: "Build it" },
    test: {
      command: "echo test",
      description: "Test it",
      dependencies: ["build"],
    },
    lint: "echo lint",
  }, { name: "shop" });
  const now = Date.now();
  seedRuns(st.db, [
    { ref: "shop:build", startedAt: now - 3 * HOUR, durationMs: 1000 },
    { ref: "shop:build", startedAt: now - 2 * HOUR, durationMs: 3000 },
    {
      ref: "shop:build",
      startedAt: now - HOUR,
      durationMs: 2000,
      status: "failed",
    },
    { ref: "other:build", startedAt: now - 60_000, durationMs: 9 },
  ]);
  const sub = join(dir, "src");
  Deno.mkdirSync(sub);
  const r = await stint(["tasks", "--json"], { env: st.env, cwd: sub });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.project, "shop");
  assert.equal(out.config_path, join(dir, "deno.json"));
  const [build, test, lint] = out.tasks;
  assert.equal(build.ref, "shop:build");
  assert.equal(build.description, "Build it");
  assert.equal(build.last_status, "failed");
  assert.equal(build.last_duration_ms, 2000);
  assert.equal(build.median_duration_ms, 2000);
  assert.equal(build.last_run.started_at, new Date(now - HOUR).toISOString());
  assert.deepEqual(test.dependencies, ["build"]);
  assert.equal(test.last_run, null);
  assert.equal(test.median_duration_ms, null);
  assert.equal(lint.command, "echo lint");
  assert.equal(lint.description, null);

  const table = await stint(["tasks"], { env: st.env, cwd: dir });
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^shop \(.*deno\.json\)$/);
  const rows = tableRows(lines.slice(1).join("\n"));
  assert.deepEqual(rows[0], [
    "build",
    "Build it",
    "-",
    "failed 1h ago",
    "2.00s",
    "2.00s",
  ]);
  assert.deepEqual(rows[1].slice(0, 4), ["test", "Test it", "build", "never"]);
  assert.equal(rows[2][1], "echo lint");

  const nowhere = await stint(["tasks"], { env: st.env, cwd: "/" });
  assert.equal(nowhere.code, 1);
  assertOneLine(nowhere.stderr);
  assert.match(nowhere.stderr, /No deno.json/);
});

Deno.test("end to end: stint run, then history, logs, tasks and stats read it", async () => {
  const st = tempState();
  const dir = makeProject(st.dir, {
    hi: { command: "echo hello from hi", description: "Say hi" },
    bad: "echo about to fail && exit 3",
    all: { command: "echo all done", dependencies: ["hi"] },
  }, { name: "e2e" });
  for (const [task, code] of [["hi", 0], ["bad", 3], ["all", 0]] as const) {
    const r = await stint(["run", task], { env: st.env, cwd: dir });
    assert.equal(r.code, code, `${task}: ${r.stderr}`);
  }
  const hist = await stint(["history", "--json"], { env: st.env });
  assert.equal(hist.code, 0, hist.stderr);
  const runs = JSON.parse(hist.stdout) as {
    id: string;
    ref: string;
    status: string;
    exit_code: number;
  }[];
  // Newest first; `all` is recorded as the top run of its dependency chain.
  assert.equal(runs[0].ref, "e2e:all");
  const bad = runs.find((e) => e.ref === "e2e:bad")!;
  assert.equal(bad.status, "failed");
  assert.equal(bad.exit_code, 3);
  const failed = await stint(["history", "--status", "failed", "--json"], {
    env: st.env,
  });
  assert.deepEqual(
    JSON.parse(failed.stdout).map((e: { id: string }) => e.id),
    [bad.id],
  );

  const hi = runs.find((e) => e.ref === "e2e:hi")!;
  const log = await stint(["logs", hi.id.slice(0, 13), "--grep", "^hello"], {
    env: st.env,
  });
  assert.equal(log.code, 0, log.stderr);
  assert.equal(log.stdout, "hello from hi\n");
  const allLog = await stint(["logs", runs[0].id], { env: st.env });
  assert.match(allLog.stdout, /hello from hi\n[^]*all done\n/);

  const tasks = await stint(["tasks", "--json"], { env: st.env, cwd: dir });
  const byName = Object.fromEntries(
    JSON.parse(tasks.stdout).tasks.map((
      t: { name: string },
    ) => [t.name, t]),
  );
  assert.equal(byName.hi.last_status, "succeeded");
  assert.equal(byName.bad.last_status, "failed");
  assert.equal(typeof byName.all.median_duration_ms, "number");
  assert.deepEqual(byName.all.dependencies, ["hi"]);

  const stats = await stint(["stats", "e2e:bad", "--json"], { env: st.env });
  const [s] = JSON.parse(stats.stdout);
  assert.equal(s.runs, 1);
  assert.equal(s.success_rate, 0);

  const cleared = await stint(["history", "clear", "e2e:hi", "--yes"], {
    env: st.env,
  });
  assert.equal(cleared.code, 0, cleared.stderr);
  assert.match(cleared.stdout, /Deleted 1 run of e2e:hi and 1 log file/);
  const gone = await stint(["logs", hi.id], { env: st.env });
  assert.equal(gone.code, 1);
});

Deno.test("read commands on a store that does not exist yet create nothing", async () => {
  const st = tempState();
  const dir = makeProject(st.dir, { a: "echo a" });
  const cases: [string[], number, RegExp][] = [
    [["history"], 0, /No runs recorded yet/],
    [["history", "--json"], 0, /^\[\]$/],
    [["history", "refs", "--json"], 0, /^\[\]$/],
    [["stats"], 0, /No runs recorded yet/],
    [["tasks", "--json"], 0, /"last_status": null/],
    [["logs", "0123abcd"], 1, /^$/],
    [["history", "clear", "x:y", "--yes"], 1, /^$/],
  ];
  for (const [args, code, re] of cases) {
    const r = await stint(args, { env: st.env, cwd: dir });
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stdout.trim(), re);
  }
  assert.ok(!existsSync(st.db), "a read created the store file");
});

Deno.test("arguments after -- are positionals: a ref that starts with a dash", async () => {
  const st = tempState();
  for (const name of ["-weird", "plain"]) {
    const r = await stint(["exec", "--name", name, "--", "true"], {
      env: st.env,
      cwd: st.dir,
    });
    assert.equal(r.code, 0, r.stderr);
  }
  const h = await stint(["history", "--json", "--", "-weird"], {
    env: st.env,
  });
  assert.equal(h.code, 0, h.stderr);
  const runs = JSON.parse(h.stdout) as { ref: string; id: string }[];
  assert.deepEqual(runs.map((r) => r.ref), ["-weird"]);
  const s = await stint(["stats", "--json", "--", "-weird"], { env: st.env });
  assert.equal(s.code, 0, s.stderr);
  assert.deepEqual(
    (JSON.parse(s.stdout) as { ref: string }[]).map((r) => r.ref),
    ["-weird"],
  );
  const l = await stint(["logs", "--", runs[0].id], { env: st.env });
  assert.equal(l.code, 0, l.stderr);
  // Too many, counted across the --.
  const extra = await stint(["history", "a", "--", "b"], { env: st.env });
  assert.equal(extra.code, 2);
  assertOneLine(extra.stderr);
});

Deno.test("history clear: a bare task name is the current project's ref, as for history and stats", async () => {
  const st = tempState();
  const dir = makeProject(st.dir, { build: "echo b" }, { name: "app" });
  const now = Date.now();
  seedRuns(st.db, [
    { ref: "app:build", startedAt: now - 2 * HOUR, log: "mine\n" },
    { ref: "other:build", startedAt: now - HOUR, log: "theirs\n" },
  ]);
  const r = await stint(["history", "clear", "build", "--yes"], {
    env: st.env,
    cwd: dir,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Deleted 1 run of app:build and 1 log file/);
  const left = await stint(["history", "--json"], { env: st.env });
  assert.deepEqual(
    JSON.parse(left.stdout).map((e: { ref: string }) => e.ref),
    ["other:build"],
  );
  // Outside a project the word is a ref as typed.
  const away = await stint(["history", "clear", "build", "--yes"], {
    env: st.env,
    cwd: st.dir,
  });
  assert.equal(away.code, 1);
  assert.match(assertOneLine(away.stderr), /No runs recorded for "build"/);
});

Deno.test("history: the refs / clear subcommand may follow options", async () => {
  const st = tempState();
  const r = await stint(["exec", "--name", "app:x", "--", "true"], {
    env: st.env,
    cwd: st.dir,
  });
  assert.equal(r.code, 0, r.stderr);
  const refs = await stint(["history", "--json", "refs"], { env: st.env });
  assert.equal(refs.code, 0, refs.stderr);
  assert.deepEqual(
    (JSON.parse(refs.stdout) as { ref: string }[]).map((x) => x.ref),
    ["app:x"],
  );
  const clear = await stint(["history", "--yes", "clear", "app:x"], {
    env: st.env,
  });
  assert.equal(clear.code, 0, clear.stderr);
  const after = await stint(["history", "--json"], { env: st.env });
  assert.deepEqual(JSON.parse(after.stdout), []);
});

Deno.test("history clear: a record with an unsafe log id (e.g. synced) is cleared, its log id never used as a path", async () => {
  const st = tempState();
  const now = Date.now();
  const [bad, good] = seedRuns(st.db, [
    { ref: "app:x", startedAt: now - 2 * HOUR, log: "bad\n" },
    { ref: "app:x", startedAt: now - HOUR, log: "good\n" },
  ]);
  const victim = join(st.dir, "victim.log");
  Deno.writeTextFileSync(victim, "keep me\n");
  withStore(st.db, (db) => {
    db.prepare("UPDATE executions SET log_id = ? WHERE id = ?").run(
      "../victim",
      bad.id,
    );
  });
  const r = await stint(["history", "clear", "app:x", "--yes"], {
    env: st.env,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Deleted 2 runs of app:x and 1 log file/);
  assert.equal(existsSync(logPath(st.db, good.id)), false);
  assert.equal(Deno.readTextFileSync(victim), "keep me\n");
});

Deno.test("stats: SUCCESS shows 100% only when every finished run succeeded", async () => {
  const st = tempState();
  const now = Date.now();
  seedRuns(
    st.db,
    Array.from({ length: 200 }, (_, i) => ({
      ref: "app:flaky",
      startedAt: now - (200 - i) * 60_000,
      status: i === 100 ? "failed" as const : "succeeded" as const,
    })),
  );
  const r = await stint(["stats", "app:flaky"], { env: st.env });
  assert.equal(r.code, 0, r.stderr);
  const [row] = tableRows(r.stdout);
  assert.equal(row[2], "99%");
});

Deno.test("history: an empty --host filter says nothing matched; 59.99 s shows as 1m00s, not 60.0s", async () => {
  const st = tempState();
  seedRuns(st.db, [{
    ref: "app:x",
    startedAt: Date.now() - HOUR,
    durationMs: 59_990,
  }]);
  const h = await stint(["history", "--host="], { env: st.env });
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /No runs match these filters/);
  const all = await stint(["history"], { env: st.env });
  assert.equal(tableRows(all.stdout)[0][3], "1m00s");
});
