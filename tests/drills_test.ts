/**
 * Failure drills for bucket sync, with the real CLI, real store files and a
 * real S3 endpoint (fauxqs, or Swift with STINT_TEST_SWIFT=1): wrong
 * credentials, an endpoint that is down, a missing bucket, a push killed with
 * SIGKILL, a read-only or full state dir, and a secrets audit.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  makeProject,
  spawnStint,
  stint,
  tempState,
  waitFor,
} from "./support/cli.ts";
import { makeReadOnly } from "./support/readonly.ts";
import { closedPort, stallingRelay } from "./support/relay.ts";
import { type S3Endpoint, sdkClient, startS3 } from "./support/s3.ts";

const SWIFT = Deno.env.get("STINT_TEST_SWIFT") === "1";
const AWS_VARS = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_PROFILE",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_CONFIG_FILE",
  "STINT_S3_ENDPOINT",
  "STINT_S3_REGION",
  "STINT_S3_PREFIX",
  "STINT_PROBE_TIMEOUT",
  "STINT_FLUSH_INTERVAL",
];

/** Every key in `bucket` under `prefix`. */
async function listKeys(
  s3: S3Endpoint,
  bucket: string,
  prefix = "",
): Promise<string[]> {
  const { sdk: m, client } = await sdkClient(s3);
  try {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new m.ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? []) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  } finally {
    client.destroy();
  }
}

/** The bytes of every object in `bucket`. */
async function readAllObjects(
  s3: S3Endpoint,
  bucket: string,
): Promise<Map<string, Uint8Array>> {
  const keys = await listKeys(s3, bucket);
  const { sdk: m, client } = await sdkClient(s3);
  try {
    const out = new Map<string, Uint8Array>();
    for (const key of keys) {
      const r = await client.send(
        new m.GetObjectCommand({ Bucket: bucket, Key: key }),
      );
      out.set(key, await r.Body.transformToByteArray());
    }
    return out;
  } finally {
    client.destroy();
  }
}

/**
 * What a failed sync command may still write: what the bucket's answers
 * said about its clock, and the failure itself (kept for stint status).
 */
const LEARNED = /^clock\.|^sync\.[0-9a-f]{12}\.last_error/;

/** Every table of a store, every row, as JSON (for "nothing changed"). */
function dumpStore(db: string): Record<string, unknown[]> {
  const conn = new DatabaseSync(db, { readOnly: true });
  try {
    const tables = conn.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    ).all().map((r) => String(r.name));
    const out: Record<string, unknown[]> = {};
    for (const t of tables) {
      out[t] = conn.prepare(`SELECT * FROM "${t}" ORDER BY 1, 2`).all().filter(
        (r) => t !== "meta" || !LEARNED.test(String(r.key)),
      ).map(
        (r) =>
          JSON.parse(
            JSON.stringify(r, (_k, v) =>
              v instanceof Uint8Array
                ? Array.from(v)
                : typeof v === "bigint"
                ? String(v)
                : v),
          ),
      );
    }
    return out;
  } finally {
    conn.close();
  }
}

function hostIdOf(db: string): string {
  const conn = new DatabaseSync(db, { readOnly: true });
  try {
    return String(
      conn.prepare("SELECT value FROM meta WHERE key = 'host_id'").get()?.value,
    );
  } finally {
    conn.close();
  }
}

function rows(db: string, sql: string): Record<string, unknown>[] {
  const conn = new DatabaseSync(db, { readOnly: true });
  try {
    return conn.prepare(sql).all() as Record<string, unknown>[];
  } finally {
    conn.close();
  }
}

async function statusJson(
  env: Record<string, string>,
): Promise<{ code: number; probes: Record<string, Record<string, unknown>> }> {
  const r = await stint(["status", "--json"], { env, unset: AWS_VARS });
  const report = JSON.parse(r.stdout);
  return {
    code: r.code,
    probes: Object.fromEntries(
      report.probes.map((p: { name: string }) => [p.name, p]),
    ),
  };
}

/** Assert stderr is exactly one `stint: ...` line (no stack trace). */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n").filter((l) => l.trim() !== "");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  assert.match(lines[0], /^stint: \S/);
  assert.doesNotMatch(stderr, /^\s+at /m);
  return lines[0];
}

async function withS3(fn: (s3: S3Endpoint) => Promise<void>): Promise<void> {
  const s3 = await startS3();
  try {
    await fn(s3);
  } finally {
    await s3.stop();
  }
}

/** A project with tasks for drills, in a fresh dir under `base`. */
function project(base: string): string {
  return makeProject(base, {
    hello: "echo hello from a drill",
    fail3: "echo failing on purpose && exit 3",
  });
}

// ---------------------------------------------------------------------------

Deno.test({
  name: SWIFT
    ? "drill: wrong secret key -> status names the server's error, push fails in one line, nothing local changes (Swift)"
    : "drill: wrong secret key (Swift only: fauxqs ignores signatures)",
  ignore: !SWIFT,
  fn: async () => {
    await withS3(async (s3) => {
      const st = tempState();
      const good = { ...st.env, ...s3.env };
      const set = await stint(["vars", "set", "release", "41"], {
        env: st.env,
        unset: AWS_VARS,
      });
      assert.equal(set.code, 0, set.stderr);
      const wrongSecret = `wrong-${crypto.randomUUID()}`;
      const wrong = { ...good, AWS_SECRET_ACCESS_KEY: wrongSecret };

      const status = await statusJson(wrong);
      assert.equal(status.code, 1);
      assert.equal(status.probes.credentials.ok, true);
      assert.equal(status.probes.bucket.ok, false);
      assert.equal(status.probes.bucket.error, "SignatureDoesNotMatch");

      const before = dumpStore(st.db);
      const push = await stint(["sync", "push"], {
        env: wrong,
        unset: AWS_VARS,
      });
      assert.equal(push.code, 1);
      const line = oneLine(push.stderr);
      assert.match(line, /SignatureDoesNotMatch/);
      assert.ok(
        !push.stderr.includes(wrongSecret) &&
          !push.stdout.includes(wrongSecret),
      );
      assert.deepEqual(
        dumpStore(st.db),
        before,
        "a failed push changed the store",
      );
      assert.deepEqual(
        await listKeys(s3, s3.bucket, `stint/hosts/${hostIdOf(st.db)}/`),
        [],
      );

      // A run under wrong credentials still runs and keeps its exit code.
      const dir = project(st.dir);
      const run = await stint(["run", "fail3"], {
        env: wrong,
        cwd: dir,
        unset: AWS_VARS,
      });
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stdout, /failing on purpose/);

      // With the right key the same changes go up.
      const ok = await stint(["sync", "push"], { env: good, unset: AWS_VARS });
      assert.equal(ok.code, 0, ok.stderr);
      const after = await statusJson(good);
      assert.equal(after.probes.unpushed.ok, true);
      assert.equal(after.probes.bucket.ok, true);
    });
  },
});

Deno.test("drill: endpoint down -> probes fail, runs still succeed, and the next run pushes", async () => {
  await withS3(async (s3) => {
    const st = tempState();
    const dir = project(st.dir);
    const up = { ...st.env, ...s3.env };
    const down = {
      ...up,
      STINT_S3_ENDPOINT: `http://127.0.0.1:${closedPort()}`,
      STINT_PROBE_TIMEOUT: "1",
    };

    const ok = await stint(["run", "hello"], {
      env: down,
      cwd: dir,
      unset: AWS_VARS,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /hello from a drill/);
    const failed = await stint(["run", "fail3"], {
      env: down,
      cwd: dir,
      unset: AWS_VARS,
    });
    assert.equal(
      failed.code,
      3,
      "the endpoint being down changed the task's exit code",
    );
    const set = await stint(["vars", "set", "deploy", "blue"], {
      env: down,
      unset: AWS_VARS,
    });
    assert.equal(set.code, 0, set.stderr);

    const status = await statusJson(down);
    assert.equal(status.code, 1);
    assert.equal(status.probes.endpoint.ok, false);
    assert.equal(status.probes.bucket.ok, false);
    // Recent changes waiting for the endpoint are not a fault of their own.
    assert.equal(status.probes.unpushed.ok, true);
    assert.ok(Number(status.probes.unpushed.count) >= 3);
    assert.match(String(status.probes.endpoint.detail), /ECONNREFUSED/);

    const push = await stint(["sync", "push"], { env: down, unset: AWS_VARS });
    assert.equal(push.code, 1);
    assert.match(oneLine(push.stderr), /ECONNREFUSED|reach/i);

    // The server is back: the next run pushes everything, nothing is lost.
    const later = await stint(["run", "hello"], {
      env: up,
      cwd: dir,
      unset: AWS_VARS,
    });
    assert.equal(later.code, 0, later.stderr);
    const healthy = await statusJson(up);
    assert.equal(
      healthy.probes.unpushed.ok,
      true,
      JSON.stringify(healthy.probes.unpushed),
    );
    assert.equal(healthy.probes.unpushed.count, 0);
    assert.equal(healthy.probes.last_push.ok, true);
    const hosts = healthy.probes.hosts.hosts as { host_id: string }[];
    assert.ok(hosts.some((h) => h.host_id === hostIdOf(st.db)));

    // A new machine restores all three runs and the var.
    const other = tempState();
    const restore = await stint(["sync", "restore"], {
      env: { ...other.env, ...s3.env },
      unset: AWS_VARS,
    });
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(
      rows(other.db, "SELECT id, exit_code FROM executions ORDER BY id"),
      rows(st.db, "SELECT id, exit_code FROM executions ORDER BY id"),
    );
    assert.equal(
      rows(other.db, "SELECT count(*) AS n FROM executions")[0].n,
      3,
    );
  });
});

Deno.test("drill: missing bucket -> status and push name the bucket, runs still succeed", async () => {
  await withS3(async (s3) => {
    const st = tempState();
    const dir = project(st.dir);
    const missing = `stint-gone-${crypto.randomUUID().slice(0, 8)}`;
    const env = { ...st.env, ...s3.env, STINT_BUCKET: missing };

    const run = await stint(["run", "hello"], {
      env,
      cwd: dir,
      unset: AWS_VARS,
    });
    assert.equal(run.code, 0, run.stderr);

    const status = await statusJson(env);
    assert.equal(status.probes.bucket.ok, false);
    assert.match(
      String(status.probes.bucket.detail),
      new RegExp(`"${missing}" does not exist`),
    );

    const before = dumpStore(st.db);
    const push = await stint(["sync", "push"], { env, unset: AWS_VARS });
    assert.equal(push.code, 1);
    const line = oneLine(push.stderr);
    assert.ok(line.includes(missing), line);
    assert.match(line, /NoSuchBucket|does not exist/);
    assert.deepEqual(dumpStore(st.db), before);
  });
});

for (const mode of ["request", "response"] as const) {
  Deno.test(`drill: SIGKILL mid-push (segment ${mode} stalled) -> the next push completes, nothing duplicated or lost`, async () => {
    await withS3(async (s3) => {
      const st = tempState();
      const dir = project(st.dir);
      const local = { ...st.env };
      for (let i = 0; i < 3; i++) {
        const r = await stint(["run", "hello"], {
          env: local,
          cwd: dir,
          unset: AWS_VARS,
        });
        assert.equal(r.code, 0, r.stderr);
      }
      for (const [k, v] of [["a", "1"], ["b", "2"]]) {
        const r = await stint(["vars", "set", k, v], {
          env: local,
          unset: AWS_VARS,
        });
        assert.equal(r.code, 0, r.stderr);
      }
      const host = hostIdOf(st.db);
      const relay = stallingRelay(s3.endpoint);
      try {
        const viaRelay = { ...st.env, ...s3.env, STINT_S3_ENDPOINT: relay.url };
        const segPut = new RegExp(
          `^PUT /${s3.bucket}/stint/hosts/${host}/seg/[^ ]+ HTTP`,
        );
        const stalled = relay.stall(segPut, mode);
        const child = spawnStint(["sync", "push"], {
          env: viaRelay,
          unset: AWS_VARS,
        });
        await Promise.race([
          stalled,
          child.status.then((s) => {
            throw new Error(
              `push finished before the segment upload (exit ${s.code})`,
            );
          }),
        ]);
        if (mode === "response") {
          // The server has the segment; the client never hears so.
          await waitFor(
            async () =>
              (await listKeys(s3, s3.bucket, `stint/hosts/${host}/seg/`))
                .length > 0,
            { timeoutMs: 20_000, what: "the stalled segment to land" },
          );
        }
        child.kill("SIGKILL");
        const killed = await child.status;
        assert.equal(killed.signal, "SIGKILL");
        await child.stdout.cancel();
        await child.stderr.cancel();
        relay.release();
      } finally {
        await relay.close();
      }

      // More work after the crash, then a normal push.
      const more = await stint(["vars", "set", "c", "3"], {
        env: local,
        unset: AWS_VARS,
      });
      assert.equal(more.code, 0, more.stderr);
      const push = await stint(["sync", "push"], {
        env: { ...st.env, ...s3.env },
        unset: AWS_VARS,
      });
      assert.equal(push.code, 0, push.stderr);
      const status = await statusJson({ ...st.env, ...s3.env });
      assert.equal(status.probes.unpushed.count, 0);

      // A new machine gets exactly this host's rows: none lost, none twice.
      const other = tempState();
      const restore = await stint(["sync", "restore"], {
        env: { ...other.env, ...s3.env },
        unset: AWS_VARS,
      });
      assert.equal(restore.code, 0, restore.stderr);
      const q = "SELECT id, ref, status, exit_code FROM executions ORDER BY id";
      assert.deepEqual(rows(other.db, q), rows(st.db, q));
      assert.equal(rows(other.db, q).length, 3);
      const v = "SELECT key, value FROM vars ORDER BY key";
      assert.deepEqual(
        rows(other.db, v).map((r) => [r.key, String(r.value)]),
        [["a", "1"], ["b", "2"], ["c", "3"]],
      );
      // Pulling the same segments again changes nothing.
      const beforePull = dumpStore(other.db);
      const pull = await stint(["sync", "pull"], {
        env: { ...other.env, ...s3.env },
        unset: AWS_VARS,
      });
      assert.equal(pull.code, 0, pull.stderr);
      const afterPull = dumpStore(other.db);
      assert.deepEqual(afterPull.executions, beforePull.executions);
      assert.deepEqual(afterPull.vars, beforePull.vars);
    });
  });
}

Deno.test("drill: read-only state dir -> writing commands fail with one clear line, status still works", async () => {
  const st = tempState();
  const dir = project(st.dir);
  const first = await stint(["run", "hello"], {
    env: st.env,
    cwd: dir,
    unset: AWS_VARS,
  });
  assert.equal(first.code, 0, first.stderr);
  const stateDir = join(st.dir, "state");
  const paths = [stateDir, st.db];
  try {
    Deno.statSync(join(stateDir, "logs"));
    paths.push(join(stateDir, "logs"));
  } catch {
    // no logs dir
  }
  const before = dumpStore(st.db);
  const undo = await makeReadOnly(paths);
  if (undo === null) return;
  try {
    const marker = join(st.dir, "task-ran");
    makeProject(st.dir, { touch: `touch ${marker}` }, { name: "touching" });
    for (
      const [args, cwd] of [
        [["vars", "set", "x", "1"], undefined],
        [["run", "touch"], join(st.dir, "touching")],
      ] as const
    ) {
      const r = await stint([...args], { env: st.env, cwd, unset: AWS_VARS });
      assert.notEqual(
        r.code,
        0,
        `${args.join(" ")} succeeded on a read-only store`,
      );
      const line = oneLine(r.stderr);
      assert.ok(
        line.includes(stateDir),
        `the error does not name the state dir: ${line}`,
      );
    }
    const status = await statusJson(st.env);
    assert.equal(status.probes.store.ok, true);
  } finally {
    await undo();
  }
  assert.deepEqual(dumpStore(st.db), before);
});

Deno.test({
  name:
    "drill: full disk under the state dir -> one clear line, the store stays readable",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const st = tempState();
    const stateDir = join(st.dir, "state");
    Deno.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", stateDir],
      stderr: "piped",
    }).output().catch(() => null);
    if (!mount?.success) {
      console.warn(
        "cannot mount a small tmpfs here: the full-disk drill was not run",
      );
      return;
    }
    try {
      const set = await stint(["vars", "set", "seed", "1"], {
        env: st.env,
        unset: AWS_VARS,
      });
      assert.equal(set.code, 0, set.stderr);
      // Fill what is left of the disk.
      const filler = join(stateDir, "filler");
      const f = Deno.openSync(filler, { write: true, create: true });
      try {
        const block = new Uint8Array(16 * 1024);
        for (;;) {
          try {
            f.writeSync(block);
          } catch {
            break;
          }
        }
      } finally {
        f.close();
      }
      const big = "x".repeat(64 * 1024);
      const r = await stint(["vars", "set", "big", big], {
        env: st.env,
        unset: AWS_VARS,
      });
      assert.notEqual(r.code, 0);
      const line = oneLine(r.stderr);
      assert.match(line, /full|space/i);
      assert.ok(line.includes(stateDir), line);
      assert.ok(!line.includes(big));
      // Nothing was lost: the earlier value reads back.
      Deno.removeSync(filler);
      const get = await stint(["vars", "get", "seed"], {
        env: st.env,
        unset: AWS_VARS,
      });
      assert.equal(get.code, 0, get.stderr);
      assert.equal(get.stdout.trim(), "1");
    } finally {
      await new Deno.Command("umount", { args: [stateDir] }).output();
    }
  },
});

Deno.test("drill: secrets audit -> the secret key is nowhere in the store, logs, bucket or output", async () => {
  await withS3(async (s3) => {
    const st = tempState();
    const dir = project(st.dir);
    const env = { ...st.env, ...s3.env };
    const secret = s3.secretAccessKey;
    assert.ok(secret.length >= 8);
    const outputs: string[] = [];
    async function go(args: string[], cwd?: string): Promise<void> {
      const r = await stint(args, { env, cwd, unset: AWS_VARS });
      outputs.push(r.stdout, r.stderr);
      assert.ok([0, 1, 3].includes(r.code), `${args.join(" ")}: ${r.stderr}`);
    }
    await go(["run", "hello"], dir);
    await go(["run", "fail3"], dir);
    await go(["vars", "set", "release", "7"]);
    await go(["cache", "set", "artifact", "abc"]);
    await go(["sync", "push"]);
    await go(["sync", "status"]);
    await go(["sync", "status", "--json"]);
    await go(["status"]);
    await go(["status", "--json"]);
    await go(["history", "--json"]);
    // Under wrong credentials too: error paths must not echo anything secret.
    const wrong = { ...env, AWS_SECRET_ACCESS_KEY: `${secret}-but-wrong` };
    for (const args of [["sync", "push"], ["status"]]) {
      const r = await stint(args, { env: wrong, unset: AWS_VARS });
      outputs.push(r.stdout, r.stderr);
    }
    // A second machine restores from the bucket.
    const other = tempState();
    const restore = await stint(["sync", "restore"], {
      env: { ...other.env, ...s3.env },
      unset: AWS_VARS,
    });
    outputs.push(restore.stdout, restore.stderr);
    assert.equal(restore.code, 0, restore.stderr);

    const needle = new TextEncoder().encode(secret);
    const hits: string[] = [];
    const check = (what: string, bytes: Uint8Array) => {
      if (contains(bytes, needle)) hits.push(what);
      // Compressed objects (segments, log blobs) are checked inflated too.
      if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
        try {
          if (contains(gunzipSync(bytes), needle)) {
            hits.push(`${what} (gunzipped)`);
          }
        } catch {
          // not gzip after all
        }
      }
    };
    for (const root of [st.dir, other.dir]) {
      for (const file of walk(root)) check(file, Deno.readFileSync(file));
    }
    const objects = await readAllObjects(s3, s3.bucket);
    assert.ok(objects.size > 0, "nothing reached the bucket");
    for (const [key, bytes] of objects) {
      check(`s3://${s3.bucket}/${key}`, bytes);
    }
    outputs.forEach((text, i) =>
      check(`output #${i}`, new TextEncoder().encode(text))
    );
    assert.deepEqual(hits, [], `the secret key appears in: ${hits.join(", ")}`);
    // The full key id is never printed either (only its last 4 characters).
    const printed = outputs.filter((o) => o.includes(s3.accessKeyId));
    assert.deepEqual(printed, [], "the full access key id was printed");
  });
});

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...walk(p));
    else if (e.isFile) out.push(p);
  }
  return out;
}
