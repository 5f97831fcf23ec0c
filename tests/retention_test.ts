// Retention without a bucket: `stint history prune` by age, count and ref
// (dry run, JSON, bad usage), running runs kept, the automatic hourly pass
// with the default and a configured policy, and the local log budget.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  getExecutionExact,
  logPath,
  processStartTime,
  withStore,
} from "../src/store/mod.ts";
import { entryExists } from "../src/store/paths.ts";
import { planPrune } from "../src/store/retention.ts";
import { loadRetentionConfig, parseSize } from "../src/cli/retention_config.ts";
import { stint, type TempState, tempState } from "./support/cli.ts";
import { seedRuns } from "./support/history_seed.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function ids(st: TempState): string[] {
  return withStore(
    st.db,
    (db) =>
      db.prepare("SELECT id FROM executions ORDER BY started_at").all().map((
        r,
      ) => String(r.id)),
  );
}

/** A run that is running: recorded by this test process, which lives. */
function runningRun(st: TempState, ref: string, startedAt: number) {
  return seedRuns(st.db, [{
    ref,
    startedAt,
    status: "running",
    pid: Deno.pid,
    pidStart: processStartTime(Deno.pid),
    log: "still going\n",
  }])[0];
}

Deno.test("history prune --older-than deletes finished runs older than that, with their logs; running runs stay", async () => {
  const st = tempState();
  const now = Date.now();
  const old = seedRuns(st.db, [
    { ref: "app:test", startedAt: now - 40 * DAY, log: "old 1\n" },
    { ref: "app:build", startedAt: now - 35 * DAY, log: "old 2\n" },
  ]);
  const recent = seedRuns(st.db, [
    { ref: "app:test", startedAt: now - 2 * DAY, log: "new\n" },
  ]);
  const running = runningRun(st, "app:test", now - 50 * DAY);

  const dry = await stint(
    ["history", "prune", "--older-than", "30d", "--dry-run"],
    { env: st.env },
  );
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /Would delete 2 runs older than 30d/);
  assert.match(dry.stdout, /app:test\s+1/);
  assert.match(dry.stdout, /app:build\s+1/);
  assert.equal(ids(st).length, 4, "a dry run deletes nothing");

  const json = await stint(
    ["history", "prune", "--older-than", "30d", "--dry-run", "--json"],
    { env: st.env },
  );
  const plan = JSON.parse(json.stdout);
  assert.equal(plan.dry_run, true);
  assert.equal(plan.runs, 2);
  assert.equal(plan.logs, 2);
  assert.deepEqual(plan.ids.sort(), old.map((e) => e.id).sort());
  assert.equal(plan.policy.older_than_ms, 30 * DAY);
  assert.equal(plan.policy.keep, null);

  // Off a terminal a deletion needs --yes, and says so.
  const refused = await stint(["history", "prune", "--older-than", "30d"], {
    env: st.env,
  });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /pass --yes/);
  assert.equal(ids(st).length, 4);

  const r = await stint(
    ["history", "prune", "--older-than", "30d", "--yes"],
    { env: st.env },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Deleted 2 runs older than 30d and 2 log files/);
  assert.deepEqual(ids(st).sort(), [recent[0].id, running.id].sort());
  for (const e of old) assert.ok(!entryExists(logPath(st.db, e.id)));
  assert.ok(entryExists(logPath(st.db, recent[0].id)));
  assert.ok(
    entryExists(logPath(st.db, running.id)),
    "a running run keeps its log",
  );
  // Each deletion left a tombstone stamped after the run (it syncs).
  withStore(st.db, (db) => {
    for (const e of old) {
      const t = db.prepare(
        "SELECT deleted_at FROM tombstones WHERE kind = 'execution' AND key = ?",
      ).get(e.id);
      assert.ok(t && Number(t.deleted_at) > 0);
    }
  });

  const again = await stint(
    ["history", "prune", "--older-than", "30d", "--yes"],
    { env: st.env },
  );
  assert.equal(again.code, 0);
  assert.match(again.stdout, /Nothing to prune/);
});

Deno.test("history prune --keep keeps the newest n of each ref; --ref limits it to one ref; both rules together", async () => {
  const st = tempState();
  const now = Date.now();
  const a = seedRuns(
    st.db,
    Array.from({ length: 6 }, (_, i) => ({
      ref: "app:a",
      startedAt: now - (10 - i) * DAY,
    })),
  );
  const b = seedRuns(
    st.db,
    Array.from({ length: 4 }, (_, i) => ({
      ref: "app:b",
      startedAt: now - (10 - i) * DAY,
    })),
  );
  // --ref: only app:a loses runs.
  const one = await stint(
    ["history", "prune", "--keep", "2", "--ref", "app:a", "--yes", "--json"],
    { env: st.env },
  );
  assert.equal(one.code, 0, one.stderr);
  assert.equal(JSON.parse(one.stdout).runs, 4);
  const left = new Set(ids(st));
  assert.deepEqual(a.filter((e) => left.has(e.id)), a.slice(4));
  assert.equal(b.filter((e) => left.has(e.id)).length, 4);

  // Both rules: app:b's runs older than 8.5 days and beyond its newest 1.
  const both = await stint(
    ["history", "prune", "--keep", "1", "--older-than", "204h", "--yes"],
    { env: st.env },
  );
  assert.equal(both.code, 0, both.stderr);
  const after = new Set(ids(st));
  // app:b started 10, 9, 8, 7 days ago: the 10- and 9-day-old ones go; the
  // 8-day-old one is inside the age; the newest stays anyway.
  assert.deepEqual(
    b.filter((e) => after.has(e.id)).map((e) => e.id),
    b.slice(2).map((e) => e.id),
  );
  assert.equal(a.filter((e) => after.has(e.id)).length, 2);

  const bad = await stint(["history", "prune", "--keep", "-1"], {
    env: st.env,
  });
  assert.equal(bad.code, 2);
  const badAge = await stint(["history", "prune", "--older-than", "soon"], {
    env: st.env,
  });
  assert.equal(badAge.code, 2);
  assert.match(badAge.stderr, /--older-than must be a duration/);
  const off = await stint(["history", "prune", "--dry-run"], {
    env: { ...st.env, STINT_RETENTION: "off" },
  });
  assert.equal(off.code, 2);
  assert.match(off.stderr, /give --older-than <when> or --keep <n>/);
});

Deno.test("history prune without rules applies the configured policy (default: 90 days and the newest 100 of each ref)", async () => {
  const st = tempState();
  const now = Date.now();
  // 105 runs 100+ days old and 3 recent ones: the newest 100 are 3 recent
  // and 97 old ones; the 8 oldest go.
  const old = seedRuns(
    st.db,
    Array.from({ length: 105 }, (_, i) => ({
      ref: "app:x",
      startedAt: now - (200 - i) * DAY,
    })),
  );
  seedRuns(
    st.db,
    Array.from({ length: 3 }, (_, i) => ({
      ref: "app:x",
      startedAt: now - i * HOUR,
    })),
  );
  // Few runs, all old: the count rule keeps every one.
  seedRuns(st.db, [{ ref: "app:rare", startedAt: now - 400 * DAY }]);
  const dry = await stint(["history", "prune", "--dry-run", "--json"], {
    env: st.env,
  });
  const plan = JSON.parse(dry.stdout);
  assert.equal(plan.policy.older_than_ms, 90 * DAY);
  assert.equal(plan.policy.keep, 100);
  assert.deepEqual(plan.ids, old.slice(0, 8).map((e) => e.id));

  // A configured policy: environment, then the config file.
  const envPlan = JSON.parse(
    (await stint(["history", "prune", "--dry-run", "--json"], {
      env: { ...st.env, STINT_RETENTION: "keep=104" },
    })).stdout,
  );
  assert.equal(envPlan.runs, 4);
  Deno.mkdirSync(join(st.env.XDG_CONFIG_HOME, "stint"), { recursive: true });
  Deno.writeTextFileSync(
    join(st.env.XDG_CONFIG_HOME, "stint", "config.json"),
    JSON.stringify({ retention: { older_than: "300d", keep: null } }),
  );
  const filePlan = JSON.parse(
    (await stint(["history", "prune", "--dry-run", "--json"], {
      env: st.env,
    })).stdout,
  );
  assert.equal(filePlan.runs, 1, "only the 400-day-old run");
});

Deno.test("automatic retention: a writing command prunes at most once an hour, after its work; reads never do", async () => {
  const st = tempState();
  const now = Date.now();
  const env = { ...st.env, STINT_RETENTION: "older_than=30d,keep=1" };
  const old = seedRuns(st.db, [
    { ref: "app:x", startedAt: now - 60 * DAY, log: "a\n" },
    { ref: "app:x", startedAt: now - 50 * DAY, log: "b\n" },
  ]);
  const running = runningRun(st, "app:x", now - 70 * DAY);
  const marker = `${st.db}.retention`;

  // Reading commands leave the history alone.
  assert.equal((await stint(["history"], { env })).code, 0);
  assert.equal((await stint(["vars", "get", "k"], { env })).code, 1);
  assert.equal(ids(st).length, 3);
  assert.ok(!entryExists(marker));

  // A write: the pass runs after it (the newest finished run is kept by
  // keep=1, the older one goes; the running one stays).
  const w = await stint(["vars", "set", "k", "v", "--global"], { env });
  assert.equal(w.code, 0, w.stderr);
  assert.deepEqual(ids(st).sort(), [old[1].id, running.id].sort());
  assert.ok(!entryExists(logPath(st.db, old[0].id)));
  assert.ok(Deno.lstatSync(marker).isFile);
  assert.equal(Deno.lstatSync(marker).mode! & 0o777, 0o600);

  // Within the hour: no pass, whatever is due.
  seedRuns(st.db, [{ ref: "app:y", startedAt: now - 60 * DAY }]);
  seedRuns(st.db, [{ ref: "app:y", startedAt: now - 59 * DAY }]);
  await stint(["vars", "set", "k", "w", "--global"], { env });
  assert.equal(ids(st).length, 4);

  // An hour later: the next write prunes again.
  const hourAgo = new Date(now - HOUR - 1000);
  Deno.utimeSync(marker, hourAgo, hourAgo);
  await stint(["cache", "set", "c", "1"], { env });
  assert.equal(ids(st).length, 3);
  assert.ok(
    withStore(st.db, (db) => getExecutionExact(db, running.id))?.status ===
      "running",
  );

  // With retention off nothing is pruned automatically.
  seedRuns(st.db, [{ ref: "app:z", startedAt: now - 90 * DAY }]);
  seedRuns(st.db, [{ ref: "app:z", startedAt: now - 80 * DAY }]);
  Deno.utimeSync(marker, hourAgo, hourAgo);
  await stint(["vars", "set", "k", "x", "--global"], {
    env: { ...env, STINT_RETENTION: "off" },
  });
  assert.equal(ids(st).length, 5);
});

Deno.test("log budget: over the cap, the oldest finished runs' logs go first; stint logs says the log was pruned; only files the records name count", async () => {
  const st = tempState();
  const now = Date.now();
  const kib = (c: string) => c.repeat(1024);
  const runs = seedRuns(
    st.db,
    Array.from({ length: 5 }, (_, i) => ({
      ref: "app:log",
      startedAt: now - (5 - i) * HOUR,
      log: kib(String(i)),
    })),
  );
  const running = runningRun(st, "app:log", now - 10 * HOUR);
  // A file no record names: never counted, never removed.
  const stranger = join(st.dir, "state", "logs", "not-a-run.log");
  Deno.writeTextFileSync(stranger, kib("z").repeat(8));

  const env = { ...st.env, STINT_LOG_BUDGET: "3KiB", STINT_RETENTION: "off" };
  const w = await stint(["vars", "set", "k", "v", "--global"], { env });
  assert.equal(w.code, 0, w.stderr);
  // 5 KiB + the running run's log, over 3 KiB: down to 90% of it (2.7
  // KiB): the three oldest finished logs go; the running run's stays.
  const present = runs.map((e) => entryExists(logPath(st.db, e.id)));
  assert.deepEqual(present, [false, false, false, true, true]);
  assert.ok(entryExists(logPath(st.db, running.id)));
  assert.ok(entryExists(stranger));
  assert.equal(ids(st).length, 6, "the records stay");

  const gone = await stint(["logs", runs[0].id], { env: st.env });
  assert.equal(gone.code, 1);
  assert.match(
    gone.stderr,
    /^stint: The log of run \S+ was pruned just now to keep the logs folder under 3\.0 KiB/,
  );
  assert.equal(gone.stderr.trimEnd().split("\n").length, 1);
  const kept = await stint(["logs", runs[4].id], { env: st.env });
  assert.equal(kept.code, 0);
  assert.equal(kept.stdout, kib("4"));

  // Pruning a run removes its pruned-log record too.
  await stint(["history", "prune", "--keep", "2", "--yes"], { env: st.env });
  const left = withStore(
    st.db,
    (db) =>
      Number(db.prepare("SELECT count(*) AS n FROM pruned_logs").get()?.n),
  );
  assert.equal(left, 0);
});

Deno.test("retention settings: sizes, rules, off, and bad values (a warning and the default)", () => {
  assert.equal(parseSize("2GiB"), 2 * 1024 ** 3);
  assert.equal(parseSize("500MB"), 500_000_000);
  assert.equal(parseSize("800M"), 800 * 1024 ** 2);
  assert.equal(parseSize(4096), 4096);
  assert.equal(parseSize("off"), null);
  assert.equal(parseSize("lots"), undefined);
  const env = (vars: Record<string, string>) => ({
    get: (k: string) => vars[k],
  });
  const home = Deno.makeTempDirSync();
  const d = loadRetentionConfig(env({ HOME: home }));
  assert.deepEqual(d.policy, { olderThanMs: 90 * DAY, keep: 100 });
  assert.equal(d.logBudget, 2 * 1024 ** 3);
  assert.deepEqual(d.warnings, []);
  const custom = loadRetentionConfig(
    env({
      HOME: home,
      STINT_RETENTION: "older_than=2w",
      STINT_LOG_BUDGET: "off",
    }),
  );
  assert.deepEqual(custom.policy, { olderThanMs: 14 * DAY, keep: 100 });
  assert.equal(custom.logBudget, null);
  const bad = loadRetentionConfig(
    env({ HOME: home, STINT_RETENTION: "forever", STINT_LOG_BUDGET: "big" }),
  );
  assert.deepEqual(bad.policy, { olderThanMs: 90 * DAY, keep: 100 });
  assert.equal(bad.logBudget, 2 * 1024 ** 3);
  assert.equal(bad.warnings.length, 2);
  assert.match(bad.warnings[0], /STINT_RETENTION="forever"/);
});

Deno.test("planPrune reads per ref through the index and stops at its limit", () => {
  const st = tempState();
  const now = Date.now();
  seedRuns(
    st.db,
    Array.from({ length: 30 }, (_, i) => ({
      ref: `app:r${i % 3}`,
      startedAt: now - (100 + i) * DAY,
    })),
  );
  withStore(st.db, (db) => {
    const all = planPrune(db, { olderThanMs: DAY, keep: 2 });
    assert.equal(all.runs.length, 24);
    assert.equal(all.more, false);
    const some = planPrune(db, { olderThanMs: DAY, keep: 2 }, { limit: 5 });
    assert.equal(some.runs.length, 5);
    assert.equal(some.more, true);
    const plan = db.prepare(
      `EXPLAIN QUERY PLAN SELECT id FROM executions WHERE ref = ? AND started_at < ?
       AND +status != 'running' ORDER BY started_at, rowid LIMIT ?`,
    ).all("app:r0", now, 10).map((r) => String(r.detail)).join(" | ");
    assert.match(plan, /USING INDEX executions_ref_started/);
    assert.doesNotMatch(plan, /TEMP B-TREE/);
  });
});
