/**
 * Bucket sync end to end: real stint processes, real SQLite files, a real S3
 * endpoint over HTTP (fauxqs in-process; OpenStack Swift with
 * STINT_TEST_SWIFT=1). Assertions only use what any S3 server does.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  MAIN,
  spawnStint,
  stint,
  type TempState,
  tempState,
  waitFor,
} from "./support/cli.ts";
import { putRaw, type S3Endpoint } from "./support/s3.ts";
import {
  bucketAt as raw,
  dumpReplicated,
  listKeys,
  okStint as ok,
  syncHost as host,
  withSyncS3,
} from "./support/sync_host.ts";
import { Relay } from "./support/relay.ts";
import { openSqlite } from "../src/store/sqlite.ts";

async function json<T>(st: TempState, args: string[]): Promise<T> {
  return JSON.parse(await ok(st, [...args, "--json"])) as T;
}

/**
 * Overwrite an object with other bytes but keep the SHA-256 stored with the
 * original (what bit rot or a bad copy looks like), through the plain SDK.
 */
async function tamper(
  s3: S3Endpoint,
  bucket: string,
  key: string,
  change: (body: Uint8Array) => Uint8Array,
): Promise<void> {
  const b = raw(s3, bucket);
  let original: Uint8Array | null;
  let meta: Record<string, string>;
  try {
    original = (await b.get(key))?.body ?? null;
    meta = (await b.head(key))?.metadata ?? {};
  } finally {
    await b.close();
  }
  assert.ok(original, `${key} exists`);
  assert.ok(meta["stint-sha256"], `${key} carries a checksum`);
  await putRaw(s3, { bucket, key }, { body: change(original), metadata: meta });
}

interface HistoryRow {
  id: string;
  status: string;
  exit_code: number | null;
  host_id: string;
  command: string;
}

interface VarRow {
  key: string;
  value: string;
}

const SLOW = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "sync against a real S3 endpoint",
  ...SLOW,
  fn: (t) =>
    withSyncS3(async (s3) => {
      await t.step(
        "two hosts writing concurrently, then pulling, both hold the union; twice changes nothing",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket), b = host(s3, bucket);
          const jobs: Promise<unknown>[] = [];
          for (let i = 0; i < 4; i++) {
            jobs.push(ok(a, ["vars", "set", `a-${i}`, `va${i}`, "--global"]));
            jobs.push(ok(b, ["vars", "set", `b-${i}`, `vb${i}`, "--global"]));
          }
          jobs.push(ok(a, ["cache", "set", "ca", "from a"]));
          jobs.push(ok(b, ["cache", "set", "cb", "from b"]));
          jobs.push(ok(a, ["exec", "--", "sh", "-c", "echo run-on-a"]));
          jobs.push(ok(b, ["exec", "--", "sh", "-c", "echo run-on-b"]));
          await Promise.all(jobs);
          // A conflict: the later write wins on both hosts.
          await ok(a, ["vars", "set", "shared", "first", "--global"]);
          await new Promise((r) => setTimeout(r, 20));
          await ok(b, ["vars", "set", "shared", "second", "--global"]);
          // A delete travels too.
          await ok(a, ["vars", "unset", "a-3", "--global"]);

          await ok(a, ["sync", "pull"]);
          await ok(b, ["sync", "pull"]);
          for (const st of [a, b]) {
            const vars = await json<VarRow[]>(st, ["vars", "list"]);
            const got = Object.fromEntries(vars.map((v) => [v.key, v.value]));
            for (let i = 0; i < 4; i++) {
              assert.equal(got[`b-${i}`], `vb${i}`);
              if (i < 3) assert.equal(got[`a-${i}`], `va${i}`);
            }
            assert.equal(got["a-3"], undefined, "tombstone honoured");
            assert.equal(got.shared, "second", "last writer wins");
            assert.equal(await ok(st, ["cache", "get", "ca"]), "from a");
            assert.equal(await ok(st, ["cache", "get", "cb"]), "from b");
            const runs = await json<HistoryRow[]>(st, ["history"]);
            assert.deepEqual(
              runs.map((r) => r.command).sort(),
              ["sh -c 'echo run-on-a'", "sh -c 'echo run-on-b'"],
            );
          }
          assert.equal(
            dumpReplicated(a.db),
            dumpReplicated(b.db),
            "both hold the same union",
          );

          const status = await json<{
            unpushed: number;
            host_id: string;
            cursors: { host: string; seq: number }[];
          }>(a, ["sync", "status"]);
          assert.equal(status.unpushed, 0);
          assert.equal(status.cursors.length, 1);
          assert.notEqual(status.cursors[0].host, status.host_id);
          assert.ok(status.cursors[0].seq > 0);

          const before = dumpReplicated(a.db);
          const again = await json<{ applied: number }>(a, ["sync", "pull"]);
          assert.equal(again.applied, 0);
          assert.equal(
            dumpReplicated(a.db),
            before,
            "applying twice changes nothing",
          );

          // Credentials never reach the bucket or the store.
          const rb = raw(s3, bucket);
          try {
            for await (const o of rb.list("")) {
              let body = (await rb.get(o.key))!.body;
              if (o.key.endsWith(".gz")) body = gunzipSync(body);
              const text = new TextDecoder().decode(body);
              assert.ok(!text.includes(s3.secretAccessKey), o.key);
              assert.ok(!text.includes(s3.accessKeyId), o.key);
            }
          } finally {
            await rb.close();
          }
          for (const st of [a, b]) {
            for (const f of [st.db, `${st.db}-wal`]) {
              let bytes: Uint8Array;
              try {
                bytes = Deno.readFileSync(f);
              } catch {
                continue;
              }
              const text = new TextDecoder("latin1").decode(bytes);
              assert.ok(!text.includes(s3.secretAccessKey), f);
            }
            const status = await ok(st, ["sync", "status", "--json"]);
            assert.ok(!status.includes(s3.secretAccessKey));
          }
        },
      );

      await t.step(
        "a read on a machine with no local file restores first; status never does",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket);
          await ok(a, ["exec", "--", "sh", "-c", "echo seeded"]);
          await ok(a, ["vars", "set", "team", "blue", "--global"]);

          const b = host(s3, bucket);
          const runs = await json<HistoryRow[]>(b, ["history"]);
          assert.deepEqual(runs.map((r) => r.command), ["sh -c 'echo seeded'"]);
          const c = host(s3, bucket);
          assert.equal(await ok(c, ["vars", "get", "team"]), "blue\n");

          const d = host(s3, bucket);
          await stint(["status", "--json"], { env: d.env });
          assert.throws(() => Deno.statSync(d.db), Deno.errors.NotFound);
          // Inside a run the outermost stint owns the lifecycle: no restore.
          const e = host(s3, bucket, { STINT_RUN_ID: "outer" });
          await stint(["history", "--json"], { env: e.env });
          assert.throws(() => Deno.statSync(e.db), Deno.errors.NotFound);
        },
      );

      await t.step(
        "a machine with no local file restores the full history and other hosts' logs",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket), b = host(s3, bucket);
          await ok(a, [
            "exec",
            "--",
            "sh",
            "-c",
            "printf 'log line from a\\n'",
          ]);
          for (let i = 0; i < 2; i++) {
            const r = await stint(
              ["exec", "--", "sh", "-c", "printf 'from b\\n'; exit 4"],
              { env: b.env },
            );
            assert.equal(r.code, 4);
          }
          await ok(a, ["sync", "push", "--compact"]);
          await ok(a, ["vars", "set", "team", "blue", "--global"]);

          // A command that runs a task restores first when the file is missing
          // (A's snapshot and later segment, B's segments).
          const c = host(s3, bucket);
          await ok(c, ["exec", "--", "true"]);
          const runs = await json<HistoryRow[]>(c, ["history"]);
          const fromA = runs.find((x) => x.command.includes("log line from a"));
          assert.ok(fromA, "A's run restored");
          assert.equal(fromA.status, "succeeded");
          const fromB = runs.filter((x) => x.command.includes("from b"));
          assert.equal(fromB.length, 2);
          assert.ok(fromB.every((x) => x.exit_code === 4));
          assert.equal(await ok(c, ["vars", "get", "team"]), "blue\n");
          // The other host's log comes from its content-addressed blob.
          assert.equal(await ok(c, ["logs", fromA.id]), "log line from a\n");

          // stint sync restore: explicit, refuses to overwrite without --force.
          // Two snapshots now: one becomes the base file, the other is merged.
          await ok(b, ["sync", "push", "--compact"]);
          const d = host(s3, bucket);
          const restored = await json<{ restored: boolean; hosts: number }>(
            d,
            ["sync", "restore"],
          );
          assert.equal(restored.restored, true);
          assert.ok(restored.hosts >= 2);
          const dRuns = await json<HistoryRow[]>(d, ["history"]);
          assert.equal(
            dRuns.filter((x) => x.command.includes("from b")).length,
            2,
          );
          assert.ok(dRuns.some((x) => x.id === fromA.id));
          assert.equal(await ok(d, ["vars", "get", "team"]), "blue\n");
          const refuse = await stint(["sync", "restore"], { env: d.env });
          assert.equal(refuse.code, 1);
          assert.match(refuse.stderr, /already exists.*--force/);
          assert.equal(refuse.stderr.trim().split("\n").length, 1);
          // --force rebuilds it on purpose and keeps the machine's host id.
          const idBefore = (await json<{ host_id: string }>(d, [
            "sync",
            "status",
          ])).host_id;
          const forced = await json<{ restored: boolean; host_id: string }>(
            d,
            ["sync", "restore", "--force"],
          );
          assert.equal(forced.restored, true);
          assert.equal(forced.host_id, idBefore);
          assert.equal(await ok(d, ["vars", "get", "team"]), "blue\n");

          // A wiped machine gets its own history back.
          const aRuns = await json<HistoryRow[]>(a, ["history"]);
          Deno.removeSync(join(a.dir, "state"), { recursive: true });
          await ok(a, ["sync", "restore"]);
          const back = await json<HistoryRow[]>(a, ["history"]);
          for (const run of aRuns) {
            assert.ok(back.some((x) => x.id === run.id), `${run.id} restored`);
          }
        },
      );

      await t.step(
        "the flush loop pushes during a run; a flush after SIGTERM lands in the bucket; nested stint leaves pushing to the outermost",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket, { STINT_FLUSH_INTERVAL: "0.3" });
          const b = host(s3, bucket);
          const nested =
            `${Deno.execPath()} run -A --quiet ${MAIN} vars set nested-k nested-v --global && echo ready && sleep 60`;
          const child = spawnStint(["exec", "--", "sh", "-c", nested], {
            env: a.env,
          });
          const out = child.stdout.pipeThrough(new TextDecoderStream())
            .getReader();
          let seen = "";
          await waitFor(async () => {
            const { value, done } = await out.read();
            if (value) seen += value;
            return done || seen.includes("ready");
          }, { timeoutMs: 30_000, what: "the nested write" });
          // While the run goes on, another host sees the nested write.
          await waitFor(async () => {
            await ok(b, ["sync", "pull"]);
            const r = await stint(["vars", "get", "nested-k"], { env: b.env });
            return r.code === 0 && r.stdout === "nested-v\n";
          }, { timeoutMs: 30_000, intervalMs: 300, what: "the flush loop" });

          child.kill("SIGTERM");
          const status = await child.status;
          out.releaseLock();
          await child.stdout.cancel().catch(() => {});
          await child.stderr.cancel().catch(() => {});
          assert.equal(status.code, 143);
          await ok(b, ["sync", "pull"]);
          const runs = await json<HistoryRow[]>(b, ["history"]);
          const killed = runs.find((r) => r.command.includes("nested-k"));
          assert.ok(killed, "the run reached the bucket");
          assert.equal(killed.status, "killed");

          // A nested process (STINT_RUN_ID set) does not push on its own.
          const lone = await s3.newBucket();
          const n = host(s3, lone, { STINT_RUN_ID: "0000-outer" });
          await ok(n, ["vars", "set", "x", "y", "--global"]);
          assert.deepEqual(await listKeys(s3, lone), []);
        },
      );

      await t.step(
        "the server going away mid-run leaves the exit code alone; the next run pushes everything",
        async () => {
          const bucket = await s3.newBucket();
          const proxy = new Relay(s3.endpoint).start();
          try {
            const a = host(s3, bucket, {
              STINT_S3_ENDPOINT: proxy.url,
            });
            const child = spawnStint(
              ["exec", "--", "sh", "-c", "echo started; sleep 2; exit 3"],
              { env: a.env },
            );
            const out = child.stdout.pipeThrough(new TextDecoderStream())
              .getReader();
            let seen = "";
            await waitFor(async () => {
              const { value, done } = await out.read();
              if (value) seen += value;
              return done || seen.includes("started");
            }, { timeoutMs: 30_000, what: "the run to start" });
            proxy.stop();
            const status = await child.status;
            out.releaseLock();
            await child.stdout.cancel().catch(() => {});
            const err = await new Response(child.stderr).text();
            assert.equal(status.code, 3, "the task's exit code");
            assert.doesNotMatch(err, /at .*\.ts:\d+/, "no stack trace");
            assert.deepEqual(
              (await listKeys(s3, bucket)).filter((k) => k.includes("/seg/")),
              [],
            );

            proxy.start();
            await ok(a, ["exec", "--", "true"]);
            const c = host(s3, bucket);
            await ok(c, ["sync", "restore"]);
            const runs = await json<HistoryRow[]>(c, ["history"]);
            const first = runs.find((r) => r.command.includes("exit 3"));
            assert.ok(first, "the first run was pushed by the next one");
            assert.equal(first.exit_code, 3);
            assert.equal(runs.length, 2);
          } finally {
            proxy.stop();
          }
        },
      );

      await t.step(
        "a corrupt segment is detected, reported, skipped, and the local file is untouched",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket), b = host(s3, bucket);
          await ok(a, ["vars", "set", "k1", "v1", "--global"]);
          await ok(b, ["sync", "pull"]);
          await ok(a, ["vars", "set", "k2", "v2", "--global"]);
          const seg = (await listKeys(s3, bucket)).filter((k) =>
            k.includes("/seg/")
          ).sort().at(-1)!;
          await tamper(s3, bucket, seg, (body) => {
            const copy = body.slice();
            copy[Math.floor(copy.length / 2)] ^= 0xff;
            return copy;
          });
          const before = dumpReplicated(b.db);
          const pull = await stint(["sync", "pull"], { env: b.env });
          assert.equal(pull.code, 1);
          assert.match(pull.stderr, /corrupt/i);
          assert.ok(pull.stderr.includes(seg), pull.stderr);
          assert.equal(dumpReplicated(b.db), before, "nothing applied from it");
          assert.equal(await ok(b, ["vars", "get", "k1"]), "v1\n");

          // --force restore with a corrupt object keeps the existing file.
          const force = await stint(["sync", "restore", "--force"], {
            env: b.env,
          });
          assert.equal(force.code, 1);
          assert.match(force.stderr, /left untouched/);
          assert.equal(dumpReplicated(b.db), before);

          // Later segments still arrive; a compaction repairs the gap.
          await ok(a, ["vars", "set", "k3", "v3", "--global"]);
          const later = await stint(["sync", "pull"], { env: b.env });
          assert.equal(later.code, 1, "still reports the bad segment");
          assert.equal(await ok(b, ["vars", "get", "k3"]), "v3\n");
          await ok(a, ["sync", "push", "--compact"]);
          await ok(b, ["sync", "pull"]);
          assert.equal(await ok(b, ["vars", "get", "k2"]), "v2\n");
        },
      );

      await t.step(
        "a snapshot is a real SQLite file; a truncated one is detected and never replaces a local file",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket), b = host(s3, bucket);
          // B has a store of its own before A's snapshot exists, so B needs it.
          await ok(b, ["vars", "set", "mine", "keep-me", "--global"]);
          for (let i = 0; i < 3; i++) {
            await ok(a, ["vars", "set", `s${i}`, `v${i}`, "--global"]);
          }
          const pushed = await json<{ snapshot: boolean }>(a, [
            "sync",
            "push",
            "--compact",
          ]);
          assert.equal(pushed.snapshot, true);
          const all = await listKeys(s3, bucket);
          const snapKey = all.find((k) => k.endsWith("/snap.db"))!;
          assert.ok(snapKey, all.join(","));
          const aPrefix = snapKey.replace(/snap\.db$/, "seg/");
          assert.deepEqual(all.filter((k) => k.startsWith(aPrefix)), []);
          const rb = raw(s3, bucket);
          const file = join(a.dir, "snap-copy.db");
          try {
            Deno.writeFileSync(file, (await rb.get(snapKey))!.body);
          } finally {
            await rb.close();
          }
          const snap = openSqlite(file, { timeoutMs: 5000, readOnly: true });
          try {
            const n = snap.prepare(
              "SELECT count(*) AS n FROM vars WHERE key LIKE 's%'",
            ).get();
            assert.equal(Number(n?.n), 3);
          } finally {
            snap.close();
          }

          await tamper(
            s3,
            bucket,
            snapKey,
            (body) => body.slice(0, Math.floor(body.length / 2)),
          );
          const before = dumpReplicated(b.db);
          const force = await stint(["sync", "restore", "--force"], {
            env: b.env,
          });
          assert.equal(force.code, 1);
          assert.match(force.stderr, /snap\.db/);
          assert.equal(
            dumpReplicated(b.db),
            before,
            "the local file was not replaced",
          );
          const pull = await stint(["sync", "pull"], { env: b.env });
          assert.equal(pull.code, 1);
          assert.match(pull.stderr, /corrupt/i);
          assert.equal(dumpReplicated(b.db), before);
          assert.equal(await ok(b, ["vars", "get", "mine"]), "keep-me\n");
          // A new machine reports it too, and still gets what is intact.
          const c = host(s3, bucket);
          const fresh = await stint(["sync", "restore"], { env: c.env });
          assert.equal(fresh.code, 1);
          assert.match(fresh.stderr, /corrupt object .*snap\.db/);
          assert.equal(await ok(c, ["vars", "get", "mine"]), "keep-me\n");
        },
      );

      await t.step(
        "bad settings warn once and fall back; sync commands fail in one line",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket, { STINT_FLUSH_INTERVAL: "often" });
          const st = await stint(["sync", "status", "--json"], { env: a.env });
          assert.equal(st.code, 0);
          assert.equal(JSON.parse(st.stdout).flush_interval_s, 30);
          assert.equal(st.stderr.trim().split("\n").length, 1);
          assert.match(st.stderr, /STINT_FLUSH_INTERVAL/);

          const off = tempState("stint-sync-");
          const r = await stint(["sync", "push"], { env: off.env });
          assert.equal(r.code, 1);
          assert.match(r.stderr, /not configured/);
          assert.equal(r.stderr.trim().split("\n").length, 1);

          const missing = host(s3, "no-such-bucket-stint-x");
          await ok(missing, ["vars", "set", "k", "v", "--global"]);
          // The failed push left the change queued, and sync status says so.
          const queued = JSON.parse(
            await ok(missing, ["sync", "status", "--json"]),
          );
          assert.equal(queued.unpushed, 1);
          assert.equal(queued.last_push_at, null);
          assert.equal(queued.bucket, "no-such-bucket-stint-x");
          // The silent reporter still leaves the failure where it can be seen.
          assert.equal(queued.last_error.kind, "no-bucket");
          assert.match(queued.last_error.message, /no-such-bucket-stint-x/);
          assert.ok(!queued.last_error.message.includes(s3.secretAccessKey));
          const push = await stint(["sync", "push"], { env: missing.env });
          assert.equal(push.code, 1);
          assert.equal(push.stderr.trim().split("\n").length, 1);
          assert.ok(!push.stderr.includes(s3.secretAccessKey));
        },
      );
    }),
});
