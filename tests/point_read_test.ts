/**
 * The point read (src/store/point_read.ts) on real SQLite files: it answers
 * a current stint store in one read-only look and hands everything else to
 * the full open (read.ts's `readOnly`), which migrates, adopts or refuses
 * exactly as before; and the CLI's `vars get` gives the full open's answer
 * in each of those cases.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { NotOursError, StintError } from "../src/errors.ts";
import { FULL_OPEN, pointRead } from "../src/store/point_read.ts";
import { readOnly } from "../src/store/read.ts";
import { withStore } from "../src/store/open.ts";
import { migrate, SCHEMA_VERSION, schemaVersion } from "../src/store/schema.ts";
import { openSqlite } from "../src/store/sqlite.ts";
import { STINT_APPLICATION_ID } from "../src/store/store_file.ts";
import { listStoreEntries, MAX_LISTED } from "../src/store/store_entries.ts";
import { getVar } from "../src/store/var_lookup.ts";
import { setVar } from "../src/store/vars.ts";
import { cleanup, stint, tempState } from "./support/cli.ts";

/** A store with root var `k` = `v`, as stint leaves it (no -wal left over). */
function storeWithVar(): {
  dir: string;
  db: string;
  env: Record<string, string>;
} {
  const t = tempState("stint-point-read-");
  withStore(t.db, (db) => setVar(db, "k", "v"));
  return t;
}

function readK(dbPath: string): string | undefined | typeof FULL_OPEN {
  const r = pointRead(dbPath, (db) => getVar(db, "k")?.value, () => "missing");
  return r;
}

Deno.test("point read: a current store is read in one look; no store is missing()", () => {
  const t = storeWithVar();
  try {
    assert.equal(readK(t.db), "v");
    assert.equal(readK(join(t.dir, "state", "other.db")), "missing");
    // No state dir at all: the full open answers (and finds nothing).
    const nowhere = join(t.dir, "nowhere", "stint.db");
    assert.equal(readK(nowhere), FULL_OPEN);
    assert.equal(readOnly(nowhere, () => "read", () => "missing"), "missing");
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("point read: an older schema goes to the full open, which migrates it and reads", async () => {
  const t = tempState("stint-point-read-");
  try {
    Deno.mkdirSync(join(t.db, ".."), { recursive: true });
    const raw = openSqlite(t.db, { timeoutMs: 5000 });
    raw.exec(`PRAGMA application_id = ${STINT_APPLICATION_ID}`);
    migrate(raw, { target: SCHEMA_VERSION - 1 });
    raw.exec(
      "INSERT INTO vars (scope_id, key, value, updated_at, origin, seq) VALUES ('root', 'k', 'old', 1, 'old-host-00000000', 1)",
    );
    raw.close();
    assert.equal(readK(t.db), FULL_OPEN);
    const r = await stint(["vars", "get", "k"], { env: t.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "old\n");
    withStore(t.db, (db) => assert.equal(schemaVersion(db), SCHEMA_VERSION));
    assert.equal(readK(t.db), "old");
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("point read: a newer schema still in the WAL is not trusted from the header", () => {
  const t = storeWithVar();
  const writer = openSqlite(t.db, { timeoutMs: 5000 });
  try {
    // A newer stint migrated and its change is not checkpointed: the file
    // header still says this build's version, the WAL says the next.
    writer.exec("PRAGMA wal_autocheckpoint = 0");
    writer.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    assert.equal(readK(t.db), FULL_OPEN);
    assert.throws(
      () => readOnly(t.db, () => "read", () => "missing"),
      (err: Error) =>
        err instanceof StintError && /newer than this stint/.test(err.message),
    );
  } finally {
    writer.close();
    cleanup(t.dir);
  }
});

Deno.test("point read: a link at -shm or a foreign database is the full open's refusal, and nothing is written", async () => {
  const t = storeWithVar();
  try {
    const target = join(t.dir, "elsewhere");
    Deno.writeTextFileSync(target, "not yours");
    Deno.symlinkSync(target, t.db + "-shm");
    assert.equal(readK(t.db), FULL_OPEN);
    const r = await stint(["vars", "get", "k"], { env: t.env });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^stint: .*-shm is a symbolic link/);
    assert.equal(Deno.readTextFileSync(target), "not yours");
    Deno.removeSync(t.db + "-shm");

    const foreign = join(t.dir, "state", "foreign.db");
    const raw = openSqlite(foreign, { timeoutMs: 5000 });
    raw.exec("PRAGMA application_id = 1234");
    raw.exec("CREATE TABLE notes (body TEXT)");
    raw.close();
    const before = Deno.readFileSync(foreign);
    assert.equal(readK(foreign), FULL_OPEN);
    assert.throws(
      () => readOnly(foreign, () => "read", () => "missing"),
      NotOursError,
    );
    assert.deepEqual(Deno.readFileSync(foreign), before);
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("point read: a store in a crowded directory is read by the full open, name by name", async () => {
  const t = storeWithVar();
  try {
    const dir = join(t.db, "..");
    for (let i = 0; i <= MAX_LISTED; i++) {
      Deno.writeTextFileSync(join(dir, `other-${i}.txt`), "");
    }
    assert.equal(listStoreEntries(t.db), undefined);
    assert.equal(readK(t.db), FULL_OPEN);
    assert.equal(readOnly(t.db, (db) => getVar(db, "k")?.value, () => ""), "v");
    const r = await stint(["vars", "get", "k"], { env: t.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "v\n");
  } finally {
    cleanup(t.dir);
  }
});
