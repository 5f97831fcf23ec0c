/**
 * Sync building blocks in-process: configuration, the change log (LWW,
 * tombstones, idempotence), the v1 -> v2 migration, and the engine against
 * a real S3 endpoint (idle flush, compaction, restore of its own history).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadSyncConfig } from "../src/sync/config.ts";
import {
  applyRecords,
  type ChangeRecord,
  readChanges,
} from "../src/store/replication/mod.ts";
import { SyncMeta } from "../src/sync/state.ts";
import {
  cacheGet,
  cacheSet,
  createScope,
  deleteVar,
  getVar,
  hostId,
  MIGRATIONS,
  SCHEMA_VERSION,
  schemaVersion,
  setVar,
  withStore,
} from "../src/store/mod.ts";
import { type Database, openSqlite } from "../src/store/sqlite.ts";
import { SyncEngine } from "../src/sync/engine.ts";
import { openBucket } from "../src/sync/open.ts";
import { startSyncSession } from "../src/sync/session.ts";
import { SilentReporter } from "../src/sync/reporter.ts";
import { startS3 } from "./support/s3.ts";

const meta = new SyncMeta();
const isDirty = (db: Database) => meta.isDirty(db);
const lastPush = (db: Database) => meta.lastPush(db);
const unpushedCount = (db: Database) => meta.unpushedCount(db);

function envOf(vars: Record<string, string>) {
  return { get: (k: string) => vars[k] };
}

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "stint-sync-unit-" });
}

Deno.test("config: flags beat env beat the config file; defaults apply", () => {
  const dir = tempDir();
  Deno.mkdirSync(join(dir, "stint"), { recursive: true });
  Deno.writeTextFileSync(
    join(dir, "stint", "config.json"),
    JSON.stringify({
      bucket: "file-bucket",
      region: "eu-west-1",
      prefix: "team",
      flush_interval: 5,
    }),
  );
  const fromFile = loadSyncConfig({ env: envOf({ XDG_CONFIG_HOME: dir }) });
  assert.deepEqual(fromFile.warnings, []);
  assert.equal(fromFile.config?.bucket, "file-bucket");
  assert.equal(fromFile.config?.region, "eu-west-1");
  assert.equal(fromFile.config?.prefix, "team/");
  assert.equal(fromFile.config?.flushIntervalMs, 5000);
  assert.equal(fromFile.config?.configFile, join(dir, "stint", "config.json"));

  const fromEnv = loadSyncConfig({
    env: envOf({
      XDG_CONFIG_HOME: dir,
      STINT_BUCKET: "env-bucket",
      STINT_S3_ENDPOINT: "http://127.0.0.1:9000/",
    }),
  });
  assert.equal(fromEnv.config?.bucket, "env-bucket");
  assert.equal(fromEnv.config?.endpoint, "http://127.0.0.1:9000");
  assert.equal(fromEnv.config?.region, "eu-west-1");

  const fromFlags = loadSyncConfig({
    env: envOf({ XDG_CONFIG_HOME: dir, STINT_BUCKET: "env-bucket" }),
    flags: { bucket: "flag-bucket", prefix: "" },
  });
  assert.equal(fromFlags.config?.bucket, "flag-bucket");
  assert.equal(fromFlags.config?.prefix, "team/", "an empty flag is unset");

  const none = loadSyncConfig({ env: envOf({ HOME: tempDir() }) });
  assert.equal(none.config, null);
  assert.deepEqual(none.warnings, []);

  const defaults = loadSyncConfig({
    env: envOf({ HOME: tempDir(), STINT_BUCKET: "b-1" }),
  });
  assert.deepEqual(defaults.config, {
    bucket: "b-1",
    region: "us-east-1",
    prefix: "stint/",
    flushIntervalMs: 30_000,
    deadlineMs: 3_000,
    gcGraceMs: 48 * 3_600_000,
  });
  const deadline = loadSyncConfig({
    env: envOf({
      HOME: tempDir(),
      STINT_BUCKET: "b-1",
      STINT_SYNC_DEADLINE: "0.5",
    }),
  });
  assert.equal(deadline.config?.deadlineMs, 500);
  const bad = loadSyncConfig({
    env: envOf({
      HOME: tempDir(),
      STINT_BUCKET: "b-1",
      STINT_SYNC_DEADLINE: "soon",
    }),
  });
  assert.equal(bad.config?.deadlineMs, 3_000);
  assert.match(bad.warnings.join(" "), /STINT_SYNC_DEADLINE="soon"/);
});

Deno.test("config: bad values give one warning each and the default, never a crash", () => {
  const home = tempDir();
  const r = loadSyncConfig({
    env: envOf({
      HOME: home,
      STINT_BUCKET: "ok-bucket",
      STINT_FLUSH_INTERVAL: "soon",
      STINT_S3_PREFIX: "../etc",
      STINT_S3_REGION: "Mars Base",
    }),
  });
  assert.equal(r.config?.flushIntervalMs, 30_000);
  assert.equal(r.config?.prefix, "stint/");
  assert.equal(r.config?.region, "us-east-1");
  assert.equal(r.warnings.length, 3);
  assert.match(r.warnings.join("\n"), /STINT_FLUSH_INTERVAL="soon"/);

  // A bad endpoint turns sync off rather than sending the store to AWS, and
  // a password in it is never echoed.
  const bad = loadSyncConfig({
    env: envOf({
      HOME: home,
      STINT_BUCKET: "ok-bucket",
      STINT_S3_ENDPOINT: "ftp://user:hunter2secret@host",
    }),
  });
  assert.equal(bad.config, null);
  assert.equal(bad.warnings.length, 1);
  assert.doesNotMatch(bad.warnings[0], /hunter2secret/);

  const badBucket = loadSyncConfig({
    env: envOf({ HOME: home, STINT_BUCKET: "No_Such Bucket!" }),
  });
  assert.equal(badBucket.config, null);
  assert.match(badBucket.warnings[0], /bucket name/);

  // A broken file and a credential in the file: warnings, not crashes.
  const xdg = tempDir();
  Deno.mkdirSync(join(xdg, "stint"));
  Deno.writeTextFileSync(join(xdg, "stint", "config.json"), "{ not json");
  const broken = loadSyncConfig({
    env: envOf({ XDG_CONFIG_HOME: xdg, STINT_BUCKET: "b-2" }),
  });
  assert.equal(broken.config?.bucket, "b-2");
  assert.match(broken.warnings[0], /not valid JSON/);
  Deno.writeTextFileSync(
    join(xdg, "stint", "config.json"),
    JSON.stringify({
      bucket: "b-3",
      aws_secret_access_key: "s3cr3t-value",
      colour: "blue",
    }),
  );
  const cred = loadSyncConfig({ env: envOf({ XDG_CONFIG_HOME: xdg }) });
  assert.equal(cred.config?.bucket, "b-3");
  assert.equal(cred.warnings.length, 2);
  assert.doesNotMatch(cred.warnings.join(" "), /s3cr3t-value/);
  assert.ok(!JSON.stringify(cred.config).includes("s3cr3t"));
});

function dumpSynced(dbPath: string): string {
  const db = openSqlite(dbPath, { timeoutMs: 5000, readOnly: true });
  try {
    const q = (sql: string) => db.prepare(sql).all();
    return JSON.stringify({
      executions: q("SELECT * FROM executions ORDER BY id"),
      vars: q("SELECT * FROM vars WHERE scope_id = 'root' ORDER BY key"),
      cache: q(
        "SELECT key, hex(value) AS v, updated_at, origin, seq FROM cache ORDER BY key",
      ),
      tombstones: q("SELECT * FROM tombstones ORDER BY kind, key"),
    });
  } finally {
    db.close();
  }
}

Deno.test("change log: own changes only, ephemeral scopes excluded, LWW and tombstones, idempotent", () => {
  const dir = tempDir();
  const a = join(dir, "a.db"), b = join(dir, "b.db");
  withStore(a, (db) => {
    setVar(db, "shared", "from-a");
    setVar(db, "only-a", "1");
    cacheSet(db, "ck", new TextEncoder().encode("bytes\u0000\u00ff"));
    const scope = createScope(db, { parent: "root" });
    setVar(db, "ephemeral", "x", { scope });
    assert.equal(unpushedCount(db), 3);
    assert.equal(lastPush(db), null);
    assert.ok(isDirty(db));
  });
  const changes = withStore(a, (db) => readChanges(db, 0));
  assert.equal(changes.from, 0);
  assert.equal(changes.records.length, 3);
  assert.ok(
    changes.records.every((r) => r.k !== "var" || r.key !== "ephemeral"),
  );

  withStore(b, (db) => setVar(db, "only-b", "2"));
  const first = withStore(b, (db) => applyRecords(db, changes.records));
  assert.equal(first.applied, 3);
  const afterFirst = dumpSynced(b);
  const second = withStore(b, (db) => applyRecords(db, changes.records));
  assert.equal(second.applied, 0, "applying twice changes nothing");
  assert.equal(dumpSynced(b), afterFirst);
  withStore(b, (db) => {
    assert.equal(getVar(db, "shared")?.value, "from-a");
    assert.equal(getVar(db, "only-b")?.value, "2");
    assert.equal(
      new TextDecoder().decode(cacheGet(db, "ck")!),
      "bytes\u0000\u00ff",
    );
    // Pulled rows are not this host's changes.
    assert.equal(unpushedCount(db), 1);
  });

  // A newer write on b wins over an older record from a, in any order.
  const older: ChangeRecord = {
    ...changes.records.find((r) => r.k === "var" && r.key === "shared")!,
  };
  withStore(b, (db) => setVar(db, "shared", "from-b"));
  withStore(b, (db) => applyRecords(db, [older]));
  withStore(b, (db) => assert.equal(getVar(db, "shared")?.value, "from-b"));

  // A delete on a travels as a tombstone and removes the older row on b ...
  withStore(a, (db) => deleteVar(db, "only-a"));
  const del = withStore(a, (db) => readChanges(db, changes.to));
  assert.deepEqual(del.records.map((r) => r.k), ["tombstone"]);
  withStore(b, (db) => applyRecords(db, del.records));
  withStore(b, (db) => assert.equal(getVar(db, "only-a"), undefined));
  // ... and the old row arriving again (a re-applied segment) stays deleted.
  withStore(b, (db) => applyRecords(db, changes.records));
  withStore(b, (db) => assert.equal(getVar(db, "only-a"), undefined));
  // A newer write after the delete brings the key back.
  withStore(a, (db) => setVar(db, "only-a", "again"));
  const back = withStore(a, (db) => readChanges(db, del.to));
  withStore(b, (db) => applyRecords(db, back.records));
  withStore(b, (db) => assert.equal(getVar(db, "only-a")?.value, "again"));

  // Records that claim to be someone else's are checked, malformed ones skipped.
  const junk = withStore(
    b,
    (db) => applyRecords(db, [{ k: "var", key: "x" } as ChangeRecord]),
  );
  assert.equal(junk.invalid, 1);
});

Deno.test("schema: a v1 store with data migrates to the current version and keeps its rows", () => {
  const path = join(tempDir(), "v1.db");
  const raw = openSqlite(path, { timeoutMs: 5000 });
  raw.exec(MIGRATIONS[0]);
  raw.exec("PRAGMA user_version = 1");
  raw.exec(
    `INSERT INTO meta (key, value) VALUES ('host_id', 'old-host-1'), ('seq', '1');
     INSERT INTO vars (scope_id, key, value, updated_at, origin, seq)
       VALUES ('root', 'kept', 'yes', 1, 'old-host-1', 1);`,
  );
  raw.close();
  withStore(path, (db) => {
    assert.equal(schemaVersion(db), SCHEMA_VERSION);
    assert.equal(getVar(db, "kept")?.value, "yes");
    assert.equal(hostId(db), "old-host-1");
    assert.equal(unpushedCount(db), 1);
    const t = db.prepare(
      "SELECT count(*) AS n FROM sqlite_master WHERE name = 'log_blobs'",
    ).get();
    assert.equal(Number(t?.n), 1);
  });
});

Deno.test({
  name:
    "engine: idle flushes send no request; compaction; a wiped host restores itself",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const s3 = await startS3();
    const saved = {
      id: Deno.env.get("AWS_ACCESS_KEY_ID"),
      secret: Deno.env.get("AWS_SECRET_ACCESS_KEY"),
    };
    Deno.env.set("AWS_ACCESS_KEY_ID", s3.accessKeyId);
    Deno.env.set("AWS_SECRET_ACCESS_KEY", s3.secretAccessKey);
    const bucketName = await s3.newBucket();
    const bucket = openBucket({
      bucket: bucketName,
      endpoint: s3.endpoint,
      region: s3.region,
      prefix: "unit/",
    });
    try {
      const dir = tempDir();
      const db = join(dir, "state", "stint.db");
      withStore(db, (c) => setVar(c, "k0", "v0"));
      // The location the session below derives from its configuration.
      const loc = SyncMeta.of({ bucket: bucketName, prefix: "unit/" });
      const engine = new SyncEngine(db, {
        bucket,
        compactSegments: 2,
        meta: loc,
      });
      const first = await engine.push();
      assert.ok(first.pushed);
      const after = bucket.requestCount;
      for (let i = 0; i < 3; i++) {
        const idle = await engine.push();
        assert.equal(idle.pushed, false);
      }
      assert.equal(bucket.requestCount, after, "idle flushes made requests");

      // The flush loop of a session makes no request while nothing changes.
      const reporter = new SilentReporter();
      const session = await startSyncSession(
        { dbPath: db, quiet: true, stderrIsTty: false },
        {
          pull: true,
          flushLoop: true,
          config: {
            bucket: bucketName,
            region: s3.region,
            prefix: "unit/",
            flushIntervalMs: 50,
            deadlineMs: 3_000,
          },
          bucket,
          reporter,
        },
      );
      const started = bucket.requestCount;
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(
        bucket.requestCount,
        started,
        "idle flush loop made requests",
      );
      // A change is picked up by the loop without waiting for stop.
      withStore(db, (c) => setVar(c, "k-loop", "v"));
      const dirty = (c: Database) => loc.isDirty(c);
      for (let i = 0; i < 100 && withStore(db, dirty); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(withStore(db, dirty), false, "the flush loop pushed");
      await session.stop();
      await session.stop(); // idempotent
      assert.deepEqual([...reporter.errors.keys()], []);

      // Past the segment count, a push compacts: snap.db, covered segments gone.
      for (let i = 1; i <= 4; i++) {
        withStore(db, (c) => setVar(c, `k${i}`, `v${i}`));
        await engine.push();
      }
      const keys: string[] = [];
      for await (const o of bucket.list("hosts/")) keys.push(o.key);
      const me = withStore(db, hostId);
      assert.ok(keys.includes(`hosts/${me}/snap.db`), keys.join(","));
      const seq = withStore(
        db,
        (c) =>
          Number(
            c.prepare("SELECT value FROM meta WHERE key = 'seq'").get()?.value,
          ),
      );
      const segs = keys.filter((k) => k.includes("/seg/"));
      assert.ok(segs.length < 6, `old segments were removed: ${segs}`);
      for (const k of segs) {
        const to = Number(k.match(/-(\d+)\.ndjson\.gz$/)![1]);
        assert.ok(to <= seq);
      }

      // A wiped machine restores its own history (snapshot + later segments).
      withStore(db, (c) => setVar(c, "k-after-snap", "late"));
      await engine.push();
      const wiped = join(tempDir(), "state", "stint.db");
      const fresh = new SyncEngine(wiped, { bucket, meta: loc });
      const r = await fresh.restore();
      assert.ok(r.restored);
      assert.deepEqual(r.corrupt, []);
      withStore(wiped, (c) => {
        for (
          const k of ["k0", "k-loop", "k1", "k2", "k3", "k4", "k-after-snap"]
        ) {
          assert.ok(getVar(c, k), `restored ${k}`);
        }
        // The restored file is a new host; the history is not its to push.
        assert.equal(loc.unpushedCount(c), 0);
      });
      const again = await fresh.pull();
      assert.equal(
        again.applied,
        0,
        "a pull after restore applies nothing new",
      );
      // When the other host compacts what was already pulled, a pull costs a
      // listing and one HEAD, not a snapshot download.
      await engine.push({ compact: true });
      const reqs = bucket.requestCount;
      const third = await fresh.pull();
      assert.equal(third.applied, 0);
      assert.equal(third.snapshots, 0);
      assert.equal(bucket.requestCount - reqs, 2);

      // Compactions racing with writes and with other pushes of the same
      // host lose nothing: every write made meanwhile is restored.
      const other = new SyncEngine(db, { bucket, meta: loc });
      let stop = false;
      let written = 0;
      const writer = (async () => {
        while (!stop) {
          withStore(db, (c) => setVar(c, `race-${written}`, "x"));
          written++;
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      const pusher = (async () => {
        while (!stop) await other.push();
      })();
      for (let i = 0; i < 3; i++) await engine.push({ compact: true });
      stop = true;
      await writer;
      await pusher;
      // (`other` never compacts on its own: the snapshot in the bucket is
      // the one that raced.)
      await other.push();
      assert.ok(written > 10, `only ${written} writes raced`);
      const raced = join(tempDir(), "state", "stint.db");
      const r2 = await new SyncEngine(raced, { bucket, meta: loc }).restore();
      assert.deepEqual(r2.corrupt, []);
      withStore(raced, (c) => {
        for (let i = 0; i < written; i++) {
          assert.ok(getVar(c, `race-${i}`), `race-${i} was lost`);
        }
      });
    } finally {
      await bucket.close();
      await s3.stop();
      if (saved.id) Deno.env.set("AWS_ACCESS_KEY_ID", saved.id);
      else Deno.env.delete("AWS_ACCESS_KEY_ID");
      if (saved.secret) Deno.env.set("AWS_SECRET_ACCESS_KEY", saved.secret);
      else Deno.env.delete("AWS_SECRET_ACCESS_KEY");
    }
  },
});

Deno.test("reporter: a routine success says nothing; errors once per kind; verbose adds the connection, pushes and a summary that counts what was shown", async () => {
  const { RichReporter, makeReporter } = await import(
    "../src/sync/reporter.ts"
  );
  const { BucketError } = await import("../src/sync/bucket.ts");
  const session = (verbose: boolean, failing: boolean): string => {
    const lines: string[] = [];
    const r = new RichReporter({ write: (t) => lines.push(t), verbose });
    r.start({
      endpoint: "http://127.0.0.1:9",
      bucket: "b-1",
      prefix: "stint/",
      hostId: "h-1",
      action: "pulled",
      records: 12,
      hosts: 2,
    });
    r.flush({
      bytes: 2048,
      durationMs: 15,
      records: 3,
      logs: 1,
      snapshot: false,
    });
    if (failing) {
      const down = new BucketError(
        "unreachable",
        "Cannot reach the S3 endpoint (ECONNREFUSED)",
      );
      r.error(down);
      r.error(down);
      r.error(new BucketError("corrupt", "Segment x is corrupt"));
      r.warn("a setting is off");
      r.warn("a setting is off");
    }
    r.stop({ pushes: 1, bytes: 2048, records: 3, errors: 3 });
    return lines.join("");
  };
  assert.equal(session(false, false), "", "a routine success printed");
  const failed = session(false, true);
  assert.equal(failed.match(/ECONNREFUSED/g)?.length, 1, "once per kind");
  assert.equal(failed.match(/corrupt/g)?.length, 1);
  assert.equal(failed.match(/a setting is off/g)?.length, 1, "warned twice");
  assert.equal(failed.split("\n").filter((l) => l).length, 3, failed);
  const verbose = session(true, true);
  assert.match(
    verbose,
    /s3:\/\/b-1\/stint\/ at http:\/\/127\.0\.0\.1:9 as h-1; pulled 12 records from 2 host/,
  );
  assert.match(verbose, /pushed 3 change\(s\), 1 log\(s\), 2\.0 KiB in 15 ms/);
  // Two kinds were shown, three errors happened: the summary says both.
  assert.match(
    verbose,
    /1 push\(es\), 3 change\(s\), 2\.0 KiB, 2 errors shown above \(3 in all\)/,
  );
  // A restore is news on a new machine: one line even without --verbose.
  const lines: string[] = [];
  new RichReporter({ write: (t) => lines.push(t) }).start({
    bucket: "b-1",
    prefix: "stint/",
    hostId: "h-1",
    action: "restored",
    records: 12,
    hosts: 2,
  });
  assert.match(lines.join(""), /^sync: restored 12 records from 2 host\(s\)/);

  // Quiet or not a terminal: the silent reporter.
  assert.equal(
    makeReporter({ quiet: true, stderrIsTty: true }).constructor.name,
    "SilentReporter",
  );
  assert.equal(
    makeReporter({ quiet: false, stderrIsTty: false }).constructor.name,
    "SilentReporter",
  );
  assert.equal(
    makeReporter({ quiet: false, stderrIsTty: true }).constructor.name,
    "RichReporter",
  );
});
