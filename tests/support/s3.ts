/**
 * A real S3 endpoint over HTTP for tests: fauxqs in-process on 127.0.0.1,
 * port 0 (the OS picks a free port). With `STINT_TEST_SWIFT=1` the same
 * interface points at OpenStack Swift's s3api instead (tests/support/swift.ts),
 * so one test file runs against both.
 * @module
 */
import { loadFauxqs } from "./fauxqs.ts";

/** A running S3 endpoint and the credentials a test uses with it. */
export interface S3Endpoint {
  /** `http://127.0.0.1:<port>` (or the Swift proxy). */
  endpoint: string;
  /** The signing region. */
  region: string;
  /** A bucket created at start. */
  bucket: string;
  /** Test-only access key id. */
  accessKeyId: string;
  /** Test-only secret key. */
  secretAccessKey: string;
  /** Env for a spawned stint: STINT_BUCKET, STINT_S3_ENDPOINT, STINT_S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY. */
  env: Record<string, string>;
  /** Create another empty bucket (random name unless given); returns its name. */
  newBucket(name?: string): Promise<string>;
  /** Stop the server (fauxqs) or release the client (Swift). */
  stop(): Promise<void>;
}

// deno-lint-ignore no-explicit-any
type Sdk = any;

/**
 * The AWS SDK and a client for `s3` with its test credentials, for checks
 * that go around stint (tampering with objects, planting foreign ones).
 */
export async function sdkClient(
  s3: S3Endpoint,
): Promise<{ sdk: Sdk; client: Sdk }> {
  const spec = "@aws-sdk/client-s3";
  const sdk = await import(spec);
  const client = new sdk.S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: {
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
    },
  });
  return { sdk, client };
}

/** A random, valid bucket name. */
export function randomBucketName(prefix = "stint-test"): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `${prefix}-${
    Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/** Start an S3 endpoint: fauxqs on 127.0.0.1:0, or Swift when STINT_TEST_SWIFT=1. */
export async function startS3(): Promise<S3Endpoint> {
  if (Deno.env.get("STINT_TEST_SWIFT") === "1") return await startSwift();
  const { startFauxqs } = await loadFauxqs();
  const server = await startFauxqs({
    port: 0,
    host: "127.0.0.1",
    logger: false,
  });
  const endpoint = `http://127.0.0.1:${server.port}`;
  const region = "us-east-1";
  const accessKeyId = "AKIASTINTTEST0000001";
  const secretAccessKey = "stint-test-secret-" +
    Array.from(
      crypto.getRandomValues(new Uint8Array(8)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
  const bucket = randomBucketName();
  server.createBucket(bucket);
  let stopped = false;
  return {
    endpoint,
    region,
    bucket,
    accessKeyId,
    secretAccessKey,
    env: envFor({ endpoint, region, bucket, accessKeyId, secretAccessKey }),
    newBucket(name?: string): Promise<string> {
      const b = name ?? randomBucketName();
      server.createBucket(b);
      return Promise.resolve(b);
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
}

function envFor(
  e: {
    endpoint: string;
    region: string;
    bucket: string;
    accessKeyId: string;
    secretAccessKey: string;
  },
): Record<string, string> {
  return {
    STINT_BUCKET: e.bucket,
    STINT_S3_ENDPOINT: e.endpoint,
    STINT_S3_REGION: e.region,
    AWS_ACCESS_KEY_ID: e.accessKeyId,
    AWS_SECRET_ACCESS_KEY: e.secretAccessKey,
  };
}

async function startSwift(): Promise<S3Endpoint> {
  const spec = "./swift.ts";
  const mod = await import(spec) as { swiftEndpoint(): Promise<S3Endpoint> };
  return await mod.swiftEndpoint();
}

/**
 * Put `body` under `key` straight through the SDK, around stint: to plant a
 * foreign object or replace one of stint's with other bytes.
 */
export async function putRaw(
  s3: S3Endpoint,
  target: { bucket: string; key: string },
  options: { body: Uint8Array | string; metadata?: Record<string, string> },
): Promise<void> {
  const { sdk, client } = await sdkClient(s3);
  try {
    await client.send(
      new sdk.PutObjectCommand({
        Bucket: target.bucket,
        Key: target.key,
        Body: options.body,
        Metadata: options.metadata ?? {},
      }),
    );
  } finally {
    client.destroy();
  }
}
