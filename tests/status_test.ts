/**
 * `stint status`: the real CLI against a real S3 endpoint (fauxqs, or Swift
 * with STINT_TEST_SWIFT=1), real store files, a closed port and a server that
 * never answers.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { withStore } from "../src/store/open.ts";
import { migrate, SCHEMA_VERSION } from "../src/store/schema.ts";
import { stint, tempState } from "./support/cli.ts";
import { makeReadOnly } from "./support/readonly.ts";
import { HAS_FAKETIME, skewedBy } from "./support/faketime.ts";
import { closedPort, Relay, silentServer } from "./support/relay.ts";
import { putRaw, type S3Endpoint, startS3 } from "./support/s3.ts";

const SWIFT = Deno.env.get("STINT_TEST_SWIFT") === "1";
const AWS_VARS = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_PROFILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_CONFIG_FILE",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "STINT_S3_ENDPOINT",
  "STINT_S3_REGION",
  "STINT_S3_PREFIX",
  "STINT_PROBE_TIMEOUT",
];

interface ProbeJson {
  name: string;
  ok: boolean | null;
  detail: string;
  duration_ms: number;
  [k: string]: unknown;
}

interface StatusJson {
  ok: boolean;
  checked_at: string;
  probe_timeout_ms: number;
  probes: ProbeJson[];
  warnings: string[];
}

/** Run `stint status --json` and parse it; `code` is the exit code. */
async function statusJson(
  env: Record<string, string>,
): Promise<
  { code: number; report: StatusJson; stderr: string; stdout: string }
> {
  const r = await stint(["status", "--json"], { env, unset: AWS_VARS });
  let report: StatusJson;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`status --json printed no JSON:\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr, stdout: r.stdout };
}

function probe(report: StatusJson, name: string): ProbeJson {
  const p = report.probes.find((x) => x.name === name);
  assert.ok(p, `no probe ${name}`);
  return p;
}

function okMap(report: StatusJson): Record<string, boolean | null> {
  return Object.fromEntries(report.probes.map((p) => [p.name, p.ok]));
}

/** Make a store file with nothing to push (migrated, no synced rows). */
async function emptyStore(env: Record<string, string>): Promise<void> {
  // stint store migrate creates nothing on a missing store; the store API does.
  await Promise.resolve(withStore(env.STINT_DB, () => {}));
}

/** A snapshot of every file under `dir`: path -> size:mtime:sha256. */
async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(d: string): Promise<void> {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else {
        const st = Deno.statSync(p);
        const bytes = Deno.readFileSync(p);
        const h = await crypto.subtle.digest("SHA-256", bytes);
        out[p] = `${st.size}:${st.mtime?.getTime()}:${
          Array.from(new Uint8Array(h), (b) => b.toString(16).padStart(2, "0"))
            .join("")
        }`;
      }
    }
  }
  await walk(dir);
  return out;
}

async function withS3(fn: (s3: S3Endpoint) => Promise<void>): Promise<void> {
  const s3 = await startS3();
  try {
    await fn(s3);
  } finally {
    await s3.stop();
  }
}

Deno.test("status: a fresh setup (no store, no bucket) is healthy: exit 0, the facts as information", async () => {
  const st = tempState();
  const { code, report } = await statusJson(st.env);
  assert.equal(code, 0);
  assert.equal(report.ok, true);
  const ok = okMap(report);
  assert.equal(ok.store, null);
  assert.equal(ok.sync, null);
  assert.equal(probe(report, "store").info, true);
  assert.equal(probe(report, "sync").info, true);
  for (
    const n of [
      "credentials",
      "endpoint",
      "bucket",
      "last_push",
      "unpushed",
      "hosts",
    ]
  ) {
    assert.equal(ok[n], null, `${n} should not be attempted`);
    assert.equal(probe(report, n).skipped, "no-sync");
  }
  assert.match(probe(report, "store").detail, /No store at .*stint\.db yet/);
  assert.match(probe(report, "sync").detail, /STINT_BUCKET/);
  // Status never creates the store (nor its directory).
  assert.throws(() => Deno.statSync(st.db));
});

Deno.test("status: a local-only user with a store is healthy; an unreadable store is not", async () => {
  const st = tempState();
  await emptyStore(st.env);
  const local = await statusJson(st.env);
  assert.equal(local.code, 0);
  assert.equal(probe(local.report, "store").ok, true);
  assert.equal(probe(local.report, "sync").ok, null);
  Deno.writeTextFileSync(
    st.db,
    "this is not a database at all, not even close",
  );
  const broken = await statusJson(st.env);
  assert.equal(broken.code, 1);
  assert.equal(probe(broken.report, "store").ok, false);
});

Deno.test("status: reads the schema version and writes nothing", async () => {
  const st = tempState();
  await emptyStore(st.env);
  const before = await snapshotDir(join(st.dir, "state"));
  const { report } = await statusJson(st.env);
  const store = probe(report, "store");
  assert.equal(store.ok, true);
  assert.equal(store.schema_version, SCHEMA_VERSION);
  assert.match(String(store.host_id), /\S/);
  const after = await snapshotDir(join(st.dir, "state"));
  // The store file is byte-for-byte unchanged (same mtime too). A reader of a
  // WAL database may leave SQLite's empty -wal and -shm index files behind;
  // nothing is written into the -wal.
  assert.equal(after[st.db], before[st.db]);
  for (const p of Object.keys(after)) {
    if (p in before) continue;
    assert.ok(p === `${st.db}-wal` || p === `${st.db}-shm`, `new file ${p}`);
  }
  if (after[`${st.db}-wal`]) assert.match(after[`${st.db}-wal`], /^0:/);
});

Deno.test("status: an older store is reported, not migrated", async () => {
  const st = tempState();
  Deno.mkdirSync(join(st.dir, "state"), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(st.db);
  migrate(db, { target: 1 });
  db.exec(
    "INSERT INTO meta (key, value) VALUES ('host_id', 'old-host-12345678'), ('seq', '0')",
  );
  db.close();
  const { report } = await statusJson(st.env);
  const store = probe(report, "store");
  assert.equal(store.ok, true, store.detail);
  assert.equal(store.schema_version, 1);
  assert.match(store.detail, /migrates on the next write/);
  const check = new DatabaseSync(st.db, { readOnly: true });
  try {
    assert.equal(check.prepare("PRAGMA user_version").get()?.user_version, 1);
  } finally {
    check.close();
  }
});

Deno.test("status: works on a read-only store in a read-only directory", async () => {
  const st = tempState();
  const set = await stint(["vars", "set", "release", "42"], {
    env: st.env,
    unset: AWS_VARS,
  });
  assert.equal(set.code, 0, set.stderr);
  const stateDir = join(st.dir, "state");
  const undo = await makeReadOnly([stateDir, st.db]);
  if (undo === null) return; // logged by makeReadOnly
  try {
    const before = await snapshotDir(stateDir);
    const { report } = await statusJson(st.env);
    const store = probe(report, "store");
    assert.equal(store.ok, true, store.detail);
    assert.equal(store.schema_version, SCHEMA_VERSION);
    assert.equal(store.read_only_dir, true);
    assert.match(store.detail, /read-only directory/);
    assert.deepEqual(await snapshotDir(stateDir), before);
  } finally {
    await undo();
  }
});

Deno.test("status: the table lists every probe with its result and a summary", async () => {
  const st = tempState();
  await emptyStore(st.env);
  const r = await stint(["status"], { env: st.env, unset: AWS_VARS });
  assert.equal(r.code, 0);
  const lines = r.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^PROBE\s+RESULT\s+DETAIL$/);
  for (
    const label of [
      "store",
      "sync",
      "credentials",
      "endpoint",
      "bucket",
      "last push",
      "unpushed",
      "hosts",
    ]
  ) {
    assert.ok(
      lines.some((l) => l.startsWith(label + " ")),
      `no row for ${label}:\n${r.stdout}`,
    );
  }
  assert.match(lines.find((l) => l.startsWith("store "))!, /\sok\s/);
  assert.match(lines.find((l) => l.startsWith("sync "))!, /\sinfo\s/);
  assert.match(lines.find((l) => l.startsWith("bucket "))!, /\sskipped\s/);
  assert.equal(
    lines.at(-1),
    "Healthy: 1 probe passed; 1 for information, 6 not attempted",
  );
});

Deno.test("status: extra arguments are a usage error", async () => {
  const st = tempState();
  const r = await stint(["status", "now"], { env: st.env });
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  assert.match(r.stderr, /^stint: /);
});

Deno.test("status: a bad STINT_PROBE_TIMEOUT gives one warning and the 2 s default", async () => {
  const st = tempState();
  const { report, stderr } = await statusJson({
    ...st.env,
    STINT_PROBE_TIMEOUT: "soon",
  });
  assert.equal(report.probe_timeout_ms, 2000);
  const warnings = stderr.trim().split("\n").filter((l) => /warning/.test(l));
  assert.equal(warnings.length, 1, stderr);
  assert.match(warnings[0], /STINT_PROBE_TIMEOUT="soon"/);
  const ok = await statusJson({ ...st.env, STINT_PROBE_TIMEOUT: "750ms" });
  assert.equal(ok.report.probe_timeout_ms, 750);
  assert.equal(ok.stderr, "");
});

Deno.test("status: healthy bucket passes every probe and exits 0", async () => {
  await withS3(async (s3) => {
    const st = tempState();
    await emptyStore(st.env);
    const env = { ...st.env, ...s3.env };
    const { code, report, stdout, stderr } = await statusJson(env);
    assert.deepEqual(okMap(report), {
      store: true,
      sync: true,
      credentials: true,
      endpoint: true,
      bucket: true,
      // Nothing pushed yet, and nothing to push: a fact, not a failure.
      last_push: null,
      unpushed: true,
      hosts: true,
    }, stdout);
    assert.equal(probe(report, "last_push").info, true);
    assert.equal(code, 0);
    assert.equal(report.ok, true);
    assert.equal(probe(report, "unpushed").count, 0);
    assert.equal(probe(report, "hosts").count, 0);
    assert.equal(probe(report, "sync").bucket, s3.bucket);
    // The key id is masked to its last 4 characters; the secret never appears.
    const creds = probe(report, "credentials");
    assert.equal(creds.access_key_id, `****${s3.accessKeyId.slice(-4)}`);
    assert.equal(creds.source, "env");
    const table = await stint(["status"], { env, unset: AWS_VARS });
    assert.equal(table.code, 0, table.stdout);
    for (const text of [stdout, stderr, table.stdout, table.stderr]) {
      assert.ok(!text.includes(s3.secretAccessKey), "secret printed");
      assert.ok(!text.includes(s3.accessKeyId), "full key id printed");
    }
    assert.match(
      table.stdout,
      /Healthy: 7 probes passed; 1 for information/,
    );
  });
});

Deno.test("status: changes waiting for the next push are fine; waiting for over an hour fails", async () => {
  await withS3(async (s3) => {
    const st = tempState();
    const env = { ...st.env, ...s3.env };
    const set = await stint(["vars", "set", "release", "42"], {
      env: st.env,
      unset: AWS_VARS,
    });
    assert.equal(set.code, 0, set.stderr);
    const { code, report } = await statusJson(env);
    assert.equal(code, 0, JSON.stringify(report.probes));
    const unpushed = probe(report, "unpushed");
    assert.equal(unpushed.ok, true);
    assert.ok(Number(unpushed.count) >= 1);
    assert.match(unpushed.detail, /not in the bucket yet/);
    assert.equal(probe(report, "last_push").ok, null);
    assert.match(probe(report, "last_push").detail, /never/);
    assert.equal(probe(report, "bucket").ok, true);
    if (!HAS_FAKETIME) {
      console.warn(
        "faketime is not installed: the aged-changes half was not run",
      );
      return;
    }
    // Two hours later, the same changes are still not in the bucket.
    const later = await stint(["status", "--json"], {
      env,
      unset: AWS_VARS,
      wrap: skewedBy("+2h"),
    });
    assert.equal(later.code, 1, later.stdout);
    const aged = probe(JSON.parse(later.stdout), "unpushed");
    assert.equal(aged.ok, false);
    assert.match(aged.detail, /pushes are not getting through/);
  });
});

Deno.test("status: a push that failed since the last success fails the last push probe", async () => {
  await withS3(async (s3) => {
    const st = tempState();
    const relay = new Relay(s3.endpoint).start();
    try {
      const env = { ...st.env, ...s3.env, STINT_S3_ENDPOINT: relay.url };
      const ok = await stint(["vars", "set", "a", "1", "--global"], {
        env,
        unset: AWS_VARS,
      });
      assert.equal(ok.code, 0, ok.stderr);
      relay.stop(); // the endpoint goes away
      await stint(["vars", "set", "b", "2", "--global"], {
        env,
        unset: AWS_VARS,
      });
      relay.start();
      const { report } = await statusJson(env);
      const last = probe(report, "last_push");
      assert.equal(last.ok, false, last.detail);
      assert.match(last.detail, /the last push failed .*(ECONNREFUSED|reach)/);
      // The next push that gets through clears it.
      const push = await stint(["sync", "push"], { env, unset: AWS_VARS });
      assert.equal(push.code, 0, push.stderr);
      assert.equal(probe((await statusJson(env)).report, "last_push").ok, true);
    } finally {
      relay.stop();
    }
  });
});

Deno.test("status: hosts seen in the bucket are listed with their last push", async () => {
  await withS3(async (s3) => {
    const st = tempState();
    await emptyStore(st.env);
    // Another machine's objects, laid out as spec section 6 says.
    for (
      const key of [
        "stint/hosts/ci-runner-0a1b2c3d/seg/000001-000004.ndjson.gz",
        "stint/hosts/ci-runner-0a1b2c3d/seg/000005-000009.ndjson.gz",
        "stint/hosts/laptop-99887766/snap.db",
        "stint/logs/0000000000000000000000000000000000000000000000000000000000000000.gz",
      ]
    ) {
      await putRaw(s3, { bucket: s3.bucket, key }, { body: "x" });
    }
    const { report } = await statusJson({ ...st.env, ...s3.env });
    const hosts = probe(report, "hosts");
    assert.equal(hosts.ok, true);
    assert.equal(hosts.count, 2);
    const list = hosts.hosts as {
      host_id: string;
      last_push: string | null;
      objects: number;
      self: boolean;
    }[];
    const byId = Object.fromEntries(list.map((h) => [h.host_id, h]));
    assert.equal(byId["ci-runner-0a1b2c3d"].objects, 2);
    assert.equal(byId["laptop-99887766"].objects, 1);
    for (const h of list) {
      assert.equal(h.self, false);
      assert.ok(h.last_push && !Number.isNaN(Date.parse(h.last_push)));
    }
    assert.match(hosts.detail, /^2: /);
  });
});

Deno.test("status: a missing bucket fails the bucket probe and names the bucket", async () => {
  await withS3(async (s3) => {
    const st = tempState();
    await emptyStore(st.env);
    const missing = `stint-missing-${crypto.randomUUID().slice(0, 8)}`;
    const { code, report } = await statusJson({
      ...st.env,
      ...s3.env,
      STINT_BUCKET: missing,
    });
    assert.equal(code, 1);
    const bucket = probe(report, "bucket");
    assert.equal(bucket.ok, false);
    assert.equal(bucket.exists, false);
    assert.equal(bucket.error, "NoSuchBucket");
    assert.ok(
      bucket.detail.includes(`"${missing}" does not exist`),
      bucket.detail,
    );
    assert.equal(probe(report, "hosts").ok, null);
    assert.equal(probe(report, "endpoint").ok, true);
    assert.equal(probe(report, "credentials").ok, true);
  });
});

Deno.test({
  name: SWIFT
    ? "status: a wrong secret key shows credentials present but bucket access false (Swift)"
    : "status: a wrong secret key (Swift only: fauxqs ignores signatures)",
  ignore: !SWIFT,
  fn: async () => {
    await withS3(async (s3) => {
      const st = tempState();
      await emptyStore(st.env);
      const wrong = `wrong-${crypto.randomUUID()}`;
      const { code, report, stdout, stderr } = await statusJson({
        ...st.env,
        ...s3.env,
        AWS_SECRET_ACCESS_KEY: wrong,
      });
      assert.equal(code, 1);
      assert.equal(probe(report, "credentials").ok, true);
      assert.equal(probe(report, "endpoint").ok, true);
      const bucket = probe(report, "bucket");
      assert.equal(bucket.ok, false);
      assert.equal(bucket.error, "SignatureDoesNotMatch");
      assert.equal(bucket.http_status, 403);
      assert.match(
        bucket.detail,
        /rejected the credentials.*SignatureDoesNotMatch/,
      );
      assert.equal(probe(report, "hosts").ok, null);
      assert.ok(!stdout.includes(wrong) && !stderr.includes(wrong));
    });
  },
});

Deno.test("status: credentials from a profile in the shared credentials file", async () => {
  await withS3(async (s3) => {
    const st = tempState();
    await emptyStore(st.env);
    const file = join(st.dir, "aws-credentials");
    Deno.writeTextFileSync(
      file,
      `[default]\naws_access_key_id = AKIAWRONGDEFAULT0000\naws_secret_access_key = nope\n\n[stint-test]\naws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`,
      { mode: 0o600 },
    );
    const env: Record<string, string> = {
      ...st.env,
      ...s3.env,
      AWS_SHARED_CREDENTIALS_FILE: file,
      AWS_CONFIG_FILE: join(st.dir, "no-aws-config"),
      AWS_PROFILE: "stint-test",
    };
    delete env.AWS_ACCESS_KEY_ID;
    delete env.AWS_SECRET_ACCESS_KEY;
    const { code, report, stdout } = await statusJson(env);
    const creds = probe(report, "credentials");
    assert.equal(creds.ok, true);
    assert.equal(creds.source, "profile");
    assert.equal(creds.profile, "stint-test");
    assert.equal(creds.access_key_id, `****${s3.accessKeyId.slice(-4)}`);
    assert.equal(probe(report, "bucket").ok, true, stdout);
    assert.equal(code, 0, stdout);
    assert.ok(!stdout.includes(s3.secretAccessKey));
  });
});

Deno.test("status: no credentials anywhere fails that probe and skips the bucket", async () => {
  await withS3(async (s3) => {
    const st = tempState();
    await emptyStore(st.env);
    const env: Record<string, string> = {
      ...st.env,
      ...s3.env,
      HOME: st.dir,
      AWS_SHARED_CREDENTIALS_FILE: join(st.dir, "none"),
      AWS_CONFIG_FILE: join(st.dir, "none"),
    };
    delete env.AWS_ACCESS_KEY_ID;
    delete env.AWS_SECRET_ACCESS_KEY;
    const { code, report } = await statusJson(env);
    assert.equal(code, 1);
    assert.equal(probe(report, "credentials").ok, false);
    assert.equal(probe(report, "credentials").present, false);
    assert.equal(probe(report, "bucket").ok, null);
    assert.equal(probe(report, "hosts").ok, null);
    // The endpoint needs no credentials, so it is still probed.
    assert.equal(probe(report, "endpoint").ok, true);
  });
});

Deno.test("status: an endpoint with nothing listening fails the network probes", async () => {
  const st = tempState();
  await emptyStore(st.env);
  const url = `http://127.0.0.1:${closedPort()}`;
  const { code, report } = await statusJson({
    ...st.env,
    STINT_BUCKET: "stint-down-test",
    STINT_S3_ENDPOINT: url,
    AWS_ACCESS_KEY_ID: "AKIASTINTDOWN0000001",
    AWS_SECRET_ACCESS_KEY: "down-secret",
  });
  assert.equal(code, 1);
  const ep = probe(report, "endpoint");
  assert.equal(ep.ok, false);
  assert.equal(ep.error, "ECONNREFUSED");
  assert.equal(probe(report, "bucket").ok, false);
  assert.equal(probe(report, "bucket").error, "ECONNREFUSED");
  // Local probes still answer.
  assert.equal(probe(report, "store").ok, true);
  assert.equal(probe(report, "unpushed").ok, true);
});

Deno.test("status: a server that never answers fails within the probe timeout", async () => {
  const st = tempState();
  await emptyStore(st.env);
  const server = silentServer();
  try {
    const started = Date.now();
    const { code, report } = await statusJson({
      ...st.env,
      STINT_BUCKET: "stint-silent-test",
      STINT_S3_ENDPOINT: server.url,
      AWS_ACCESS_KEY_ID: "AKIASTINTSILENT00001",
      AWS_SECRET_ACCESS_KEY: "silent-secret",
      STINT_PROBE_TIMEOUT: "0.5",
    });
    const wall = Date.now() - started;
    assert.equal(code, 1);
    assert.equal(report.probe_timeout_ms, 500);
    const ep = probe(report, "endpoint");
    assert.equal(ep.ok, false);
    assert.match(ep.detail, /did not answer within 500ms/);
    const bucket = probe(report, "bucket");
    assert.equal(bucket.ok, false);
    assert.match(bucket.detail, /did not answer within 500ms/);
    // Not a benchmark: a hang guard. Probes run concurrently and give up at
    // the timeout, so the command cannot take anywhere near this long.
    assert.ok(wall < 30_000, `status took ${wall} ms`);
  } finally {
    await server.close();
  }
});
