/**
 * `stint sync gc` against a real S3 endpoint (fauxqs, or Swift with
 * STINT_TEST_SWIFT=1), with a grace period of a few seconds: a blob a run
 * on either host still names stays, an unreferenced young one stays, an
 * unreferenced old one goes; two hosts collecting at once agree; and gc
 * racing pushes that reuse an old blob loses nothing a run names.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { stint, type TempState } from "./support/cli.ts";
import { stallingRelay } from "./support/relay.ts";
import { openSqlite } from "../src/store/sqlite.ts";
import {
  listKeys,
  okStint as ok,
  syncHost,
  withSyncS3,
} from "./support/sync_host.ts";
import type { S3Endpoint } from "./support/s3.ts";

const SLOW = { sanitizeOps: false, sanitizeResources: false };

function blobKey(content: string): string {
  return `stint/logs/${createHash("sha256").update(content).digest("hex")}.gz`;
}

function host(s3: S3Endpoint, bucket: string, graceS: number): TempState {
  return syncHost(s3, bucket, { STINT_GC_GRACE: `${graceS}s` });
}

async function idOf(st: TempState, ref: string): Promise<string> {
  const runs = JSON.parse(
    await ok(st, ["history", ref, "--all", "--json"]),
  ) as { id: string }[];
  assert.equal(runs.length, 1, `one run of ${ref}`);
  return runs[0].id;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name:
    "sync gc: a blob another host's run still names stays, an unreferenced young one stays, an unreferenced old one goes; two hosts at once",
  ...SLOW,
  fn: () =>
    withSyncS3(async (s3) => {
      const bucket = await s3.newBucket();
      const GRACE = 4;
      const a = host(s3, bucket, GRACE);
      const b = host(s3, bucket, GRACE);
      await ok(a, ["exec", "--name", "g:alpha", "--", "printf", "alpha"]);
      await ok(a, ["exec", "--name", "g:shared", "--", "printf", "shared"]);
      await ok(b, ["exec", "--name", "g:b-shared", "--", "printf", "shared"]);
      await ok(b, ["exec", "--name", "g:bee", "--", "printf", "bee"]);
      await ok(a, ["sync", "pull"]);
      // a's runs of alpha and shared go; b's run still names "shared".
      await ok(a, [
        "history",
        "prune",
        "--ref",
        "g:alpha",
        "--keep",
        "0",
        "--yes",
      ]);
      await ok(a, [
        "history",
        "prune",
        "--ref",
        "g:shared",
        "--keep",
        "0",
        "--yes",
      ]);
      await sleep(GRACE * 1000 + 1500);
      // Unreferenced, but uploaded just now.
      await ok(a, ["exec", "--name", "g:young", "--", "printf", "young"]);
      await ok(a, [
        "history",
        "prune",
        "--ref",
        "g:young",
        "--keep",
        "0",
        "--yes",
      ]);
      const keys = await listKeys(s3, bucket);
      for (const c of ["alpha", "shared", "bee", "young"]) {
        assert.ok(keys.includes(blobKey(c)), `${c} was uploaded`);
      }

      const dry = JSON.parse(
        await ok(a, ["sync", "gc", "--dry-run", "--json"]),
      );
      assert.equal(dry.dry_run, true);
      assert.equal(dry.deleted_blobs, 1);
      assert.equal(
        (await listKeys(s3, bucket)).length,
        keys.length,
        "a dry run deletes nothing",
      );
      const r = JSON.parse(await ok(a, ["sync", "gc", "--json"]));
      assert.deepEqual(
        [r.blobs, r.referenced, r.young, r.deleted_blobs],
        [4, 2, 1, 1],
        JSON.stringify(r),
      );
      assert.ok(r.blob_bytes > 0 && r.freed_bytes >= r.blob_bytes);
      assert.equal(r.skipped, null);
      const after = await listKeys(s3, bucket);
      assert.ok(
        !after.includes(blobKey("alpha")),
        "old and unreferenced: gone",
      );
      assert.ok(after.includes(blobKey("shared")), "b's run names it: kept");
      assert.ok(after.includes(blobKey("bee")), "b's run names it: kept");
      assert.ok(after.includes(blobKey("young")), "young: kept");
      const text = await ok(a, ["sync", "gc"]);
      assert.match(
        text,
        /^Deleted 0 log blob\(s\) \(0 B\) .* kept 2 blob\(s\) runs still name and 1 unreferenced one\(s\) younger than 4s\n$/,
      );

      // Later both hosts collect at the same time: "young" is old now.
      await ok(b, ["sync", "pull"]);
      await sleep(GRACE * 1000 + 500);
      const both = await Promise.all(
        [a, b].map((h) => stint(["sync", "gc", "--json"], { env: h.env })),
      );
      for (const x of both) assert.equal(x.code, 0, x.stderr);
      const last = await listKeys(s3, bucket);
      assert.ok(!last.includes(blobKey("young")));
      assert.ok(last.includes(blobKey("shared")));
      assert.ok(last.includes(blobKey("bee")));

      // A new machine reads every log a run still names.
      const c = host(s3, bucket, GRACE);
      const shared = await idOf(c, "g:b-shared");
      assert.equal(await ok(c, ["logs", shared]), "shared");
      assert.equal(await ok(c, ["logs", await idOf(c, "g:bee")]), "bee");
    }),
});

/** A host's id, read from its store. */
function hostIdOf(st: TempState): string {
  const db = openSqlite(st.db, { timeoutMs: 5000, readOnly: true });
  try {
    return String(
      db.prepare("SELECT value FROM meta WHERE key = 'host_id'").get()?.value,
    );
  } finally {
    db.close();
  }
}

/**
 * A fresh bucket with hosts a and b, and the blob of `content` uploaded by
 * b, unreferenced (its run pruned) and older than the grace period.
 */
async function withOldBlob(
  s3: S3Endpoint,
  content: string,
  graceS: number,
): Promise<{ bucket: string; a: TempState; b: TempState }> {
  const bucket = await s3.newBucket();
  const a = host(s3, bucket, graceS);
  const b = host(s3, bucket, graceS);
  await ok(b, ["exec", "--name", "race:seed", "--", "printf", content]);
  await ok(b, [
    "history",
    "prune",
    "--ref",
    "race:seed",
    "--keep",
    "0",
    "--yes",
  ]);
  await ok(a, ["sync", "pull"]);
  await sleep(graceS * 1000 + 700);
  return { bucket, a, b };
}

/** b records a run printing `content` without pushing it (sync off for it). */
async function recordLocally(b: TempState, content: string): Promise<string> {
  await stint(["exec", "--name", "race:b", "--", "printf", content], {
    env: { ...b.env, STINT_BUCKET: "" },
  });
  return await idOf(b, "race:b");
}

/** Wait for the relay to hold a request, or fail if `cmd` ends first. */
async function whenHeld(
  held: Promise<void>,
  cmd: Promise<{ code: number; stderr: string }>,
  what: string,
): Promise<void> {
  await Promise.race([
    held,
    cmd.then((r) => {
      throw new Error(
        `${what} ended (exit ${r.code}) before the relay held its request: ${r.stderr}`,
      );
    }),
  ]);
}

/** A new machine restored from `bucket` prints the run's log. */
async function logOnNewHost(
  s3: S3Endpoint,
  bucket: string,
  id: string,
): Promise<string> {
  const c = host(s3, bucket, 2);
  const r = await stint(["logs", id], { env: c.env });
  assert.equal(r.code, 0, `the log of ${id} is gone: ${r.stderr}`);
  return r.stdout;
}

Deno.test({
  name:
    "sync gc racing a push that reuses an old, unreferenced blob: nothing a run names is lost, whichever way they interleave",
  ...SLOW,
  fn: (t) =>
    withSyncS3(async (s3) => {
      const GRACE = 2;
      await t.step(
        "gc runs while the push's record is on its way: the blob the push uploaded again is young, kept",
        async () => {
          const { bucket, a, b } = await withOldBlob(s3, "same-1", GRACE);
          const id = await recordLocally(b, "same-1");
          const relay = stallingRelay(s3.endpoint);
          try {
            const held = relay.stall(
              new RegExp(
                `^PUT /${bucket}/stint/hosts/${hostIdOf(b)}/seg/[^ ]+ HTTP`,
              ),
              "request",
            );
            const push = stint(["sync", "push"], {
              env: { ...b.env, STINT_S3_ENDPOINT: relay.url },
            });
            await whenHeld(held, push, "the push");
            const gc = JSON.parse(await ok(a, ["sync", "gc", "--json"]));
            assert.equal(gc.deleted_blobs, 0, JSON.stringify(gc));
            assert.equal(gc.young, 1);
            relay.release();
            assert.equal((await push).code, 0);
          } finally {
            await relay.close();
          }
          assert.equal(await logOnNewHost(s3, bucket, id), "same-1");
        },
      );

      await t.step(
        "gc deletes the old blob while the push is uploading it again: the upload lands after, the log is there",
        async () => {
          const { bucket, a, b } = await withOldBlob(s3, "same-2", GRACE);
          const id = await recordLocally(b, "same-2");
          const relay = stallingRelay(s3.endpoint);
          try {
            const held = relay.stall(
              new RegExp(`^PUT /${bucket}/${blobKey("same-2")}[^ ]* HTTP`),
              "request",
            );
            const push = stint(["sync", "push"], {
              env: { ...b.env, STINT_S3_ENDPOINT: relay.url },
            });
            await whenHeld(held, push, "the push");
            const gc = JSON.parse(await ok(a, ["sync", "gc", "--json"]));
            assert.equal(gc.deleted_blobs, 1, "old and unreferenced then");
            relay.release();
            assert.equal((await push).code, 0);
          } finally {
            await relay.close();
          }
          assert.equal(await logOnNewHost(s3, bucket, id), "same-2");
        },
      );

      await t.step(
        "gc's delete is held up past the whole push: the push's later check uploads the blob again",
        async () => {
          const { bucket, a, b } = await withOldBlob(s3, "same-3", GRACE);
          const id = await recordLocally(b, "same-3");
          const relay = stallingRelay(s3.endpoint);
          try {
            const held = relay.stall(
              new RegExp(`^POST /${bucket}/?\\?delete`),
              "request",
            );
            const gc = stint(["sync", "gc"], {
              env: { ...a.env, STINT_S3_ENDPOINT: relay.url },
            });
            await whenHeld(held, gc, "gc");
            // The whole push happens while gc's delete is on its way.
            await ok(b, ["sync", "push"]);
            relay.release();
            assert.equal((await gc).code, 0);
          } finally {
            await relay.close();
          }
          assert.ok(
            !(await listKeys(s3, bucket)).includes(blobKey("same-3")),
            "the late delete landed",
          );
          // The next push after the recheck delay puts it back.
          await sleep(GRACE * 500 + 300);
          await ok(b, ["sync", "push"]);
          assert.equal(await logOnNewHost(s3, bucket, id), "same-3");
        },
      );
    }),
});
