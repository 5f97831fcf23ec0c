/**
 * The sync lifecycle against a real S3 endpoint (fauxqs in-process, or
 * OpenStack Swift with STINT_TEST_SWIFT=1), with real stint processes: what
 * a change of bucket or prefix does to the cursors, when a store file is
 * created, how long an unresponsive endpoint may hold a command, and how
 * other hosts see the runs of a host that went silent.
 */
import assert from "node:assert/strict";
import { spawnStint, stint, waitFor } from "./support/cli.ts";
import { Relay, silentServer } from "./support/relay.ts";
import {
  okStint as ok,
  type SyncHost,
  syncHost as host,
  withSyncS3,
} from "./support/sync_host.ts";

const SLOW = { sanitizeOps: false, sanitizeResources: false };
const SWIFT = Deno.env.get("STINT_TEST_SWIFT") === "1";

interface VarRow {
  key: string;
  value: string;
}

interface Run {
  id: string;
  command: string;
  status: string;
  error: string | null;
}

async function history(st: SyncHost): Promise<Run[]> {
  return JSON.parse(await ok(st, ["history", "--json"]));
}

Deno.test({
  name: "sync lifecycle",
  ...SLOW,
  fn: (t) =>
    withSyncS3(async (s3) => {
      await t.step(
        "a new bucket or prefix gets everything, not only later changes (push cursors per location)",
        async () => {
          const first = await s3.newBucket(), second = await s3.newBucket();
          const a = host(s3, first);
          await ok(a, ["vars", "set", "early", "1", "--global"]);
          const before = JSON.parse(await ok(a, ["sync", "status", "--json"]));
          assert.equal(before.unpushed, 0);
          // The same store now points at another bucket: nothing is there yet.
          a.env.STINT_BUCKET = second;
          const moved = JSON.parse(await ok(a, ["sync", "status", "--json"]));
          assert.ok(
            moved.unpushed >= 1,
            "the new bucket lacks the early change",
          );
          assert.equal(moved.last_push_at, null);
          await ok(a, ["vars", "set", "late", "2", "--global"]);
          const b = host(s3, second);
          const vars = JSON.parse(await ok(b, ["vars", "list", "--json"]));
          assert.deepEqual(
            vars.map((v: VarRow) => `${v.key}=${v.value}`).sort(),
            ["early=1", "late=2"],
          );
          // ... and a new prefix in the same bucket likewise.
          a.env.STINT_S3_PREFIX = "elsewhere/";
          await ok(a, ["sync", "push"]);
          const c = host(s3, second, { STINT_S3_PREFIX: "elsewhere/" });
          assert.equal(await ok(c, ["vars", "get", "early"]), "1\n");
          // Back to the first location: its cursor was kept.
          delete a.env.STINT_S3_PREFIX;
          a.env.STINT_BUCKET = first;
          const back = JSON.parse(await ok(a, ["sync", "status", "--json"]));
          assert.equal(
            back.unpushed,
            1,
            "only the late change is missing there",
          );
          const r = await stint(["sync", "push", "--json"], { env: a.env });
          assert.equal(JSON.parse(r.stdout).records, 1);
        },
      );

      await t.step(
        "a failed first restore leaves no file and says so; the next command restores",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket);
          await ok(a, ["exec", "--", "sh", "-c", "echo team-run"]);
          const relay = new Relay(s3.endpoint).start();
          try {
            const b = host(s3, bucket, { STINT_S3_ENDPOINT: relay.url });
            relay.stop(); // the endpoint is down on the new machine
            const r = await stint(["history"], { env: b.env });
            assert.equal(r.code, 1, r.stdout);
            assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
            assert.match(r.stderr, /^stint: Cannot restore the store from/);
            assert.throws(() => Deno.statSync(b.db), Deno.errors.NotFound);
            relay.start();
            const runs = await history(b);
            assert.deepEqual(runs.map((x) => x.command), [
              "sh -c 'echo team-run'",
            ]);
          } finally {
            relay.stop();
          }
        },
      );

      await t.step({
        name: SWIFT
          ? "a first restore with a wrong secret key leaves no file either (Swift)"
          : "a first restore with a wrong secret key (Swift only: fauxqs ignores signatures)",
        ignore: !SWIFT,
        fn: async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket);
          await ok(a, ["exec", "--", "true"]);
          const b = host(s3, bucket, {
            AWS_SECRET_ACCESS_KEY: `wrong-${crypto.randomUUID()}`,
          });
          const r = await stint(["vars", "list"], { env: b.env });
          assert.equal(r.code, 1, r.stdout);
          assert.match(r.stderr, /SignatureDoesNotMatch/);
          assert.throws(() => Deno.statSync(b.db), Deno.errors.NotFound);
        },
      });

      await t.step(
        "a run on a new machine with the endpoint down still runs; the restore it owes happens later",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket);
          await ok(a, ["exec", "--", "sh", "-c", "echo team-run"]);
          const relay = new Relay(s3.endpoint).start();
          try {
            const c = host(s3, bucket, { STINT_S3_ENDPOINT: relay.url });
            relay.stop();
            const r = await stint(["exec", "--", "sh", "-c", "exit 7"], {
              env: c.env,
            });
            assert.equal(r.code, 7, "the task's exit code");
            relay.start();
            const runs = await history(c);
            assert.deepEqual(
              runs.map((x) => x.command).sort(),
              ["sh -c 'echo team-run'", "sh -c 'exit 7'"],
            );
            // Owed once, done once: a later read does not pull again.
            assert.throws(() => Deno.statSync(`${c.db}.restore-pending`));
          } finally {
            relay.stop();
          }
        },
      );

      await t.step(
        "an endpoint that accepts and never answers delays a run's start and end by at most the deadline",
        async () => {
          const bucket = await s3.newBucket();
          const server = silentServer();
          try {
            const a = host(s3, bucket);
            await ok(a, ["vars", "set", "seed", "1", "--global"]);
            const silent = {
              ...a.env,
              STINT_S3_ENDPOINT: server.url,
              STINT_SYNC_DEADLINE: "1",
            };
            const started = Date.now();
            const r = await stint(
              ["exec", "--", "sh", "-c", "date +%s%3N; exit 3"],
              { env: silent },
            );
            const ended = Date.now();
            assert.equal(r.code, 3, r.stderr);
            const ranAt = Number(r.stdout.trim());
            // Hang guards, not benchmarks: without a deadline each wait was 15 s.
            assert.ok(
              ranAt - started < 5_000,
              `started ${ranAt - started} ms late`,
            );
            assert.ok(ended - started < 10_000, `took ${ended - started} ms`);
            const t0 = Date.now();
            await ok({ ...a, env: silent }, [
              "vars",
              "set",
              "k",
              "v",
              "--global",
            ]);
            assert.ok(
              Date.now() - t0 < 6_000,
              `vars set took ${Date.now() - t0} ms`,
            );
            // What could not be pushed goes with the next push that can.
            await ok(a, ["sync", "push"]);
            const b = host(s3, bucket);
            assert.equal(await ok(b, ["vars", "get", "k"]), "v\n");
          } finally {
            await server.close();
          }
        },
      );

      await t.step(
        "a running run of a host that goes silent shows as lost elsewhere, and running again when it is back",
        async () => {
          const bucket = await s3.newBucket();
          const fast = { STINT_FLUSH_INTERVAL: "0.3" };
          const a = host(s3, bucket, fast), b = host(s3, bucket, fast);
          await ok(b, ["vars", "set", "seed", "1", "--global"]);
          const child = spawnStint(
            ["exec", "--name", "live:job", "--", "sleep", "60"],
            { env: a.env },
          );
          try {
            const status = async () => {
              await ok(b, ["sync", "pull"]);
              return (await history(b)).find((r) => r.command === "sleep 60");
            };
            await waitFor(async () => (await status())?.status === "running", {
              timeoutMs: 20_000,
              intervalMs: 300,
              what: "the run to reach the other host",
            });
            Deno.kill(child.pid, "SIGSTOP"); // the host goes silent
            const lost = await waitFor(async () => {
              const r = await status();
              return r?.status === "lost" ? r : null;
            }, {
              timeoutMs: 20_000,
              intervalMs: 300,
              what: "the run to read lost",
            });
            assert.match(lost?.error ?? "", /silent since/);
            Deno.kill(child.pid, "SIGCONT"); // ... and comes back
            await waitFor(async () => (await status())?.status === "running", {
              timeoutMs: 20_000,
              intervalMs: 300,
              what: "the run to read running again",
            });
          } finally {
            try {
              Deno.kill(child.pid, "SIGCONT");
              child.kill("SIGTERM");
            } catch {
              // already gone
            }
            await child.status;
            await child.stdout.cancel().catch(() => {});
            await child.stderr.cancel().catch(() => {});
          }
          await ok(b, ["sync", "pull"]);
          const end = (await history(b)).find((r) => r.command === "sleep 60");
          assert.equal(end?.status, "killed");
        },
      );
    }),
});
