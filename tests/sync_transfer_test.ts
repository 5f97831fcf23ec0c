/**
 * Streamed transfers against a real S3 endpoint (fauxqs, or Swift with
 * STINT_TEST_SWIFT=1): big logs go up in parts from disk and come back
 * byte for byte, a streamed body (no file behind it) goes up in order, a
 * blob that fails its checksum or inflates past its recorded size leaves no
 * file, a 50 MB push draws progress on a terminal (script(1)), and Ctrl-C
 * in the middle of a push says what went and what did not, and loses
 * nothing.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { spawnStint, stint, type TempState } from "./support/cli.ts";
import { HAS_SCRIPT, stintOnPty } from "./support/pty.ts";
import { putRaw } from "./support/s3.ts";
import {
  bucketAt,
  listKeys,
  okStint as ok,
  syncHost as host,
  withSyncS3,
} from "./support/sync_host.ts";
import { logPath } from "../src/store/paths.ts";
import { bytesSource } from "../src/sync/streams.ts";

const SLOW = { sanitizeOps: false, sanitizeResources: false };
const MiB = 1024 * 1024;

/** `n` bytes of random base64 text (compresses about 4:3). */
function randomText(n: number): Uint8Array {
  const out = new Uint8Array(n);
  const alphabet = new TextEncoder().encode(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
  );
  const rnd = new Uint8Array(65536);
  for (let i = 0; i < n; i++) {
    if (i % 65536 === 0) crypto.getRandomValues(rnd);
    out[i] = i % 77 === 76 ? 0x0a : alphabet[rnd[i % 65536] & 63];
  }
  return out;
}

function sha(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Record a finished run on `st` whose log is `content` (sync off while it runs). */
async function runWithLog(st: TempState, content: Uint8Array): Promise<string> {
  const file = join(st.dir, `content-${crypto.randomUUID()}`);
  Deno.writeFileSync(file, content);
  const r = await stint(["exec", "--name", "t:big", "--", "cat", file], {
    env: { ...st.env, STINT_BUCKET: "" },
  });
  assert.equal(r.code, 0, r.stderr);
  const runs = JSON.parse(
    await ok(st, ["history", "t:big", "--limit", "1", "--json"]),
  ) as { id: string }[];
  return runs[0].id;
}

Deno.test({
  name:
    "a big log goes up in parts from disk and comes back byte for byte; a streamed body goes up in order",
  ...SLOW,
  fn: () =>
    withSyncS3(async (s3) => {
      const bucket = await s3.newBucket();
      const a = host(s3, bucket);
      const content = randomText(24 * MiB);
      const id = await runWithLog(a, content);
      const push = JSON.parse(await ok(a, ["sync", "push", "--json"]));
      assert.equal(push.logs, 1);
      // gzip of base64 is about 3/4 of it: well over one 8 MiB part.
      assert.ok(push.bytes > 12 * MiB, `${push.bytes} bytes pushed`);
      assert.ok(push.requests >= 5, "create, parts, complete");
      assert.ok(
        !(await listKeys(s3, bucket)).some((k) => k.includes(".up-")),
        "no temp object",
      );
      assert.deepEqual(
        [...Deno.readDirSync(join(a.dir, "state"))].filter((e) =>
          e.name.startsWith(".up-")
        ),
        [],
        "the temp gzip is gone",
      );
      const b = host(s3, bucket);
      const out = await stint(["logs", id], { env: b.env });
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdoutBytes.length, content.length);
      assert.equal(sha(out.stdoutBytes), sha(content));

      // A body with no file behind it (read in order, part by part).
      const direct = bucketAt(s3, bucket);
      try {
        const body = randomText(19 * MiB);
        const source = bytesSource(body);
        let last = 0;
        await direct.put("direct/streamed.bin", source, {
          onProgress: (sent) => last = sent,
        });
        assert.equal(last, body.length);
        const back = await direct.get("direct/streamed.bin", {
          requireChecksum: true,
        });
        assert.equal(sha(back!.body), sha(body));
        const streamed = await direct.getStream("direct/streamed.bin", {
          requireChecksum: true,
        });
        const bytes = new Uint8Array(
          await new Response(streamed!.body).arrayBuffer(),
        );
        assert.equal(sha(bytes), sha(body));
        // The size cap applies to a stream too.
        await assert.rejects(
          direct.getStream("direct/streamed.bin", { maxBytes: MiB }),
          /over the 1048576-byte cap/,
        );
      } finally {
        await direct.close();
      }
    }),
});

Deno.test({
  name:
    "a log blob that fails its checksum, or inflates past its recorded size, leaves no file and says so in one line",
  ...SLOW,
  fn: () =>
    withSyncS3(async (s3) => {
      const bucket = await s3.newBucket();
      const a = host(s3, bucket);
      const content = randomText(2 * MiB);
      const id = await runWithLog(a, content);
      await ok(a, ["sync", "push"]);
      const key = `stint/logs/${sha(content)}.gz`;
      const raw = bucketAt(s3, bucket);
      let meta: Record<string, string>;
      try {
        meta = (await raw.head(key))!.metadata!;
      } finally {
        await raw.close();
      }

      // Other bytes under the old checksum.
      const other = gzipSync(randomText(2 * MiB));
      await putRaw(s3, { bucket, key }, { body: other, metadata: meta });
      const b = host(s3, bucket);
      const bad = await stint(["logs", id], { env: b.env });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /SHA-256 does not match/);
      assert.ok(
        !Deno.readDirSync(join(b.dir, "state", "logs")).some(() => true) ||
          [...Deno.readDirSync(join(b.dir, "state", "logs"))].length === 0,
        "no partial file",
      );
      assert.throws(
        () => Deno.statSync(logPath(b.db, id)),
        Deno.errors.NotFound,
      );

      // A valid checksum, but it inflates past the run's recorded log size.
      const bomb = gzipSync(new Uint8Array(8 * MiB));
      await putRaw(s3, { bucket, key }, {
        body: bomb,
        metadata: { ...meta, "stint-sha256": sha(bomb) },
      });
      const big = await stint(["logs", id], { env: b.env });
      assert.equal(big.code, 1);
      assert.match(big.stderr, /inflates past its recorded \d+ bytes/);
      assert.equal(big.stderr.trimEnd().split("\n").length, 1);
      assert.throws(
        () => Deno.statSync(logPath(b.db, id)),
        Deno.errors.NotFound,
      );
    }),
});

Deno.test({
  name: HAS_SCRIPT
    ? "a 50 MB push draws progress on a terminal: bytes, rate, time left"
    : "a 50 MB push draws progress on a terminal (needs script(1); not installed)",
  ignore: !HAS_SCRIPT,
  ...SLOW,
  fn: () =>
    withSyncS3(async (s3) => {
      const bucket = await s3.newBucket();
      const a = host(s3, bucket);
      // Random bytes: gzip cannot shrink them, so 50 MB go over the wire.
      const content = new Uint8Array(50 * MiB);
      for (let i = 0; i < content.length; i += 65536) {
        crypto.getRandomValues(content.subarray(i, i + 65536));
      }
      await runWithLog(a, content);
      const out = await stintOnPty(["sync", "push"], {
        env: { ...a.env, STINT_QUIET: "0" },
      });
      const text = out.output;
      assert.equal(out.code, 0, text);
      const frames = text.split("\r").filter((f) =>
        f.startsWith("\x1b[2Ksync: ")
      );
      const upload = frames.filter((f) =>
        /sync: upload log [0-9a-f]{12} /.test(f)
      );
      assert.ok(
        frames.length >= 3,
        `expected progress updates, got ${frames.length}: ${
          JSON.stringify(text.slice(0, 400))
        }`,
      );
      assert.ok(upload.length >= 1, "the upload itself shows progress");
      for (const f of frames) {
        assert.match(f, /\d+(\.\d)? (KiB|MiB) \/ \d+(\.\d)? MiB/);
      }
      assert.ok(
        frames.some((f) => /MiB\/s {2}\d+s left/.test(f)),
        "a rate and the time left",
      );
      // The progress line is cleared before the result is printed.
      assert.ok(
        text.includes("\x1b[2KPushed 1 change(s) and 1 log(s)"),
        "the line is cleared before the result",
      );
    }),
});

Deno.test({
  name:
    "Ctrl-C in the middle of a push: it says what went and what did not; the next push sends the rest, nothing is lost",
  ...SLOW,
  fn: () =>
    withSyncS3(async (s3) => {
      const bucket = await s3.newBucket();
      const a = host(s3, bucket);
      const content = randomText(96 * MiB);
      const id = await runWithLog(a, content);
      const child = spawnStint(["sync", "push"], { env: a.env });
      // Interrupt once the log is being compressed into its temp file.
      const state = join(a.dir, "state");
      const deadline = Date.now() + 20_000;
      while (
        ![...Deno.readDirSync(state)].some((e) => e.name.startsWith(".up-"))
      ) {
        if (Date.now() > deadline) throw new Error("the push never started");
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill("SIGINT");
      const out = await child.output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 130, stderr);
      assert.match(
        stderr,
        /^Interrupted: pushed 0 of 1 log\(s\) \(0 B\); not pushed: 1 log\(s\) and 1 change\(s\); nothing is lost, stint sync push sends the rest\n$/,
      );
      assert.deepEqual(
        [...Deno.readDirSync(state)].filter((e) => e.name.startsWith(".up-")),
        [],
        "the temp gzip is gone",
      );
      assert.ok(
        !(await listKeys(s3, bucket)).some((k) => k.includes("/hosts/")),
        "no segment went up",
      );

      const again = JSON.parse(await ok(a, ["sync", "push", "--json"]));
      assert.equal(again.logs, 1);
      const b = host(s3, bucket);
      const log = await stint(["logs", id], { env: b.env });
      assert.equal(log.code, 0, log.stderr);
      assert.equal(sha(log.stdoutBytes), sha(content));
    }),
});
