/**
 * What the CLI loads before it runs anything (spec section 9: `stint vars
 * get` and `stint cache get` within 1.2x a script that opens the store).
 * Every module Deno loads costs start-up time whether it runs or not, so
 * the point reads must not pull in the store's open, ownership, migration
 * or write side, the sync seam, the flag parser or the runner. These fail
 * when a static or string-literal import brings one back.
 * @module
 */
import assert from "node:assert/strict";
import { moduleGraph } from "./support/graph.ts";

/** Modules the point reads never need (a computed import loads them when a subcommand does). */
const OFF_THE_GET_PATH = [
  "src/store/open.ts",
  "src/store/ownership.ts",
  "src/store/read.ts",
  "src/store/vars.ts",
  "src/store/scoped_vars.ts",
  "src/store/cache.ts",
  "src/store/executions.ts",
  "src/store/run_record.ts",
  "src/store/start_sidecar.ts",
  "src/store/process.ts",
  "src/cli/sync_session.ts",
  "src/cli/fast_flags.ts",
  "src/cli/stdin.ts",
  "src/cli/table.ts",
  "src/cli/confirm.ts",
  "src/store/durations.ts",
  "src/format.ts",
];

function assertNone(local: string[], banned: string[], what: string): void {
  const found = local.filter((m) => banned.includes(m));
  assert.deepEqual(found, [], `${what} loads ${found.join(", ")}`);
}

Deno.test("stint's entry loads no command, no SQLite and no sync before it dispatches", async () => {
  const { specifiers, local } = await moduleGraph("main.ts");
  assert.ok(local.includes("src/cli/mod.ts"), local.join(", "));
  assert.deepEqual(specifiers.filter((s) => !s.startsWith("file:")), []);
  for (const m of local) {
    assert.doesNotMatch(
      m,
      /^src\/(cli\/(?!mod\.ts|output\.ts)|runner\/|tasks\/|ui\/|sync\/(?!pending\.ts)|store\/(?!journal|paths|store_entries))/,
      `main.ts loads ${m}`,
    );
  }
});

for (const command of ["vars", "cache"]) {
  Deno.test(`stint ${command} get loads the point read only: no open, ownership, write side, sync or flag parser`, async () => {
    const entry = `src/cli/${command}.ts`;
    const { specifiers, local } = await moduleGraph(entry);
    assert.ok(local.includes("src/store/point_read.ts"), local.join(", "));
    assertNone(local, OFF_THE_GET_PATH, entry);
    assert.deepEqual(
      specifiers.filter((s) => !s.startsWith("file:")),
      ["node:sqlite"],
    );
  });
}
