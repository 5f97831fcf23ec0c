/**
 * Eight hosts, one bucket, a few hundred random operations interleaved —
 * var writes and deletes, cache writes with and without TTLs (expiring and
 * pruned while the test runs), cache deletes, runs, history clears, pushes,
 * compactions and pulls — with real stint processes against a real S3
 * endpoint (fauxqs, or Swift with STINT_TEST_SWIFT=1), two of the hosts with
 * their clocks off (libfaketime, where installed). After every host pushed
 * and pulled once more, every host, and a new one restored from the bucket,
 * must hold exactly the same replicated rows.
 *
 * The operations come from a seeded generator; a failure names the seed
 * (`STINT_TEST_SEED=<n>` replays it).
 */
import assert from "node:assert/strict";
import { stint } from "./support/cli.ts";
import { HAS_FAKETIME, skewedBy } from "./support/faketime.ts";
import {
  dumpReplicated,
  okStint as ok,
  type SyncHost,
  syncHost as host,
  withSyncS3,
} from "./support/sync_host.ts";

const HOSTS = 8;
const OPS_PER_HOST = 30;

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One random operation: the arguments and the exit codes that are fine. */
function operation(
  rand: () => number,
  n: number,
): { args: string[]; codes: number[] } {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const key = pick(["a", "b", "c", "d", "e"]);
  const ref = pick(["conv:x", "conv:y"]);
  const r = rand();
  if (r < 0.2) {
    return {
      args: ["vars", "set", `v-${key}`, `val-${n}`, "--global"],
      codes: [0],
    };
  }
  if (r < 0.28) {
    return { args: ["vars", "unset", `v-${key}`, "--global"], codes: [0, 1] };
  }
  if (r < 0.45) {
    const ttl = pick([[], ["--ttl", "1s"], ["--ttl", "3s"]]);
    return {
      args: ["cache", "set", `c-${key}`, `val-${n}`, ...ttl],
      codes: [0],
    };
  }
  if (r < 0.52) return { args: ["cache", "delete", `c-${key}`], codes: [0, 1] };
  if (r < 0.57) return { args: ["cache", "list"], codes: [0] };
  if (r < 0.7) {
    return { args: ["exec", "--name", ref, "--", "true"], codes: [0] };
  }
  if (r < 0.75) {
    return { args: ["history", "clear", ref, "--yes"], codes: [0, 1] };
  }
  if (r < 0.85) return { args: ["sync", "pull"], codes: [0] };
  if (r < 0.97) return { args: ["sync", "push"], codes: [0] };
  return { args: ["sync", "push", "--compact"], codes: [0] };
}

async function run(
  st: SyncHost,
  args: string[],
  codes: number[],
  seed: number,
): Promise<void> {
  const r = await stint(args, { env: st.env, wrap: st.wrap });
  assert.ok(
    codes.includes(r.code),
    `stint ${args.join(" ")} exited ${r.code} (seed ${seed}): ${r.stderr}`,
  );
}

Deno.test({
  name: `sync: ${HOSTS} hosts, ${HOSTS * OPS_PER_HOST} random operations, ${
    HAS_FAKETIME
      ? "two clocks off by minutes,"
      : "(faketime not installed: no clock skew)"
  } identical in the end`,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withSyncS3(async (s3) => {
      const seed = Number(Deno.env.get("STINT_TEST_SEED") ?? Date.now() % 1e9);
      const bucket = await s3.newBucket();
      const skews = HAS_FAKETIME ? ["+3m", "-3m"] : [];
      const hosts = Array.from({ length: HOSTS }, (_, i) =>
        host(s3, bucket, {}, {
          wrap: skews[i] ? skewedBy(skews[i]) : undefined,
        }));
      // Each host works through its own random operations; the hosts run at
      // the same time, so pushes and pulls interleave however they happen to.
      await Promise.all(hosts.map(async (st, i) => {
        const rand = generator(seed + i);
        for (let n = 0; n < OPS_PER_HOST; n++) {
          const op = operation(rand, i * 1000 + n);
          await run(st, op.args, op.codes, seed);
        }
      }));
      for (const st of hosts) await ok(st, ["sync", "push"]);
      for (const st of hosts) await ok(st, ["sync", "pull"]);
      const fresh = host(s3, bucket);
      await ok(fresh, ["sync", "restore"]);
      const want = dumpReplicated(hosts[0].db);
      for (const st of [...hosts.slice(1), fresh]) {
        assert.equal(
          dumpReplicated(st.db),
          want,
          `${st.db} differs from ${hosts[0].db} (seed ${seed})`,
        );
      }
      // Something must have happened for "identical" to mean anything (a
      // cleared run leaves a tombstone, an expired entry may leave one too).
      const rows = JSON.parse(want);
      assert.ok(
        rows.executions.length + rows.tombstones.length > 0 &&
          rows.vars.length + rows.cache.length + rows.tombstones.length > 0,
        `nothing was replicated (seed ${seed}): a weak test`,
      );
    }),
});
