/**
 * Retention with a bucket (fauxqs, or Swift with STINT_TEST_SWIFT=1): a
 * prune on one host is a set of tombstones that every host applies, so all
 * of them (and a new one restored from the bucket) end with the same
 * history; a run still running on another host is never pruned.
 */
import assert from "node:assert/strict";
import { stint, type TempState, waitFor } from "./support/cli.ts";
import {
  dumpReplicated,
  okStint as ok,
  syncHost as host,
  withSyncS3,
} from "./support/sync_host.ts";

const SLOW = { sanitizeOps: false, sanitizeResources: false };

interface Run {
  id: string;
  ref: string;
  status: string;
  host_id: string;
}

async function runs(st: TempState): Promise<Run[]> {
  return JSON.parse(await ok(st, ["history", "--all", "--json"])) as Run[];
}

function idsOf(list: Run[]): string[] {
  return list.map((r) => r.id).sort();
}

Deno.test({
  name:
    "prune syncs: one host prunes by count and ref, every host converges on the pruned history; another host's running run stays",
  ...SLOW,
  fn: () =>
    withSyncS3(async (s3) => {
      const bucket = await s3.newBucket();
      const a = host(s3, bucket);
      const b = host(s3, bucket);
      for (let i = 0; i < 3; i++) {
        await ok(a, ["exec", "--name", "p:a", "--", "echo", `a${i}`]);
      }
      await ok(a, ["exec", "--name", "p:b", "--", "echo", "b"]);
      await ok(b, ["sync", "pull"]);
      // A run of p:a that is still running on host b, pushed by b.
      const bg = (await ok(b, [
        "exec",
        "--name",
        "p:a",
        "-b",
        "--",
        "sleep",
        "60",
      ])).trim();
      try {
        const running = (await waitFor(async () =>
          (await runs(b)).find((r) => r.ref === "p:a" && r.status === "running")
        ))!;
        await ok(b, ["sync", "push"]);
        await ok(a, ["sync", "pull"]);
        assert.ok(
          (await runs(a)).some((r) =>
            r.id === running.id
          ),
          "a sees b's running run",
        );

        const pruned = JSON.parse(
          await ok(a, [
            "history",
            "prune",
            "--ref",
            "p:a",
            "--keep",
            "0",
            "--yes",
            "--json",
          ]),
        );
        assert.equal(pruned.runs, 3, "a's three finished runs of p:a");
        await ok(b, ["sync", "pull"]);
        const onA = await runs(a);
        const onB = await runs(b);
        assert.deepEqual(idsOf(onB), idsOf(onA));
        assert.deepEqual(
          onA.filter((r) => r.ref === "p:a").map((r) => r.id),
          [running.id],
          "only the running run of p:a is left",
        );
        assert.equal(onA.filter((r) => r.ref === "p:b").length, 1);

        // A new machine restored from the bucket has the same history.
        const c = host(s3, bucket);
        assert.deepEqual(idsOf(await runs(c)), idsOf(onA));
      } finally {
        await stint(["bg", "kill", bg], { env: b.env });
      }
    }),
});

Deno.test({
  name:
    "prune syncs: a host prunes another host's old runs by age; that host deletes them too, and pushes after the prune do not bring them back",
  ...SLOW,
  fn: () =>
    withSyncS3(async (s3) => {
      const bucket = await s3.newBucket();
      const a = host(s3, bucket);
      const b = host(s3, bucket);
      await ok(b, ["exec", "--name", "q:old", "--", "echo", "1"]);
      await ok(b, ["exec", "--name", "q:old", "--", "echo", "2"]);
      await new Promise((r) => setTimeout(r, 1500));
      await ok(b, ["exec", "--name", "q:new", "--", "echo", "3"]);
      await ok(a, ["sync", "pull"]);
      const before = await runs(a);
      assert.equal(before.length, 3);

      const r = JSON.parse(
        await ok(a, [
          "history",
          "prune",
          "--older-than",
          "1s",
          "--yes",
          "--json",
        ]),
      );
      // The runs started 1.5 s or more ago go; the newest (about as old
      // as the prune's own start) may too: every host must agree either way.
      assert.ok(r.runs >= 2, `pruned ${r.runs}`);
      await ok(b, ["sync", "pull"]);
      assert.deepEqual(idsOf(await runs(b)), idsOf(await runs(a)));
      assert.ok(!(await runs(b)).some((x) => x.ref === "q:old"));

      // b keeps working and pushing (a compaction included): the pruned
      // runs stay pruned everywhere.
      await ok(b, ["exec", "--name", "q:later", "--", "echo", "4"]);
      await ok(b, ["sync", "push", "--compact"]);
      await ok(a, ["sync", "pull"]);
      assert.deepEqual(idsOf(await runs(b)), idsOf(await runs(a)));
      const c = host(s3, bucket);
      await ok(c, ["sync", "restore"]);
      assert.deepEqual(idsOf(await runs(c)), idsOf(await runs(a)));
      assert.ok(!(await runs(c)).some((x) => x.ref === "q:old"));
      // The replicated rows agree too (tombstones included).
      assert.equal(dumpReplicated(b.db), dumpReplicated(a.db));
    }),
});
