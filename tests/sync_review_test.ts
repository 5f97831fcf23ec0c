/**
 * Sync edge cases found in review: real stint processes, real SQLite files,
 * a real S3 endpoint over HTTP (fauxqs in-process; OpenStack Swift with
 * STINT_TEST_SWIFT=1).
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { stint, type TempState, tempState } from "./support/cli.ts";
import { type S3Endpoint, startS3 } from "./support/s3.ts";
import { S3Bucket } from "../src/sync/s3_bucket.ts";
import { openSqlite } from "../src/store/sqlite.ts";

function host(
  s3: S3Endpoint,
  bucket: string,
  extra: Record<string, string> = {},
): TempState {
  const st = tempState("stint-sync-review-");
  st.env = {
    ...st.env,
    ...s3.env,
    STINT_BUCKET: bucket,
    STINT_QUIET: "1",
    ...extra,
  };
  return st;
}

async function ok(st: TempState, args: string[]): Promise<string> {
  const r = await stint(args, { env: st.env });
  assert.equal(
    r.code,
    0,
    `stint ${args.join(" ")} exited ${r.code}: ${r.stderr}`,
  );
  return r.stdout;
}

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

/** The bucket under the default `stint/` prefix, as stint sees it. */
function prefixed(s3: S3Endpoint, bucket: string): S3Bucket {
  return new S3Bucket({
    bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    prefix: "stint/",
  });
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
  const b = prefixed(s3, bucket);
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
  fn: async (t) => {
    const s3 = await startS3();
    Deno.env.set("AWS_ACCESS_KEY_ID", s3.accessKeyId);
    Deno.env.set("AWS_SECRET_ACCESS_KEY", s3.secretAccessKey);
    try {
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
    } finally {
      await s3.stop();
    }
  },
});

export { hostIdOf, putSegment };
