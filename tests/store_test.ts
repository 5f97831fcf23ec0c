import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cacheClear,
  cacheDelete,
  cacheGet,
  cacheList,
  cacheSet,
  createScope,
  currentSeq,
  deleteBackgroundRun,
  deleteHistory,
  deleteScope,
  deleteVar,
  destroyStore,
  finishExecution,
  getAllVars,
  getBackgroundRun,
  getExecution,
  getVar,
  hostId,
  listBackgroundRuns,
  listExecutions,
  listRefs,
  migrate,
  MIGRATIONS,
  openStore,
  reconcileBackgroundRuns,
  reconcileExecutions,
  saveBackgroundRun,
  SCHEMA_VERSION,
  schemaVersion,
  scopeExists,
  setVar,
  startExecution,
  uuidv7,
  varKeys,
  withStore,
} from "../src/store/mod.ts";
import { StintError, UsageError } from "../src/errors.ts";
import { backupStore } from "../src/store/maintenance.ts";
import { openSqlite } from "../src/store/sqlite.ts";

function tempDb(): { dir: string; db: string } {
  const dir = Deno.makeTempDirSync({ prefix: "stint-store-" });
  return { dir, db: join(dir, "state", "stint.db") };
}

/** A pid that is certainly not running (a reaped child's). */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("a new store is 0600 in a 0700 directory, with a host id", () => {
  const { db } = tempDb();
  const host = withStore(db, hostId);
  assert.match(host, /^[a-z0-9-]+-[0-9a-f]{8}$/);
  assert.equal(Deno.statSync(db).mode! & 0o777, 0o600);
  assert.equal(Deno.statSync(join(db, "..")).mode! & 0o777, 0o700);
  // WAL side files inherit the database's mode.
  for (const side of [`${db}-wal`, `${db}-shm`]) {
    try {
      assert.equal(Deno.statSync(side).mode! & 0o777, 0o600, side);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  assert.equal(withStore(db, hostId), host, "host id is generated once");
});

Deno.test("a state dir stint did not create keeps its mode; the ones it creates are 0700", () => {
  const { db } = tempDb();
  // stint chmods a directory only right after its own mkdir.
  Deno.mkdirSync(join(db, ".."), { mode: 0o755 });
  Deno.chmodSync(join(db, ".."), 0o755);
  withStore(db, hostId);
  assert.equal(Deno.statSync(join(db, "..")).mode! & 0o777, 0o755);
  const deep = join(db, "..", "a", "b", "stint.db");
  withStore(deep, hostId);
  for (const d of [join(deep, ".."), join(deep, "..", "..")]) {
    assert.equal(Deno.statSync(d).mode! & 0o777, 0o700, d);
  }
});

Deno.test("open sets WAL and the schema version", () => {
  const { db } = tempDb();
  withStore(db, (conn) => {
    assert.equal(
      conn.prepare("PRAGMA journal_mode").get()?.journal_mode,
      "wal",
    );
    assert.equal(schemaVersion(conn), SCHEMA_VERSION);
  });
});

Deno.test("migrations run from every earlier version and keep data", () => {
  for (let from = 0; from < SCHEMA_VERSION; from++) {
    const { db } = tempDb();
    Deno.mkdirSync(join(db, ".."), { recursive: true });
    const raw = openSqlite(db, { timeoutMs: 5000 });
    migrate(raw, { target: from });
    assert.equal(schemaVersion(raw), from);
    if (from >= 1) {
      raw.exec(
        "INSERT INTO meta (key, value) VALUES ('host_id', 'old-host-00000000'), ('seq', '7')",
      );
      raw.exec(
        "INSERT INTO vars (scope_id, key, value, updated_at, origin, seq) VALUES ('root', 'kept', 'yes', 1, 'old-host-00000000', 7)",
      );
    }
    raw.close();
    withStore(db, (conn) => {
      assert.equal(schemaVersion(conn), SCHEMA_VERSION, `from v${from}`);
      if (from >= 1) {
        assert.equal(getVar(conn, "kept")?.value, "yes");
        assert.equal(hostId(conn), "old-host-00000000");
        assert.equal(currentSeq(conn), 7);
      } else {
        assert.ok(hostId(conn));
      }
    });
  }
});

Deno.test("every migration is idempotent (re-running its SQL changes nothing)", () => {
  const { db } = tempDb();
  withStore(db, (conn) => {
    setVar(conn, "a", "1");
    for (const sql of MIGRATIONS) conn.exec(sql);
    assert.equal(getVar(conn, "a")?.value, "1");
    assert.equal(migrate(conn).length, 0);
  });
});

Deno.test("a store from a newer stint is refused with a clear error", () => {
  const { db } = tempDb();
  withStore(
    db,
    (conn) => conn.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`),
  );
  assert.throws(() => withStore(db, hostId), (err: Error) => {
    assert.ok(err instanceof StintError);
    assert.match(err.message, /newer than this stint/);
    return true;
  });
});

Deno.test("a garbage (non-SQLite) file gives a clear error and is not changed", () => {
  const { db } = tempDb();
  Deno.mkdirSync(join(db, ".."), { recursive: true });
  const garbage = new TextEncoder().encode(
    "this is not a database\n".repeat(200),
  );
  Deno.writeFileSync(db, garbage);
  assert.throws(() => withStore(db, hostId), (err: Error) => {
    assert.ok(err instanceof StintError);
    assert.match(err.message, /not a SQLite database/);
    assert.ok(!err.message.includes("\n"));
    return true;
  });
  assert.deepEqual(Deno.readFileSync(db), garbage);
});

Deno.test("executions: start, finish, history newest first, refs, delete", async () => {
  const { db } = tempDb();
  await withStore(db, async (conn) => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = uuidv7(1_000_000 + i);
      ids.push(id);
      startExecution(conn, {
        id,
        ref: i % 2 ? "p:build" : "p:test",
        command: "deno task x",
        args: ["--a", String(i)],
        startedAt: 1_000_000 + i * 1000,
        pid: Deno.pid,
        logId: id,
      });
      finishExecution(conn, id, {
        status: i === 4 ? "failed" : "succeeded",
        exitCode: i === 4 ? 3 : 0,
        completedAt: 1_000_000 + i * 1000 + 250,
      });
    }
    const all = listExecutions(conn);
    assert.deepEqual(all.map((e) => e.id), [...ids].reverse());
    assert.equal(all[0].durationMs, 250);
    assert.equal(all[0].exitCode, 3);
    assert.deepEqual(all[0].args, ["--a", "4"]);
    const tests = listExecutions(conn, { ref: "p:test", limit: 2 });
    assert.deepEqual(tests.map((e) => e.id), [ids[4], ids[2]]);
    assert.deepEqual(
      listExecutions(conn, { status: "failed" }).map((e) => e.id),
      [ids[4]],
    );
    assert.equal(listExecutions(conn, { since: 1_000_000 + 3000 }).length, 2);
    assert.equal(listExecutions(conn, { host: hostId(conn) }).length, 5);
    assert.equal(listExecutions(conn, { host: "elsewhere" }).length, 0);
    assert.equal(getExecution(conn, ids[1].slice(0, 30)).id, ids[1]);
    assert.throws(() => getExecution(conn, "ffffffff"), /No run with id/);
    const refs = listRefs(conn);
    assert.deepEqual(refs.map((r) => [r.ref, r.runs, r.lastStatus]), [
      ["p:test", 3, "failed"],
      ["p:build", 2, "succeeded"],
    ]);
    const del = deleteHistory(conn, "p:build");
    assert.equal(del.deleted, 2);
    assert.deepEqual(del.logIds.sort(), [ids[1], ids[3]].sort());
    assert.equal(listExecutions(conn, { ref: "p:build" }).length, 0);
    const tomb = conn.prepare(
      "SELECT COUNT(*) AS n FROM tombstones WHERE kind = 'execution'",
    )
      .get();
    assert.equal(Number(tomb?.n), 2);
    await Promise.resolve();
  });
});

Deno.test("executions: a running record whose process is gone becomes lost, with its scope", async () => {
  const { db } = tempDb();
  const pid = await deadPid();
  withStore(db, (conn) => {
    const id = uuidv7();
    const scope = createScope(conn, { runId: id });
    setVar(conn, "tmp", "x", { scope });
    startExecution(conn, {
      id,
      ref: "p:x",
      command: "x",
      pid,
      pidStart: "1",
      scopeId: scope,
    });
    const alive = uuidv7();
    startExecution(conn, {
      id: alive,
      ref: "p:y",
      command: "y",
      pid: Deno.pid,
    });
    assert.deepEqual(reconcileExecutions(conn), [id]);
    const e = getExecution(conn, id);
    assert.equal(e.status, "lost");
    assert.match(e.error ?? "", /process \d+ is gone/);
    assert.ok(e.completedAt);
    assert.equal(scopeExists(conn, scope), false);
    assert.equal(getExecution(conn, alive).status, "running");
    assert.deepEqual(reconcileExecutions(conn), []);
  });
});

Deno.test("executions: a reused pid (other start time) is detected", () => {
  const { db } = tempDb();
  withStore(db, (conn) => {
    const id = uuidv7();
    startExecution(conn, {
      id,
      ref: "p:x",
      command: "x",
      pid: Deno.pid,
      pidStart: "1",
    });
    assert.deepEqual(reconcileExecutions(conn), [id]);
    assert.match(getExecution(conn, id).error ?? "", /reused/);
  });
});

Deno.test("executions: another host's running record is left alone", () => {
  const { db } = tempDb();
  withStore(db, (conn) => {
    const id = uuidv7();
    startExecution(conn, { id, ref: "p:x", command: "x", pid: 999999 });
    conn.prepare("UPDATE executions SET host_id = 'other-host' WHERE id = ?")
      .run(id);
    assert.deepEqual(reconcileExecutions(conn), []);
  });
});

Deno.test("background runs: save, get by prefix, list, reconcile, delete", async () => {
  const { db } = tempDb();
  const pid = await deadPid();
  withStore(db, (conn) => {
    saveBackgroundRun(conn, {
      id: "abcd1234",
      ref: "p:a",
      pid: Deno.pid,
      startedAt: 1000,
    });
    saveBackgroundRun(conn, {
      id: "abzz0000",
      ref: "p:b",
      pid,
      startedAt: 2000,
    });
    saveBackgroundRun(conn, {
      id: "zz000000",
      ref: "p:c",
      startedAt: 3000,
      status: "completed",
      exitCode: 0,
      completedAt: 3500,
    });
    assert.equal(getBackgroundRun(conn, "abc").ref, "p:a");
    assert.throws(() => getBackgroundRun(conn, "ab"), /ambiguous/);
    assert.throws(() => getBackgroundRun(conn, "nope"), /No background run/);
    assert.deepEqual(listBackgroundRuns(conn).map((b) => b.id), [
      "abzz0000",
      "abcd1234",
    ]);
    assert.equal(listBackgroundRuns(conn, { all: true }).length, 3);
    assert.deepEqual(reconcileBackgroundRuns(conn), ["abzz0000"]);
    assert.equal(getBackgroundRun(conn, "abzz0000").status, "lost");
    const updated = saveBackgroundRun(conn, {
      id: "abcd1234",
      ref: "p:a",
      status: "failed",
      exitCode: 2,
      completedAt: Date.now(),
    });
    assert.equal(updated.pid, Deno.pid, "an update keeps unspecified fields");
    assert.equal(updated.startedAt, 1000);
    assert.equal(deleteBackgroundRun(conn, "zz000000"), true);
    assert.equal(deleteBackgroundRun(conn, "zz000000"), false);
    assert.deepEqual(
      listBackgroundRuns(conn, { all: true, finishedBefore: Date.now() + 1 })
        .map((b) => b.id)
        .sort(),
      ["abcd1234", "abzz0000"],
    );
  });
});

Deno.test("vars: scope chain, then root; merged view; keys; delete per scope", () => {
  const { db } = tempDb();
  withStore(db, (conn) => {
    setVar(conn, "region", "eu");
    setVar(conn, "who", "root");
    const outer = createScope(conn);
    const inner = createScope(conn, { parent: outer });
    setVar(conn, "who", "outer", { scope: outer });
    setVar(conn, "only-inner", "1", { scope: inner });
    assert.equal(getVar(conn, "who", { scope: inner })?.value, "outer");
    assert.equal(getVar(conn, "who", { scope: inner })?.scopeId, outer);
    assert.equal(getVar(conn, "region", { scope: inner })?.value, "eu");
    assert.equal(getVar(conn, "only-inner", { scope: outer }), undefined);
    assert.equal(getVar(conn, "who")?.value, "root");
    const all = getAllVars(conn, { scope: inner });
    assert.deepEqual(all.map((v) => [v.key, v.value, v.scopeId]), [
      ["only-inner", "1", inner],
      ["region", "eu", "root"],
      ["who", "outer", outer],
    ]);
    assert.deepEqual(varKeys(conn, { scope: outer }), ["region", "who"]);
    assert.equal(
      deleteVar(conn, "who", { scope: inner }),
      false,
      "no fallback on delete",
    );
    assert.equal(deleteVar(conn, "who", { scope: outer }), true);
    assert.equal(getVar(conn, "who", { scope: inner })?.value, "root");
    // A broken chain (outer run ended) still falls back to root.
    assert.equal(deleteScope(conn, outer), true);
    assert.equal(getVar(conn, "region", { scope: inner })?.value, "eu");
    assert.equal(
      getVar(conn, "who", { scope: "no-such-scope" })?.value,
      "root",
    );
    assert.throws(
      () => setVar(conn, "k", "v", { scope: outer }),
      /no longer exists/,
    );
    assert.equal(deleteScope(conn, "root"), false);
    // Root vars carry a sequence number; scoped ones do not sync.
    const seqs = conn.prepare("SELECT scope_id, seq FROM vars").all();
    for (const r of seqs) {
      assert.equal(
        Number(r.seq) > 0,
        r.scope_id === "root",
        String(r.scope_id),
      );
    }
  });
});

Deno.test("vars and cache: validation errors write nothing", () => {
  const { db } = tempDb();
  withStore(db, (conn) => {
    const before = currentSeq(conn);
    for (
      const key of ["", "a\nb", "tab\there", "x".repeat(257), "é".repeat(129)]
    ) {
      assert.throws(
        () => setVar(conn, key, "v"),
        UsageError,
        JSON.stringify(key),
      );
      assert.throws(() => cacheSet(conn, key, new Uint8Array(1)), UsageError);
    }
    assert.throws(
      () => setVar(conn, "big", "x".repeat(1024 * 1024 + 1)),
      /over the limit/,
    );
    assert.throws(
      () => cacheSet(conn, "big", new Uint8Array(16 * 1024 * 1024 + 1)),
      /over the limit/,
    );
    setVar(conn, "k".repeat(256), "x".repeat(1024 * 1024));
    assert.equal(currentSeq(conn), before + 1);
    assert.equal(getAllVars(conn).length, 1);
    assert.equal(cacheList(conn).length, 0);
  });
});

Deno.test("cache: bytes round-trip, TTL expiry, prune, delete, clear", () => {
  const { db } = tempDb();
  withStore(db, (conn) => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    cacheSet(conn, "bin", bytes);
    assert.deepEqual(cacheGet(conn, "bin"), bytes);
    cacheSet(conn, "short", new Uint8Array([1]), { ttlMs: 1000, now: 10_000 });
    assert.deepEqual(
      cacheGet(conn, "short", { now: 10_500 }),
      new Uint8Array([1]),
    );
    assert.equal(cacheGet(conn, "short", { now: 11_000 }), undefined);
    assert.deepEqual(cacheList(conn).map((c) => [c.key, c.size]), [[
      "bin",
      256,
    ]]);
    cacheSet(conn, "other", new Uint8Array([2]));
    const rows = conn.prepare("SELECT key FROM cache ORDER BY key").all().map((
      r,
    ) => r.key);
    assert.deepEqual(
      rows,
      ["bin", "other"],
      "the expired entry was pruned on write",
    );
    assert.equal(cacheDelete(conn, "bin"), true);
    assert.equal(cacheDelete(conn, "bin"), false);
    assert.equal(cacheGet(conn, "bin"), undefined);
    assert.equal(cacheClear(conn), 1);
    assert.equal(cacheList(conn).length, 0);
  });
});

Deno.test("backup writes a readable copy; destroy removes the file it was opened at", () => {
  const { dir, db } = tempDb();
  withStore(db, (conn) => setVar(conn, "k", "v"));
  Deno.mkdirSync(join(db, "..", "logs"), { recursive: true });
  const copy = join(dir, "copy.db");
  backupStore(db, copy);
  assert.equal(Deno.statSync(copy).mode! & 0o777, 0o600);
  assert.equal(withStore(copy, (conn) => getVar(conn, "k")?.value), "v");
  assert.throws(() => backupStore(db, copy), /already exists/);
  const removed = destroyStore(db);
  assert.ok(removed.files.includes(db));
  assert.throws(() => Deno.statSync(db), Deno.errors.NotFound);
  assert.throws(
    () => Deno.statSync(join(db, "..", "logs")),
    Deno.errors.NotFound,
  );
  assert.equal(withStore(copy, (conn) => getVar(conn, "k")?.value), "v");
});

Deno.test("read-only open never creates or migrates", () => {
  const { db } = tempDb();
  assert.throws(
    () => withStore(db, hostId, { readOnly: true }),
    /Cannot read the store/,
  );
  assert.throws(() => Deno.statSync(db), Deno.errors.NotFound);
  withStore(db, (conn) => setVar(conn, "k", "v"));
  const conn = openStore(db, { readOnly: true });
  try {
    assert.equal(getVar(conn, "k")?.value, "v");
    assert.throws(() => setVar(conn, "k", "w"));
  } finally {
    conn.close();
  }
});

Deno.test("a store another process has migrated but not yet given a host id works (first-open race)", async () => {
  const { stint, tempState } = await import("./support/cli.ts");
  const t = tempState();
  Deno.mkdirSync(join(t.db, ".."), { recursive: true, mode: 0o700 });
  // What a racing process sees between the creator's migration commit and
  // its meta rows: the schema is current, meta is empty.
  const raw = openSqlite(t.db, { timeoutMs: 5000 });
  raw.exec("PRAGMA journal_mode = WAL");
  migrate(raw);
  raw.close();
  const set = await stint(["cache", "set", "k", "v"], { env: t.env });
  assert.equal(set.stderr, "");
  assert.equal(set.code, 0);
  const run = await stint(["exec", "--", "true"], { env: t.env });
  assert.equal(run.code, 0, run.stderr);
  const host = withStore(t.db, hostId);
  assert.match(host, /^[a-z0-9-]+-[0-9a-f]{8}$/);
  withStore(t.db, (db) => assert.ok(currentSeq(db) >= 2));
});

Deno.test("a store in a shared directory leaves the directory's mode alone", async () => {
  const { stint, tempState } = await import("./support/cli.ts");
  const t = tempState();
  for (const mode of [0o755, 0o1777]) {
    const shared = join(t.dir, `shared-${mode.toString(8)}`);
    Deno.mkdirSync(shared);
    Deno.chmodSync(shared, mode);
    Deno.writeTextFileSync(join(shared, "someone-elses.txt"), "x");
    const db = join(shared, "stint.db");
    const r = await stint(["exec", "--", "true"], {
      env: { ...t.env, STINT_DB: db },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(Deno.statSync(shared).mode! & 0o7777, mode);
    assert.equal(Deno.statSync(db).mode! & 0o777, 0o600);
    assert.equal(Deno.statSync(join(shared, "logs")).mode! & 0o777, 0o700);
    for (const e of Deno.readDirSync(join(shared, "logs"))) {
      assert.equal(
        Deno.statSync(join(shared, "logs", e.name)).mode! & 0o777,
        0o600,
      );
    }
  }
  // An empty sticky directory is shared by design too.
  const sticky = join(t.dir, "sticky");
  Deno.mkdirSync(sticky);
  Deno.chmodSync(sticky, 0o1777);
  const r = await stint(["cache", "set", "k", "v"], {
    env: { ...t.env, STINT_DB: join(sticky, "stint.db") },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(Deno.statSync(sticky).mode! & 0o7777, 0o1777);
});

Deno.test("store backup into a missing directory names the target, creates nothing", async () => {
  const { stint, tempState } = await import("./support/cli.ts");
  const t = tempState();
  assert.equal((await stint(["exec", "--", "true"], { env: t.env })).code, 0);
  const target = join(t.dir, "no-such-dir", "copy.db");
  const r = await stint(["store", "backup", target], { env: t.env });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^stint: Cannot write the backup .*no-such-dir\/copy\.db/,
  );
  assert.doesNotMatch(r.stderr, /Cannot open the store/);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1);
  // And a good target is private from its first byte (created 0600, then filled).
  const ok = join(t.dir, "copy.db");
  const b = await stint(["store", "backup", ok], { env: t.env });
  assert.equal(b.code, 0, b.stderr);
  assert.equal(Deno.statSync(ok).mode! & 0o777, 0o600);
});

Deno.test("store backup / bg clean on a store that does not exist create nothing", async () => {
  const { stint, tempState } = await import("./support/cli.ts");
  const t = tempState();
  const target = join(t.dir, "copy.db");
  const b = await stint(["store", "backup", target], { env: t.env });
  assert.equal(b.code, 1);
  assert.match(b.stderr, /^stint: No store at .*stint\.db; nothing to back up/);
  const c = await stint(["bg", "clean"], { env: t.env });
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /No finished background runs/);
  for (const p of [t.db, target]) {
    assert.throws(() => Deno.statSync(p), Deno.errors.NotFound, p);
  }
});

Deno.test("a wildcard run keeps the tasks it matched; rows of deleted runs are pruned", () => {
  const { db } = tempDb();
  withStore(db, (conn) => {
    const a = uuidv7();
    startExecution(conn, {
      id: a,
      ref: "app:build:*",
      command: "deno task 'build:*'",
      task: "build:*",
      matchedTasks: ["build:web", "build:cli"],
    });
    finishExecution(conn, a, { status: "succeeded", exitCode: 0 });
    const one = uuidv7();
    startExecution(conn, {
      id: one,
      ref: "app:test",
      command: "deno task test",
    });
    assert.deepEqual(getExecution(conn, a).matchedTasks, [
      "build:web",
      "build:cli",
    ]);
    assert.equal(getExecution(conn, one).matchedTasks, null);
    assert.deepEqual(
      listExecutions(conn, { ref: "app:build:*" }).map((e) => e.matchedTasks),
      [["build:web", "build:cli"]],
    );
    deleteHistory(conn, "app:build:*");
    startExecution(conn, {
      id: uuidv7(),
      ref: "app:lint:*",
      command: "deno task 'lint:*'",
      matchedTasks: ["lint:ts"],
    });
    const rows = conn.prepare("SELECT execution_id FROM execution_extras")
      .all();
    assert.equal(rows.length, 1, "the deleted run's row is gone");
  });
});
