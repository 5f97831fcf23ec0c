/**
 * The S3 bucket client against a real endpoint over HTTP (fauxqs, or Swift
 * with STINT_TEST_SWIFT=1): the narrow interface, multipart, checksums,
 * key validation and how failures are classified.
 */
import assert from "node:assert/strict";
import { BucketError, keyProblem } from "../src/sync/bucket.ts";
import { withChecksums } from "../src/sync/checksum.ts";
import { S3Bucket } from "../src/sync/s3/bucket.ts";
import { startS3 } from "./support/s3.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("bucket keys: traversal, control characters and empty segments are refused", () => {
  for (
    const bad of [
      "",
      "/abs",
      "a/../b",
      "a/./b",
      "a//b",
      "a\\b",
      "a\u0000b",
      "dir/",
      "x".repeat(1025),
    ]
  ) {
    assert.notEqual(keyProblem(bad), null, JSON.stringify(bad));
  }
  for (
    const good of [
      "a",
      "hosts/h-1/seg/000001-000002.ndjson.gz",
      "logs/ab.gz",
      "a..b",
    ]
  ) {
    assert.equal(keyProblem(good), null, good);
  }
});

Deno.test({
  name: "S3 bucket over HTTP",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const s3 = await startS3();
    Deno.env.set("AWS_ACCESS_KEY_ID", s3.accessKeyId);
    Deno.env.set("AWS_SECRET_ACCESS_KEY", s3.secretAccessKey);
    const open = (bucket: string, extra: Record<string, unknown> = {}) =>
      withChecksums(
        new S3Bucket({
          bucket,
          endpoint: s3.endpoint,
          region: s3.region,
          prefix: "t/",
          ...extra,
        }),
      );
    try {
      await t.step("put, get, head, list (paged), delete", async () => {
        const b = open(await s3.newBucket(), { listPageSize: 2 });
        try {
          assert.equal(await b.get("nothing"), null);
          assert.equal(await b.head("nothing"), null);
          for (const k of ["d/1", "d/2", "d/3", "d/4", "e/1"]) {
            await b.put(k, enc.encode(`body ${k}`), {
              metadata: { "stint-host": "h1" },
            });
          }
          assert.equal(dec.decode((await b.get("d/3"))!.body), "body d/3");
          const head = await b.head("d/3");
          assert.equal(head?.size, 8);
          assert.equal(head?.metadata?.["stint-host"], "h1");
          assert.match(
            head?.metadata?.["stint-sha256"] ?? "",
            /^[0-9a-f]{64}$/,
          );
          const listed: string[] = [];
          for await (const o of b.list("d/")) listed.push(o.key);
          assert.deepEqual(listed, ["d/1", "d/2", "d/3", "d/4"]);
          await b.delete(["d/1", "d/2", "never-existed"]);
          const left: string[] = [];
          for await (const o of b.list("")) left.push(o.key);
          assert.deepEqual(left, ["d/3", "d/4", "e/1"]);
        } finally {
          await b.close();
        }
      });

      await t.step(
        "objects over the multipart threshold round-trip",
        async () => {
          const b = open(await s3.newBucket());
          try {
            const big = new Uint8Array(19 * 1024 * 1024);
            for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
            const before = b.requestCount;
            await b.put("big.bin", big);
            // Create + 3 parts + complete: more than one request, each under the cap.
            assert.ok(b.requestCount - before >= 5);
            const back = await b.get("big.bin", { requireChecksum: true });
            assert.equal(back?.body.length, big.length);
            assert.deepEqual(back?.body, big);
          } finally {
            await b.close();
          }
        },
      );

      await t.step(
        "a body that does not match its checksum is corrupt",
        async () => {
          const name = await s3.newBucket();
          const b = open(name);
          try {
            await b.put("obj", enc.encode("original"));
            const sha = (await b.head("obj"))!.metadata!["stint-sha256"];
            const spec = "@aws-sdk/client-s3";
            const sdk = await import(spec);
            const client = new sdk.S3Client({
              endpoint: s3.endpoint,
              region: s3.region,
              forcePathStyle: true,
            });
            try {
              await client.send(
                new sdk.PutObjectCommand({
                  Bucket: name,
                  Key: "t/obj",
                  Body: enc.encode("tampered"),
                  Metadata: { "stint-sha256": sha },
                }),
              );
              await client.send(
                new sdk.PutObjectCommand({
                  Bucket: name,
                  Key: "t/plain",
                  Body: enc.encode("no checksum"),
                }),
              );
            } finally {
              client.destroy();
            }
            await assert.rejects(
              () => b.get("obj"),
              (e) => e instanceof BucketError && e.kind === "corrupt",
            );
            assert.equal(
              dec.decode((await b.get("plain"))!.body),
              "no checksum",
            );
            await assert.rejects(
              () => b.get("plain", { requireChecksum: true }),
              (e) => e instanceof BucketError && e.kind === "corrupt",
            );
          } finally {
            await b.close();
          }
        },
      );

      await t.step("invalid keys fail before any request", async () => {
        const b = open(s3.bucket);
        try {
          await assert.rejects(
            () => b.put("../escape", enc.encode("x")),
            (e) => e instanceof BucketError && e.kind === "invalid-key",
          );
          await assert.rejects(
            () => b.get("a//b"),
            (e) => e instanceof BucketError && e.kind === "invalid-key",
          );
          assert.equal(b.requestCount, 0);
        } finally {
          await b.close();
        }
      });

      await t.step(
        "no credentials anywhere is its own kind of error",
        async () => {
          const keep: Record<string, string | undefined> = {};
          const names = [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_EC2_METADATA_DISABLED",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
          ];
          for (const n of names) keep[n] = Deno.env.get(n);
          try {
            for (const n of names) Deno.env.delete(n);
            Deno.env.set("AWS_CONFIG_FILE", "/nonexistent/stint-aws-config");
            Deno.env.set(
              "AWS_SHARED_CREDENTIALS_FILE",
              "/nonexistent/stint-aws-credentials",
            );
            Deno.env.set("AWS_EC2_METADATA_DISABLED", "true");
            const b = open(s3.bucket, { maxAttempts: 1 });
            try {
              await assert.rejects(
                () => b.get("k"),
                (e) => e instanceof BucketError && e.kind === "credentials",
              );
              assert.equal(b.requestCount, 0, "nothing unsigned was sent");
            } finally {
              await b.close();
            }
          } finally {
            for (const n of names) {
              if (keep[n] === undefined) Deno.env.delete(n);
              else Deno.env.set(n, keep[n]!);
            }
          }
        },
      );

      await t.step(
        "a missing bucket and an unreachable endpoint are told apart",
        async () => {
          const missing = open("stint-no-such-bucket-0000");
          try {
            await assert.rejects(
              () => missing.put("k", enc.encode("x")),
              (e) =>
                e instanceof BucketError && e.kind === "no-bucket" &&
                !e.message.includes(s3.secretAccessKey) &&
                !e.message.includes("\n"),
            );
          } finally {
            await missing.close();
          }
          const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
          const port = (listener.addr as Deno.NetAddr).port;
          listener.close();
          const down = new S3Bucket({
            bucket: "any-bucket",
            endpoint: `http://127.0.0.1:${port}`,
            region: s3.region,
            maxAttempts: 2,
            backoffBaseMs: 10,
          });
          try {
            await assert.rejects(
              () => down.get("k"),
              (e) =>
                e instanceof BucketError && e.kind === "unreachable" &&
                /127\.0\.0\.1/.test(e.message),
            );
            assert.equal(down.requestCount, 2, "retried once");
          } finally {
            await down.close();
          }
        },
      );
    } finally {
      await s3.stop();
    }
  },
});
