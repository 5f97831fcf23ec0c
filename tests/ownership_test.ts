/**
 * Only our files (spec section 3 "Ownership", issue 11 defects 5-8 and 10):
 * a store carries stint's application id and a SQLite file of another
 * program is refused byte-identical; `store destroy` deletes only what its
 * records name; directories stint did not create are never chmodded; nothing
 * is written through a symbolic link in the state dir; a zero-byte file or a
 * directory given as the store is refused clearly; temp files a killed stint
 * left behind are swept up.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SCHEMA_VERSION } from "../src/store/schema.ts";
import { startS3 } from "./support/s3.ts";
import { stint, tempState } from "./support/cli.ts";
import { rawQuery } from "./support/faults.ts";

function oneLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, stderr);
  return lines[0];
}

/** Everything a file is: its bytes, mode and mtime. */
function fingerprint(path: string) {
  const st = Deno.statSync(path);
  return {
    bytes: Deno.readFileSync(path),
    mode: st.mode,
    mtime: st.mtime?.getTime(),
  };
}

/** An application's own SQLite database (rollback journal, its own tables). */
function appDatabase(path: string): void {
  const db = new DatabaseSync(path);
  db.exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);
    INSERT INTO users (name) VALUES ('ada'), ('grace');
    PRAGMA user_version = 3;`);
  db.close();
}

Deno.test("a new store carries stint's application id and schema version", async () => {
  const t = tempState();
  assert.equal((await stint(["exec", "--", "true"], { env: t.env })).code, 0);
  const [row] = rawQuery(
    t.db,
    "SELECT * FROM pragma_application_id, pragma_user_version",
  );
  assert.equal(row.application_id, 0x53544e54);
  assert.equal(row.user_version, SCHEMA_VERSION);
});

Deno.test("a SQLite database of another program is refused and left byte-identical (also through a symlinked stint.db)", async () => {
  const t = tempState();
  const app = join(t.dir, "app.sqlite");
  appDatabase(app);
  const before = fingerprint(app);
  for (
    const args of [["history"], ["exec", "--", "true"], [
      "vars",
      "set",
      "k",
      "v",
    ]]
  ) {
    const r = await stint(args, { env: { ...t.env, STINT_DB: app } });
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(oneLine(r.stderr), /another program, not a stint store/);
  }
  assert.deepEqual(fingerprint(app), before);
  const rows = new DatabaseSync(app, { readOnly: true });
  assert.equal(
    rows.prepare("PRAGMA journal_mode").get()?.journal_mode,
    "delete",
    "never switched to WAL",
  );
  rows.close();

  // The same file behind a stint.db symlink in the state dir.
  Deno.mkdirSync(join(t.dir, "state"), { recursive: true });
  Deno.symlinkSync(app, t.db);
  const r = await stint(["history"], { env: t.env });
  assert.equal(r.code, 1, r.stderr);
  assert.match(oneLine(r.stderr), /symbolic link|another program/);
  assert.deepEqual(fingerprint(app), before);
});

Deno.test("a database without tables that carries a schema version of its own is refused, not half-adopted", async () => {
  const t = tempState();
  const app = join(t.dir, "fresh.sqlite");
  // An application that stamps its version before creating its tables.
  const db = new DatabaseSync(app);
  db.exec("PRAGMA user_version = 3");
  db.close();
  const before = fingerprint(app);
  for (
    const args of [["history"], ["exec", "--", "true"], ["store", "migrate"]]
  ) {
    const r = await stint(args, { env: { ...t.env, STINT_DB: app } });
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(oneLine(r.stderr), /another program, not a stint store/);
  }
  assert.deepEqual(fingerprint(app), before);
  // A blank database (version 0, no tables) is still taken as a new store.
  const blank = join(t.dir, "blank.sqlite");
  const b = new DatabaseSync(blank);
  b.exec("CREATE TABLE t (x); DROP TABLE t;");
  b.close();
  const r = await stint(["exec", "--", "true"], {
    env: { ...t.env, STINT_DB: blank },
  });
  assert.equal(r.code, 0, r.stderr);
});

Deno.test("a store written before stores carried the id is adopted and marked", async () => {
  const t = tempState();
  Deno.mkdirSync(join(t.dir, "state"), { recursive: true });
  // What an older stint left: stint's tables, a schema version, no id.
  const { MIGRATIONS } = await import("../src/store/schema.ts");
  const raw = new DatabaseSync(t.db);
  raw.exec("PRAGMA journal_mode = WAL");
  raw.exec(MIGRATIONS[0]);
  raw.exec("PRAGMA user_version = 1");
  raw.close();
  const r = await stint(["vars", "set", "k", "v"], { env: t.env });
  assert.equal(r.code, 0, r.stderr);
  const [row] = rawQuery(
    t.db,
    "SELECT * FROM pragma_application_id, pragma_user_version",
  );
  assert.equal(row.application_id, 0x53544e54);
  assert.equal(row.user_version, SCHEMA_VERSION);
});

Deno.test("store destroy deletes the store, its logs and an emptied logs dir, never a file it did not write", async () => {
  const t = tempState();
  const dir = join(t.dir, "shared");
  Deno.mkdirSync(join(dir, "logs"), { recursive: true });
  Deno.writeTextFileSync(join(dir, "logs", "important.txt"), "keep me");
  Deno.writeTextFileSync(join(dir, "notes.db"), "not ours either");
  const env = { ...t.env, STINT_DB: join(dir, "scratch.db") };
  assert.equal((await stint(["exec", "--", "echo", "hi"], { env })).code, 0);
  const own = [...Deno.readDirSync(join(dir, "logs"))].map((e) => e.name)
    .filter((n) => n.endsWith(".log"));
  assert.equal(own.length, 1);
  const d = await stint(["store", "destroy", "--yes"], { env });
  assert.equal(d.code, 0, d.stderr);
  assert.equal(
    Deno.readTextFileSync(join(dir, "logs", "important.txt")),
    "keep me",
  );
  assert.equal(Deno.readTextFileSync(join(dir, "notes.db")), "not ours either");
  assert.throws(() => Deno.statSync(join(dir, "logs", own[0])));
  assert.throws(() => Deno.statSync(join(dir, "scratch.db")));
  assert.match(d.stdout, /Kept: .*logs/);

  // With nothing else in it, the logs dir goes too.
  const alone = { ...t.env, STINT_DB: join(t.dir, "alone", "stint.db") };
  assert.equal((await stint(["exec", "--", "true"], { env: alone })).code, 0);
  assert.equal(
    (await stint(["store", "destroy", "--yes"], { env: alone })).code,
    0,
  );
  assert.throws(() => Deno.statSync(join(t.dir, "alone", "logs")));

  // A database of another program is not destroyed.
  const app = join(t.dir, "app.sqlite");
  appDatabase(app);
  const before = fingerprint(app);
  const f = await stint(["store", "destroy", "--yes"], {
    env: { ...t.env, STINT_DB: app },
  });
  assert.equal(f.code, 1);
  assert.match(oneLine(f.stderr), /not a stint store/);
  assert.deepEqual(fingerprint(app), before);
});

Deno.test("reading the store never loosens or tightens a directory stint did not create", async () => {
  const t = tempState();
  assert.equal((await stint(["exec", "--", "true"], { env: t.env })).code, 0);
  const state = join(t.dir, "state");
  Deno.chmodSync(state, 0o500);
  try {
    const r = await stint(["history"], { env: t.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(Deno.statSync(state).mode! & 0o7777, 0o500);
  } finally {
    Deno.chmodSync(state, 0o700);
  }
});

Deno.test("a symbolic link planted in a shared state dir is refused, and nothing is written through it", async () => {
  const t = tempState();
  const victim = join(t.dir, "victim");
  Deno.mkdirSync(victim);
  Deno.chmodSync(victim, 0o755);
  Deno.writeTextFileSync(join(victim, "diary.txt"), "private");
  for (const planted of ["logs", "stint.db-wal", "stint.db.spool"]) {
    const shared = join(t.dir, `shared-${planted}`);
    Deno.mkdirSync(shared);
    Deno.chmodSync(shared, 0o1777);
    Deno.symlinkSync(
      planted === "logs" ? victim : join(victim, "diary.txt"),
      join(shared, planted),
    );
    const env = { ...t.env, STINT_DB: join(shared, "stint.db") };
    const r = await stint(["exec", "--", "echo", "secret"], { env });
    assert.equal(r.code, 1, `${planted}: ${r.stderr}`);
    assert.match(oneLine(r.stderr), /symbolic link/, planted);
    assert.doesNotMatch(r.stdout, /secret/, "the task did not run");
    assert.deepEqual(
      [...Deno.readDirSync(victim)].map((e) => e.name),
      ["diary.txt"],
    );
    assert.equal(Deno.readTextFileSync(join(victim, "diary.txt")), "private");
    assert.equal(Deno.statSync(victim).mode! & 0o7777, 0o755);
  }
});

Deno.test("a zero-byte file or a directory given as the store gets one clear line and is left as it is", async () => {
  const t = tempState();
  const empty = join(t.dir, "empty.db");
  Deno.writeFileSync(empty, new Uint8Array());
  for (
    const args of [["exec", "--", "true"], ["history"], [
      "cache",
      "set",
      "k",
      "v",
    ]]
  ) {
    const r = await stint(args, { env: { ...t.env, STINT_DB: empty } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(oneLine(r.stderr), /empty file that stint did not create/);
    assert.equal(Deno.statSync(empty).size, 0);
  }
  const dir = join(t.dir, "a-dir");
  Deno.mkdirSync(dir);
  for (const args of [["exec", "--", "true"], ["history"]]) {
    const r = await stint(["--db", dir, ...args], { env: t.env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(oneLine(r.stderr), /is a directory; give .* a file path/);
  }
  assert.deepEqual([...Deno.readDirSync(dir)], []);
  assert.throws(
    () => Deno.statSync(join(t.dir, "logs")),
    "no logs dir beside it",
  );
});

Deno.test("a program that cannot be started leaves no empty log file", async () => {
  const t = tempState();
  const r = await stint(["exec", "--", "no-such-program-here"], { env: t.env });
  assert.equal(r.code, 127);
  const logs = join(t.dir, "state", "logs");
  assert.deepEqual([...Deno.readDirSync(logs)].map((e) => e.name), []);
  const h = JSON.parse(
    (await stint(["history", "--json"], { env: t.env })).stdout,
  );
  assert.equal(h[0].log_id, null);
  const l = await stint(["logs", h[0].id], { env: t.env });
  assert.notEqual(l.code, 0);
});

Deno.test("temp files a killed stint left (.restore-*, .pull-*, .snap-*) are swept when old; fresh ones and others' files stay", async () => {
  const s3 = await startS3();
  try {
    const t = tempState();
    const env = { ...t.env, ...s3.env };
    assert.equal((await stint(["exec", "--", "true"], { env })).code, 0);
    const state = join(t.dir, "state");
    const uuid = () => crypto.randomUUID();
    const stale = [
      `stint.db.restore-${uuid().slice(0, 8)}`,
      `.pull-${uuid()}.db`,
      `.pull-${uuid()}.db-journal`,
      `.snap-${uuid()}.db`,
      `stint.db.new-${uuid()}`,
    ];
    const fresh = `.snap-${uuid()}.db`;
    const theirs = [".pull-notes.db", "stint.db.restore-me.txt", "backup.db"];
    const old = new Date(Date.now() - 3 * 3600_000);
    for (const name of [...stale, fresh, ...theirs]) {
      // What SIGKILL leaves: a real (partial) SQLite file.
      const db = new DatabaseSync(join(state, name));
      db.exec("CREATE TABLE t (x)");
      db.close();
      if (name !== fresh) Deno.utimeSync(join(state, name), old, old);
    }
    const r = await stint(["sync", "push"], { env });
    assert.equal(r.code, 0, r.stderr);
    const left = new Set([...Deno.readDirSync(state)].map((e) => e.name));
    for (const name of stale) assert.ok(!left.has(name), `${name} was swept`);
    for (const name of [fresh, ...theirs]) {
      assert.ok(left.has(name), `${name} was kept`);
    }
  } finally {
    await s3.stop();
  }
});
