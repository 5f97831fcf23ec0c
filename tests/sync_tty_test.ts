/**
 * Sync speaks once, on a real terminal (script(1) gives stint a pty),
 * against a real S3 endpoint (fauxqs, or Swift with STINT_TEST_SWIFT=1): a
 * routine success prints nothing, a failure one line, `--verbose` the
 * story, and `stint sync push` its result once.
 */
import assert from "node:assert/strict";
import { HAS_SCRIPT, stintOnPty } from "./support/pty.ts";
import { closedPort } from "./support/relay.ts";
import {
  okStint as ok,
  type SyncHost,
  syncHost as host,
  withSyncS3,
} from "./support/sync_host.ts";

const SLOW = { sanitizeOps: false, sanitizeResources: false };

/** Run stint on a pty; the lines it printed (stdout and stderr together). */
async function onTty(
  st: SyncHost,
  args: string[],
  extra: Record<string, string> = {},
): Promise<{ code: number; lines: string[] }> {
  const { code, output: text } = await stintOnPty(args, {
    env: { ...st.env, STINT_QUIET: "0", ...extra },
  });
  return {
    code,
    lines: text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== ""),
  };
}

Deno.test({
  name: HAS_SCRIPT
    ? "sync speaks once on a terminal"
    : "sync speaks once on a terminal (needs script(1) for a pty; not installed)",
  ignore: !HAS_SCRIPT,
  ...SLOW,
  fn: (t) =>
    withSyncS3(async (s3) => {
      const bucket = await s3.newBucket();
      const a = host(s3, bucket);
      await ok(a, ["vars", "set", "seed", "1", "--global"]);

      await t.step(
        "a routine vars set that pushed prints nothing",
        async () => {
          const r = await onTty(a, ["vars", "set", "foo", "bar", "--global"]);
          assert.equal(r.code, 0);
          assert.deepEqual(r.lines, []);
        },
      );

      await t.step("a failed push is one line", async () => {
        const r = await onTty(a, ["vars", "set", "foo", "baz", "--global"], {
          STINT_S3_ENDPOINT: `http://127.0.0.1:${closedPort()}`,
        });
        assert.equal(r.code, 0);
        assert.equal(r.lines.length, 1, r.lines.join("\n"));
        assert.match(r.lines[0], /^sync: .*ECONNREFUSED/);
      });

      await t.step(
        "--verbose tells the story, and its summary counts what it showed",
        async () => {
          const r = await onTty(a, [
            "--verbose",
            "vars",
            "set",
            "foo",
            "qux",
            "--global",
          ]);
          assert.equal(r.code, 0);
          assert.match(r.lines.join("\n"), /^sync: s3:\/\/.* as /m);
          assert.match(r.lines.join("\n"), /^sync: pushed \d+ change/m);
          assert.match(r.lines.at(-1) ?? "", /^sync: 1 push\(es\)/);
          assert.doesNotMatch(r.lines.join("\n"), /error/);
        },
      );

      await t.step("stint sync push reports its result once", async () => {
        await ok(a, ["vars", "set", "more", "1", "--global"]);
        const b = host(s3, bucket);
        await ok(b, ["vars", "set", "x", "1", "--global"]);
        // b's change is pushed by its own command; make one more for sync push.
        await ok({ ...b, env: { ...b.env, STINT_BUCKET: "" } }, [
          "vars",
          "set",
          "y",
          "2",
          "--global",
        ]);
        const r = await onTty(b, ["sync", "push"]);
        assert.equal(r.code, 0);
        assert.equal(r.lines.length, 1, r.lines.join("\n"));
        assert.match(r.lines[0], /^Pushed 1 change/);
      });
    }),
});
