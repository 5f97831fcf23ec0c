/**
 * A bucket that cannot hurt us, with real stint processes against a real S3
 * endpoint (fauxqs, or Swift with STINT_TEST_SWIFT=1): garbage is not
 * downloaded again and again, damage is reported by stint status and kept
 * until it is gone, a missing segment does not hold back later ones, and a
 * clock the server refuses is named.
 */
import assert from "node:assert/strict";
import { stint } from "./support/cli.ts";
import { HAS_FAKETIME, skewedBy } from "./support/faketime.ts";
import { Relay } from "./support/relay.ts";
import { putRaw, type S3Endpoint, sdkClient } from "./support/s3.ts";
import {
  listKeys,
  okStint as ok,
  type SyncHost,
  syncHost as host,
  withSyncS3,
} from "./support/sync_host.ts";

const SLOW = { sanitizeOps: false, sanitizeResources: false };
const SWIFT = Deno.env.get("STINT_TEST_SWIFT") === "1";
const MiB = 1024 * 1024;

/** Put raw bytes under `key` (no stint metadata), as anyone with access could. */
function plant(
  s3: S3Endpoint,
  bucket: string,
  key: string,
  body: Uint8Array,
  metadata: Record<string, string> = {},
): Promise<void> {
  return putRaw(s3, { bucket, key }, { body, metadata });
}

async function remove(s3: S3Endpoint, bucket: string, key: string) {
  const { sdk, client } = await sdkClient(s3);
  try {
    await client.send(
      new sdk.DeleteObjectCommand({ Bucket: bucket, Key: key }),
    );
  } finally {
    client.destroy();
  }
}

function noise(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

async function statusProbe(st: SyncHost, name: string) {
  const r = await stint(["status", "--json"], { env: st.env });
  return {
    code: r.code,
    probe: JSON.parse(r.stdout).probes.find((p: { name: string }) =>
      p.name === name
    ),
  };
}

Deno.test({
  name: "sync: a bucket that cannot hurt us",
  ...SLOW,
  fn: (t) =>
    withSyncS3(async (s3) => {
      await t.step(
        "a garbage snapshot is not downloaded by every pull (refused objects are remembered by key and etag)",
        async () => {
          const bucket = await s3.newBucket();
          const relay = new Relay(s3.endpoint).start();
          try {
            const a = host(s3, bucket, { STINT_S3_ENDPOINT: relay.url });
            await ok(a, ["vars", "set", "mine", "1", "--global"]);
            // No stint metadata at all: refused on a HEAD, never downloaded.
            // (fauxqs takes at most 11 MiB in one request.)
            await plant(
              s3,
              bucket,
              "stint/hosts/fake-00big/snap.db",
              noise(10 * MiB),
            );
            // Claims to be stint's: downloaded once, refused, remembered.
            await plant(
              s3,
              bucket,
              "stint/hosts/fake-00bad/snap.db",
              noise(8 * MiB),
              {
                "stint-sha256": "0".repeat(64),
                "stint-host": "fake-00bad",
                "stint-seq": "5",
              },
            );
            const pulls: number[] = [];
            for (let i = 0; i < 3; i++) {
              const before = relay.down;
              const r = await stint(["sync", "pull"], { env: a.env });
              assert.equal(r.code, 1, "a refused object is still reported");
              assert.match(r.stderr, /fake-00big/);
              pulls.push(relay.down - before);
            }
            assert.ok(
              pulls[0] < 14 * MiB,
              `the first pull read ${pulls[0]} bytes`,
            );
            assert.ok(pulls[1] < MiB, `the second pull read ${pulls[1]} bytes`);
            assert.ok(pulls[2] < MiB, `the third pull read ${pulls[2]} bytes`);
            const before = relay.down;
            await ok(a, ["exec", "--", "true"]);
            assert.ok(
              relay.down - before < MiB,
              "a run downloaded the garbage",
            );
            assert.equal(await ok(a, ["vars", "get", "mine"]), "1\n");
            // A new machine refuses them too, and restores what is good.
            const b = host(s3, bucket, { STINT_S3_ENDPOINT: relay.url });
            const r = await stint(["sync", "restore"], { env: b.env });
            assert.equal(r.code, 1, r.stderr);
            assert.equal(await ok(b, ["vars", "get", "mine"]), "1\n");
          } finally {
            relay.stop();
          }
        },
      );

      await t.step(
        "stint status reports a damaged bucket (corrupt, foreign, missing) and pull failures stay until a pull succeeds",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket), b = host(s3, bucket);
          await ok(b, ["vars", "set", "seed", "1", "--global"]);
          const seeded = new Set(await listKeys(s3, bucket));
          for (const k of ["k1", "k2", "k3"]) {
            await ok(a, ["vars", "set", k, "v", "--global"]);
          }
          const healthy = await statusProbe(b, "bucket");
          assert.equal(healthy.probe.ok, true, healthy.probe.detail);
          // Garbage folders and files, and a segment whose bytes are bad.
          await plant(
            s3,
            bucket,
            "stint/hosts/garbage-folder/readme.txt",
            noise(10),
          );
          await plant(s3, bucket, "stint/notes.txt", noise(10));
          const bad = (await listKeys(s3, bucket)).filter((k) =>
            k.includes("/seg/") && !seeded.has(k)
          ).sort().at(-1)!;
          await plant(s3, bucket, bad, noise(200), {
            "stint-sha256": "0".repeat(64),
          });
          const pull = await stint(["sync", "pull"], { env: b.env });
          assert.equal(pull.code, 1);
          const st = await statusProbe(b, "bucket");
          assert.equal(st.code, 1);
          assert.equal(st.probe.ok, false);
          assert.equal(st.probe.foreign, 2, st.probe.detail);
          assert.match(
            String(st.probe.first_foreign),
            /garbage-folder|notes\.txt/,
          );
          assert.equal(st.probe.corrupt, 1, st.probe.detail);
          assert.ok(String(st.probe.first_corrupt).startsWith(bad.slice(6)));
          assert.match(st.probe.detail, /corrupt/);
          const hosts = await statusProbe(b, "hosts");
          assert.ok(
            !hosts.probe.hosts.some((h: { host_id: string }) =>
              h.host_id === "garbage-folder"
            ),
            "a garbage folder is listed as a host",
          );
          // A run's pull records the failure; a push that succeeds does not hide it.
          await ok(b, ["exec", "--", "true"]);
          await ok(b, ["vars", "set", "later", "1", "--global"]);
          const s = JSON.parse(await ok(b, ["sync", "status", "--json"]));
          assert.ok(s.last_errors.pull, JSON.stringify(s));
          assert.match(s.last_errors.pull.message, /corrupt/);
          assert.equal(s.rejected.length, 1);
          // The bucket repaired (the bad segment gone, A compacts): cleared.
          await remove(s3, bucket, bad);
          await remove(s3, bucket, "stint/hosts/garbage-folder/readme.txt");
          await remove(s3, bucket, "stint/notes.txt");
          await ok(a, ["sync", "push", "--compact"]);
          await ok(b, ["sync", "pull"]);
          const fixed = JSON.parse(await ok(b, ["sync", "status", "--json"]));
          assert.equal(
            fixed.last_errors.pull,
            undefined,
            JSON.stringify(fixed),
          );
          assert.equal((await statusProbe(b, "bucket")).probe.ok, true);
        },
      );

      await t.step(
        "a missing segment does not hold back the host's later changes; its snapshot fills the gap",
        async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket), b = host(s3, bucket);
          await ok(b, ["vars", "set", "seed", "1", "--global"]);
          const before = new Set(await listKeys(s3, bucket));
          for (const k of ["k1", "k2", "k3"]) {
            await ok(a, ["vars", "set", k, "v", "--global"]);
          }
          const aSegs = (await listKeys(s3, bucket)).filter((k) =>
            !before.has(k)
          )
            .sort();
          assert.equal(aSegs.length, 3, aSegs.join(","));
          await remove(s3, bucket, aSegs[1]);
          const r = await stint(["sync", "pull", "--json"], { env: b.env });
          assert.equal(r.code, 0, r.stderr);
          assert.match(JSON.parse(r.stdout).problems.join(" "), /missing/);
          assert.equal(await ok(b, ["vars", "get", "k1"]), "v\n");
          assert.equal(
            await ok(b, ["vars", "get", "k3"]),
            "v\n",
            "k3 was held back",
          );
          const gap = await statusProbe(b, "bucket");
          assert.equal(gap.probe.missing, 1, gap.probe.detail);
          await ok(a, ["sync", "push", "--compact"]);
          await ok(b, ["sync", "pull"]);
          assert.equal(await ok(b, ["vars", "get", "k2"]), "v\n");
          assert.equal((await statusProbe(b, "bucket")).probe.ok, true);
        },
      );

      await t.step({
        name: SWIFT && HAS_FAKETIME
          ? "a clock the server refuses (RequestTimeTooSkewed) is named; pushes still get through (Swift, libfaketime)"
          : "a clock the server refuses (needs Swift and faketime: fauxqs ignores signatures)",
        ignore: !(SWIFT && HAS_FAKETIME),
        fn: async () => {
          const bucket = await s3.newBucket();
          const a = host(s3, bucket, {}, { wrap: skewedBy("+1h") });
          const status = await stint(["status", "--json"], {
            env: a.env,
            wrap: a.wrap,
          });
          const probe = JSON.parse(status.stdout).probes.find((
            p: { name: string },
          ) => p.name === "bucket");
          assert.equal(probe.ok, false);
          assert.equal(probe.error, "RequestTimeTooSkewed");
          assert.match(probe.detail, /clock/);
          assert.doesNotMatch(probe.detail, /policy/);
          await ok(a, ["vars", "set", "k", "v", "--global"]);
          const b = host(s3, bucket);
          assert.equal(await ok(b, ["vars", "get", "k"]), "v\n");
        },
      });
    }),
});
