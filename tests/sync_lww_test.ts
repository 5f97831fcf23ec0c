/**
 * Last-writer-wins as people see it, with real stint processes against a
 * real S3 endpoint (fauxqs, or Swift with STINT_TEST_SWIFT=1): expiry and
 * pruning leave tombstones, and hosts whose clocks disagree (libfaketime)
 * still order writes and deletes by when they happened.
 */
import assert from "node:assert/strict";
import { stint } from "./support/cli.ts";
import { HAS_FAKETIME, skewedBy } from "./support/faketime.ts";
import { dumpReplicated } from "./support/memory_sync.ts";
import { openSqlite } from "../src/store/sqlite.ts";
import {
  okStint as ok,
  type SyncHost,
  syncHost as host,
  withSyncS3,
} from "./support/sync_host.ts";

const SLOW = { sanitizeOps: false, sanitizeResources: false };
const SWIFT = Deno.env.get("STINT_TEST_SWIFT") === "1";
// Swift checks SigV4, which refuses a clock more than 15 minutes off; fauxqs
// takes anything, so there the skew is an hour each way.
const AHEAD = SWIFT ? "+5m" : "+1h";
const BEHIND = SWIFT ? "-5m" : "-1h";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each host's measured clock bounds and its row of `k`, for a failure message. */
function clockFacts(hosts: SyncHost[]): string {
  return hosts.map((h) => {
    const db = openSqlite(h.db, { timeoutMs: 5000, readOnly: true });
    try {
      const bounds = db.prepare(
        "SELECT value FROM meta WHERE key = 'clock.offset_bounds'",
      ).get()?.value;
      const k = db.prepare(
        "SELECT value, updated_at, origin FROM vars WHERE key = 'k'",
      ).get();
      return `bounds ${bounds}, k ${JSON.stringify(k)}`;
    } finally {
      db.close();
    }
  }).join("; ");
}

async function cacheGet(st: SyncHost, key: string) {
  return await stint(["cache", "get", key], { env: st.env, wrap: st.wrap });
}

Deno.test({
  name: "sync: last writer wins by real order",
  ...SLOW,
  fn: (t) =>
    withSyncS3(async (s3) => {
      await t.step(
        "an overwritten cache value does not come back after the newer one expires and is pruned",
        async () => {
          const bucket = await s3.newBucket();
          const h1 = host(s3, bucket), h2 = host(s3, bucket);
          await ok(h2, ["vars", "set", "seed", "1", "--global"]);
          await ok(h1, ["cache", "set", "k", "OLD"]);
          // h2 has not seen OLD; its write is later and expires.
          await ok(h2, ["cache", "set", "k", "NEW", "--ttl", "2s"]);
          await sleep(3000);
          await ok(h2, ["cache", "set", "other", "y"]); // prunes the expired k
          for (const st of [h2, h1, h2]) await ok(st, ["sync", "pull"]);
          const h3 = host(s3, bucket);
          for (const st of [h1, h2, h3]) {
            const r = await cacheGet(st, "k");
            assert.equal(
              r.code,
              1,
              `k came back as ${JSON.stringify(r.stdout)}`,
            );
          }
          assert.equal(dumpReplicated(h1.db), dumpReplicated(h2.db));
        },
      );

      await t.step({
        name: HAS_FAKETIME
          ? `a later write wins although its host's clock is behind (${AHEAD} / ${BEHIND}, libfaketime)`
          : "a later write wins under clock skew (needs faketime; not installed)",
        ignore: !HAS_FAKETIME,
        fn: async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket, {}, { wrap: skewedBy(AHEAD) });
          const b = host(s3, bucket, {}, { wrap: skewedBy(BEHIND) });
          const c = host(s3, bucket);
          // Each host talks to the bucket a few times first (it learns the
          // bucket's clock from its responses).
          for (let i = 0; i < 3; i++) {
            for (const st of [a, b, c]) await ok(st, ["sync", "pull"]);
          }
          await ok(a, ["vars", "set", "k", "from-a", "--global"]);
          await sleep(1000);
          await ok(b, ["vars", "set", "k", "from-b", "--global"]);
          for (const st of [a, b, c]) await ok(st, ["sync", "pull"]);
          for (const st of [a, b, c]) {
            assert.equal(
              await ok(st, ["vars", "get", "k"]),
              "from-b\n",
              clockFacts([a, b, c]),
            );
          }
        },
      });

      await t.step({
        name: HAS_FAKETIME
          ? `history clear on a host whose clock is behind deletes the runs everywhere (${AHEAD} / ${BEHIND}, libfaketime)`
          : "history clear under clock skew (needs faketime; not installed)",
        ignore: !HAS_FAKETIME,
        fn: async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket, {}, { wrap: skewedBy(AHEAD) });
          const b = host(s3, bucket, {}, { wrap: skewedBy(BEHIND) });
          const c = host(s3, bucket);
          for (const st of [a, b, c]) await ok(st, ["sync", "pull"]);
          for (let i = 0; i < 2; i++) {
            await ok(a, ["exec", "--name", "skew:job", "--", "true"]);
          }
          await ok(b, ["sync", "pull"]);
          await ok(b, ["history", "clear", "skew:job", "--yes"]);
          for (const st of [a, c, b]) await ok(st, ["sync", "pull"]);
          const d = host(s3, bucket);
          for (const st of [a, b, c, d]) {
            const runs = JSON.parse(await ok(st, ["history", "--json"]));
            assert.deepEqual(runs, [], `${runs.length} run(s) left`);
          }
        },
      });
    }),
});
