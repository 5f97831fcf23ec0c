/**
 * Sync edge cases found in review: real stint processes, real SQLite files,
 * a real S3 endpoint over HTTP (fauxqs in-process; OpenStack Swift with
 * STINT_TEST_SWIFT=1).
 */
import assert from "node:assert/strict";
import { createGzip, gzipSync } from "node:zlib";
import { HAS_SCRIPT, stintOnPty } from "./support/pty.ts";
import { stint } from "./support/cli.ts";
import { type S3Endpoint, sdkClient } from "./support/s3.ts";
import {
  bucketAt,
  okStint as ok,
  syncHost as host,
  withSyncS3,
} from "./support/sync_host.ts";
import { openSqlite } from "../src/store/sqlite.ts";

function hostIdOf(dbPath: string): string {
  const db = openSqlite(dbPath, { timeoutMs: 5000, readOnly: true });
  try {
    return String(
      db.prepare("SELECT value FROM meta WHERE key = 'host_id'").get()?.value,
    );
  } finally {
    db.close();
  }
}

/** Put a well-formed segment of `records` for `hostId` (what a hostile host could push). */
async function putSegment(
  s3: S3Endpoint,
  bucket: string,
  hostId: string,
  from: number,
  to: number,
  records: Record<string, unknown>[],
): Promise<void> {
  const lines = [
    JSON.stringify({
      stint: "segment",
      version: 1,
      schema: 2,
      host: hostId,
      from,
      to,
      count: records.length,
    }),
    ...records.map((r) => JSON.stringify(r)),
  ];
  const body = gzipSync(new TextEncoder().encode(lines.join("\n") + "\n"));
  const b = bucketAt(s3, bucket, { prefix: "stint/" });
  try {
    const pad = (n: number) => String(n).padStart(12, "0");
    await b.put(`hosts/${hostId}/seg/${pad(from)}-${pad(to)}.ndjson.gz`, body);
  } finally {
    await b.close();
  }
}

const SLOW = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "sync review: edge cases",
  ...SLOW,
  fn: (t) =>
    withSyncS3(async (s3) => {
      await t.step(
        "a push whose changes were all overwritten by a pull leaves no gap for other hosts",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket), b = host(s3, bucket);
          await ok(b, ["vars", "set", "seed", "1", "--global"]);
          // A writes k while the bucket is unreachable: the change stays queued.
          const r = await stint(["vars", "set", "k", "from-a", "--global"], {
            env: { ...a.env, STINT_S3_ENDPOINT: "http://127.0.0.1:9" },
          });
          assert.equal(r.code, 0, r.stderr);
          await new Promise((res) => setTimeout(res, 20));
          // B writes k later (it wins), and A pulls B's write over its own.
          await ok(b, ["vars", "set", "k", "from-b", "--global"]);
          await ok(a, ["sync", "pull"]);
          assert.equal(await ok(a, ["vars", "get", "k"]), "from-b\n");
          // A's queued change no longer exists; its push sends nothing new.
          await ok(a, ["sync", "push"]);
          await ok(a, ["vars", "set", "k2", "v2", "--global"]);
          // B must still get A's next change.
          await ok(b, ["sync", "pull"]);
          assert.equal(await ok(b, ["vars", "get", "k2"]), "v2\n");
        },
      );

      await t.step(
        "a host whose clock is behind still wins with a later write: every host converges",
        async () => {
          const bucket = await s3.newBucket();
          // Host B's clock runs 10 minutes ahead: its writes carry future times.
          const ahead = Date.now() + 600_000;
          const skewed = "skewed-b-0001";
          await putSegment(s3, bucket, skewed, 1, 3, [
            {
              k: "var",
              scope_id: "root",
              key: "k",
              value: "from-b",
              updated_at: ahead,
              origin: skewed,
              seq: 1,
            },
            {
              k: "var",
              scope_id: "root",
              key: "gone",
              value: "from-b",
              updated_at: ahead,
              origin: skewed,
              seq: 2,
            },
            {
              k: "cache",
              key: "c",
              value_b64: btoa("from-b"),
              updated_at: ahead,
              expires_at: null,
              origin: skewed,
              seq: 3,
            },
          ]);
          const a = host(s3, bucket), c = host(s3, bucket);
          await ok(a, ["sync", "pull"]);
          assert.equal(await ok(a, ["vars", "get", "k"]), "from-b\n");
          // A overwrites and deletes B's values later in real time.
          await ok(a, ["vars", "set", "k", "from-a", "--global"]);
          await ok(a, ["vars", "unset", "gone", "--global"]);
          await ok(a, ["cache", "set", "c", "from-a"]);
          await ok(a, ["sync", "pull"]);
          await ok(c, ["sync", "pull"]);
          for (const st of [a, c]) {
            assert.equal(await ok(st, ["vars", "get", "k"]), "from-a\n");
            const g = await stint(["vars", "get", "gone"], { env: st.env });
            assert.equal(g.code, 1, "the delete wins on every host");
            assert.equal(await ok(st, ["cache", "get", "c"]), "from-a");
          }
        },
      );

      await t.step(
        "pulled rows cannot claim this host, escape the logs dir or point at its logs",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket);
          await ok(a, ["exec", "--", "sh", "-c", "echo precious"]);
          const own = JSON.parse(await ok(a, ["history", "--json"]))[0];
          const ownLog = `${a.dir}/state/logs/${own.id}.log`;
          assert.equal(Deno.readTextFileSync(ownLog), "precious\n");
          const me = hostIdOf(a.db);
          const victim = new Deno.Command("sleep", { args: ["60"] }).spawn();
          try {
            const now = Date.now();
            const evil = "evil-host-0001";
            const exec = (id: string, logId: string, seq: number) => ({
              k: "execution",
              id,
              ref: "evil:ref",
              project_dir: null,
              task: "t",
              command: "true",
              args: "[]",
              started_at: now,
              completed_at: now,
              duration_ms: 0,
              status: "succeeded",
              exit_code: 0,
              signal: null,
              error: null,
              pid: null,
              pid_start: null,
              log_id: logId,
              host_id: evil,
              background_id: null,
              parent_id: null,
              scope_id: null,
              origin: evil,
              seq,
              updated_at: now,
            });
            await putSegment(s3, bucket, evil, 1, 3, [
              {
                k: "background",
                id: "evilbg01",
                execution_id: null,
                ref: "evil:bg",
                command: "sleep 60",
                pid: victim.pid,
                pgid: null,
                pid_start: null,
                started_at: now,
                completed_at: null,
                status: "running",
                exit_code: null,
                error: null,
                log_id: null,
                host_id: me,
                origin: evil,
                seq: 1,
                updated_at: now,
              },
              exec("evil-exec-1", "../../escape", 2),
              exec("evil-exec-2", own.id, 3),
            ]);
            await ok(a, ["sync", "pull"]);
            // Not this host's run: bg kill must not signal a local process.
            await stint(["bg", "kill", "evilbg01", "--signal", "KILL"], {
              env: a.env,
            });
            await stint(["history", "clear", "evil:ref", "--yes"], {
              env: a.env,
            });
            await new Promise((res) => setTimeout(res, 200));
            const alive = await Promise.race([
              victim.status.then(() => false),
              new Promise<boolean>((res) => setTimeout(() => res(true), 300)),
            ]);
            assert.ok(alive, "a pulled row made stint kill a local process");
            assert.equal(
              Deno.readTextFileSync(ownLog),
              "precious\n",
              "a pulled row made stint delete this host's log",
            );
            const db = openSqlite(a.db, { timeoutMs: 5000, readOnly: true });
            try {
              const bad = db.prepare(
                "SELECT count(*) AS n FROM executions WHERE log_id LIKE '%/%'",
              ).get();
              assert.equal(Number(bad?.n), 0, "a path-like log id was stored");
            } finally {
              db.close();
            }
          } finally {
            try {
              victim.kill("SIGKILL");
            } catch {
              // already gone
            }
            await victim.status;
          }
        },
      );

      await t.step(
        "a hostile snapshot can neither claim this host nor plant triggers in a restored store",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket), e = host(s3, bucket);
          await ok(a, ["vars", "set", "mine", "1", "--global"]);
          await ok(e, ["exec", "--", "sh", "-c", "echo from-e"]);
          await ok(e, ["sync", "push", "--compact"]);
          const evil = hostIdOf(e.db);
          const me = hostIdOf(a.db);
          const key = `hosts/${evil}/snap.db`;
          const b = bucketAt(s3, bucket, { prefix: "stint/" });
          const file = `${e.dir}/evil-snap.db`;
          let meta: Record<string, string>;
          try {
            Deno.writeFileSync(file, (await b.get(key))!.body);
            meta = (await b.head(key))!.metadata!;
          } finally {
            await b.close();
          }
          const upload = async (path: string) => {
            const put = bucketAt(s3, bucket, { prefix: "stint/" });
            try {
              await put.put(key, Deno.readFileSync(path), {
                metadata: {
                  "stint-host": meta["stint-host"],
                  "stint-seq": meta["stint-seq"],
                  "stint-schema": meta["stint-schema"],
                },
              });
            } finally {
              await put.close();
            }
          };
          const victim = new Deno.Command("sleep", { args: ["60"] }).spawn();
          try {
            const now = Date.now();
            const db = openSqlite(file, { timeoutMs: 5000 });
            try {
              db.prepare(
                `INSERT INTO background_runs (id, execution_id, ref, command, pid, pgid, pid_start,
                   started_at, status, log_id, host_id, origin, seq, updated_at)
                 VALUES ('evilbg02', NULL, 'evil:bg', 'sleep 60', ?, NULL, NULL, ?, 'running', NULL, ?, ?, 1, ?)`,
              ).run(victim.pid, now, me, evil, now);
            } finally {
              db.close();
            }
            await upload(file);
            // Pull: the snapshot is merged into A's store.
            await stint(["sync", "pull"], { env: a.env });
            await stint(["bg", "kill", "evilbg02", "--signal", "KILL"], {
              env: a.env,
            });
            await new Promise((res) => setTimeout(res, 200));
            const alive = await Promise.race([
              victim.status.then(() => false),
              new Promise<boolean>((res) => setTimeout(() => res(true), 300)),
            ]);
            assert.ok(alive, "a pulled snapshot made stint kill a process");
            assert.equal(await ok(a, ["vars", "get", "mine"]), "1\n");
          } finally {
            try {
              victim.kill("SIGKILL");
            } catch {
              // already gone
            }
            await victim.status;
          }
          // Restore: the snapshot file must not become a store with a trigger.
          const db2 = openSqlite(file, { timeoutMs: 5000 });
          try {
            db2.exec(
              "CREATE TRIGGER wipe AFTER INSERT ON vars BEGIN DELETE FROM executions; END",
            );
          } finally {
            db2.close();
          }
          await upload(file);
          const c = host(s3, bucket);
          await stint(["sync", "restore"], { env: c.env });
          await ok(c, ["exec", "--", "sh", "-c", "echo on-c"]);
          await ok(c, ["vars", "set", "x", "y", "--global"]);
          const runs = JSON.parse(await ok(c, ["history", "--json"]));
          assert.ok(
            runs.some((r: { command: string }) => r.command.includes("on-c")),
            "a trigger from the bucket deleted this host's runs",
          );
          const db = openSqlite(c.db, { timeoutMs: 5000, readOnly: true });
          try {
            const n = db.prepare(
              "SELECT count(*) AS n FROM sqlite_master WHERE type IN ('trigger', 'view')",
            ).get();
            assert.equal(Number(n?.n), 0, "a trigger came in from the bucket");
          } finally {
            db.close();
          }
        },
      );

      await t.step(
        "stint status prints no control characters from object keys in the bucket",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket);
          await ok(a, ["vars", "set", "k", "v", "--global"]);
          const { sdk, client } = await sdkClient(s3);
          const evilKey = "stint/hosts/x\u001b]0;owned\u0007\u001b[2J/seg/1";
          try {
            await client.send(
              new sdk.PutObjectCommand({
                Bucket: bucket,
                Key: evilKey,
                Body: new Uint8Array([1]),
              }),
            );
            const r = await stint(["status"], { env: a.env });
            assert.ok(!r.stdout.includes("\u001b"), JSON.stringify(r.stdout));
            const j = await stint(["status", "--json"], { env: a.env });
            const hosts = JSON.parse(j.stdout).probes.find((
              p: { name: string },
            ) => p.name === "hosts");
            // Swift cannot even list such a key (its XML listing fails);
            // a server that can must show only real host ids.
            if (Deno.env.get("STINT_TEST_SWIFT") !== "1") {
              assert.equal(hosts.ok, true, hosts.detail);
            }
            if (hosts.ok) {
              assert.deepEqual(
                hosts.hosts.map((h: { host_id: string }) => h.host_id),
                [hostIdOf(a.db)],
              );
            }
          } finally {
            await client.send(
              new sdk.DeleteObjectCommand({ Bucket: bucket, Key: evilKey }),
            ).catch(() => {});
            client.destroy();
          }
        },
      );

      await t.step({
        name: HAS_SCRIPT
          ? "a bad setting warns once per command, also when a missing store is restored first"
          : "a bad setting warns once per command (needs script(1) for a pty; not installed)",
        ignore: !HAS_SCRIPT,
        fn: async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket);
          await ok(a, ["vars", "set", "seed", "1", "--global"]);
          const b = host(s3, bucket, {
            STINT_QUIET: "0",
            STINT_FLUSH_INTERVAL: "often",
          });
          // The rich reporter needs a terminal: run under script(1)'s pty.
          const out = await stintOnPty(
            ["vars", "set", "k", "v", "--global"],
            { env: b.env },
          );
          const text = out.output;
          assert.equal(out.code, 0, text);
          assert.match(text, /restored/, "the missing store was restored");
          assert.equal(
            text.split("STINT_FLUSH_INTERVAL").length - 1,
            1,
            text,
          );
        },
      });

      await t.step(
        "a segment that inflates past any real segment (a gzip bomb) is corrupt, not inflated",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket);
          await ok(a, ["vars", "set", "mine", "1", "--global"]);
          // 600 MiB of zeros: ~0.6 MiB on the wire.
          const gz = createGzip({ level: 1 });
          const parts: Uint8Array[] = [];
          gz.on("data", (d: Uint8Array) => parts.push(d));
          const done = new Promise((res) => gz.on("end", res));
          const zeros = new Uint8Array(64 * 1024 * 1024);
          for (let i = 0; i < 10; i++) gz.write(zeros);
          gz.end();
          await done;
          const body = new Uint8Array(
            parts.reduce((n, p) => n + p.byteLength, 0),
          );
          let at = 0;
          for (const p of parts) {
            body.set(p, at);
            at += p.byteLength;
          }
          const b = bucketAt(s3, bucket, { prefix: "stint/" });
          const key =
            "hosts/bomb-host-0001/seg/000000000001-000000000001.ndjson.gz";
          try {
            await b.put(key, body);
          } finally {
            await b.close();
          }
          const r = await stint(["sync", "pull"], { env: a.env });
          assert.equal(r.code, 1, r.stderr);
          assert.match(r.stderr, /bomb-host-0001/);
          // A run's pull skips it too, and the store keeps why.
          await ok(a, ["exec", "--", "true"]);
          const st = JSON.parse(await ok(a, ["sync", "status", "--json"]));
          assert.match(st.last_error.message, /inflates past/);
          assert.equal(await ok(a, ["vars", "get", "mine"]), "1\n");
        },
      );

      await t.step(
        "a -wal left behind by a deleted store is not replayed into the restored file",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket), b = host(s3, bucket);
          await ok(a, ["exec", "--", "sh", "-c", "echo from-a"]);
          await ok(b, ["vars", "set", "old", "1", "--global"]);
          // B's old store had changes only in its WAL when it went away.
          const db = openSqlite(b.db, { timeoutMs: 5000 });
          const saved = `${b.dir}/saved-wal`;
          try {
            db.exec("PRAGMA wal_autocheckpoint = 0");
            db.exec("BEGIN");
            for (let i = 0; i < 100; i++) {
              db.prepare(
                "INSERT INTO vars (scope_id, key, value, updated_at, origin, seq) VALUES ('root', ?, 'stale', 0, 'x', 0)",
              ).run(`stale-${i}`);
            }
            db.exec("COMMIT");
            Deno.copyFileSync(`${b.db}-wal`, saved);
          } finally {
            db.close();
          }
          Deno.removeSync(b.db);
          for (const f of [`${b.db}-wal`, `${b.db}-shm`]) {
            try {
              Deno.removeSync(f);
            } catch {
              // not there
            }
          }
          Deno.copyFileSync(saved, `${b.db}-wal`);
          // A reading command on the store-less machine restores it.
          const runs = JSON.parse(await ok(b, ["history", "--json"]));
          assert.equal(runs.length, 1);
          const vars = JSON.parse(await ok(b, ["vars", "list", "--json"]));
          assert.deepEqual(
            vars.filter((v: { key: string }) => v.key.startsWith("stale-")),
            [],
            "pages of the deleted store were replayed into the restored one",
          );
        },
      );

      await t.step(
        "pulled var and cache keys follow the local key rules (no control characters)",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket);
          await ok(a, ["vars", "set", "mine", "1", "--global"]);
          const now = Date.now();
          const evil = "evil-host-0003";
          await putSegment(s3, bucket, evil, 1, 3, [
            {
              k: "var",
              scope_id: "root",
              key: "x\u001b]0;owned\u0007",
              value: "v",
              updated_at: now,
              origin: evil,
              seq: 1,
            },
            {
              k: "cache",
              key: "c\u001b[2J",
              value_b64: btoa("v"),
              updated_at: now,
              expires_at: null,
              origin: evil,
              seq: 2,
            },
            {
              k: "var",
              scope_id: "root",
              key: "fine",
              value: "ok",
              updated_at: now,
              origin: evil,
              seq: 3,
            },
          ]);
          await ok(a, ["sync", "pull"]);
          const vars = await ok(a, ["vars", "list"]);
          const cache = await ok(a, ["cache", "list"]);
          assert.ok(!vars.includes("\u001b"), JSON.stringify(vars));
          assert.ok(!cache.includes("\u001b"), JSON.stringify(cache));
          assert.equal(await ok(a, ["vars", "get", "fine"]), "ok\n");
        },
      );
    }),
});
