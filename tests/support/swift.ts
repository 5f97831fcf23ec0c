/**
 * OpenStack Swift's s3api as the test S3 endpoint (`STINT_TEST_SWIFT=1`).
 * Swift really checks SigV4, unlike fauxqs, so wrong credentials fail here
 * the way they fail on AWS. The server is started outside the tests
 * (`scripts/swift_s3.sh start`, as .ci/run does); this module reads its
 * endpoint and credentials from `scripts/swift_s3.sh env` (or from the same
 * `SWIFT_S3_*` variables when they are already set), checks it answers, and
 * hands out fresh buckets that {@link S3Endpoint.stop} empties and removes.
 * @module
 */
import { fileURLToPath } from "node:url";
import type { S3Endpoint } from "./s3.ts";
import { randomBucketName } from "./s3.ts";

/** The script that installs, starts and describes the test Swift. */
export const SWIFT_SCRIPT = fileURLToPath(
  new URL("../../scripts/swift_s3.sh", import.meta.url),
);

/** The connection facts `scripts/swift_s3.sh env` prints. */
export interface SwiftEnv {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

const KEYS = [
  "SWIFT_S3_ENDPOINT",
  "SWIFT_S3_REGION",
  "SWIFT_S3_ACCESS_KEY",
  "SWIFT_S3_SECRET_KEY",
] as const;

/**
 * Read the Swift connection facts: from the `SWIFT_S3_*` environment when all
 * four are set, else from `scripts/swift_s3.sh env`.
 */
export async function readSwiftEnv(): Promise<SwiftEnv> {
  const values: Record<string, string> = {};
  for (const k of KEYS) {
    const v = Deno.env.get(k);
    if (v) values[k] = v;
  }
  if (Object.keys(values).length < KEYS.length) {
    const out = await new Deno.Command("bash", {
      args: [SWIFT_SCRIPT, "env"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `scripts/swift_s3.sh env failed: ${
          new TextDecoder().decode(out.stderr).trim()
        }`,
      );
    }
    for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (m) values[m[1]] = m[2];
    }
  }
  for (const k of KEYS) {
    if (!values[k]) throw new Error(`scripts/swift_s3.sh env did not set ${k}`);
  }
  return {
    endpoint: values.SWIFT_S3_ENDPOINT,
    region: values.SWIFT_S3_REGION,
    accessKeyId: values.SWIFT_S3_ACCESS_KEY,
    secretAccessKey: values.SWIFT_S3_SECRET_KEY,
  };
}

// deno-lint-ignore no-explicit-any
type Sdk = any;

async function loadSdk(): Promise<Sdk> {
  const spec = "@aws-sdk/client-s3";
  return await import(spec);
}

function clientFor(sdk: Sdk, env: SwiftEnv): Sdk {
  return new sdk.S3Client({
    endpoint: env.endpoint,
    region: env.region,
    forcePathStyle: true,
    credentials: {
      accessKeyId: env.accessKeyId,
      secretAccessKey: env.secretAccessKey,
    },
  });
}

/**
 * The running test Swift as an {@link S3Endpoint}, with a fresh bucket.
 * Throws one clear line when Swift is not running.
 */
export async function swiftEndpoint(): Promise<S3Endpoint> {
  const env = await readSwiftEnv();
  const sdk = await loadSdk();
  const client = clientFor(sdk, env);
  try {
    await client.send(new sdk.ListBucketsCommand({}));
  } catch (err) {
    client.destroy();
    const why = err instanceof Error
      ? `${err.name}: ${err.message}`
      : String(err);
    throw new Error(
      `Swift at ${env.endpoint} does not answer S3 requests (${why}); run "scripts/swift_s3.sh start"`,
    );
  }
  const created: string[] = [];
  async function newBucket(name?: string): Promise<string> {
    const b = name ?? randomBucketName();
    await client.send(new sdk.CreateBucketCommand({ Bucket: b }));
    created.push(b);
    return b;
  }
  const bucket = await newBucket();
  let stopped = false;
  return {
    endpoint: env.endpoint,
    region: env.region,
    bucket,
    accessKeyId: env.accessKeyId,
    secretAccessKey: env.secretAccessKey,
    env: {
      STINT_BUCKET: bucket,
      STINT_S3_ENDPOINT: env.endpoint,
      STINT_S3_REGION: env.region,
      AWS_ACCESS_KEY_ID: env.accessKeyId,
      AWS_SECRET_ACCESS_KEY: env.secretAccessKey,
    },
    newBucket,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      try {
        for (const b of created) await emptyAndDelete(sdk, client, b);
      } finally {
        client.destroy();
      }
    },
  };
}

/** Remove every object (and unfinished upload) in `bucket`, then the bucket. */
async function emptyAndDelete(
  sdk: Sdk,
  client: Sdk,
  bucket: string,
): Promise<void> {
  try {
    for (;;) {
      const page = await client.send(
        new sdk.ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }),
      );
      const keys = (page.Contents ?? []).map((o: { Key: string }) => o.Key);
      if (keys.length === 0) break;
      for (const Key of keys) {
        await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key }));
      }
    }
    const uploads = await client.send(
      new sdk.ListMultipartUploadsCommand({ Bucket: bucket }),
    );
    for (const u of uploads.Uploads ?? []) {
      await client.send(
        new sdk.AbortMultipartUploadCommand({
          Bucket: bucket,
          Key: u.Key,
          UploadId: u.UploadId,
        }),
      );
    }
    await client.send(new sdk.DeleteBucketCommand({ Bucket: bucket }));
  } catch (err) {
    // A test that already removed its bucket (the missing-bucket drill) is fine.
    if ((err as { name?: string })?.name !== "NoSuchBucket") throw err;
  }
}
