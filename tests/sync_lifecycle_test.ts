/**
 * The sync lifecycle against a real S3 endpoint (fauxqs in-process, or
 * OpenStack Swift with STINT_TEST_SWIFT=1), with real stint processes: what
 * a change of bucket or prefix does to the cursors, when a store file is
 * created, how long an unresponsive endpoint may hold a command, and how
 * other hosts see the runs of a host that went silent.
 */
import assert from "node:assert/strict";
import { stint } from "./support/cli.ts";
import { startS3 } from "./support/s3.ts";
import { okStint as ok, syncHost as host } from "./support/sync_host.ts";

const SLOW = { sanitizeOps: false, sanitizeResources: false };

interface VarRow {
  key: string;
  value: string;
}

Deno.test({
  name: "sync lifecycle",
  ...SLOW,
  fn: async (t) => {
    const s3 = await startS3();
    Deno.env.set("AWS_ACCESS_KEY_ID", s3.accessKeyId);
    Deno.env.set("AWS_SECRET_ACCESS_KEY", s3.secretAccessKey);
    try {
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
    } finally {
      await s3.stop();
    }
  },
});
