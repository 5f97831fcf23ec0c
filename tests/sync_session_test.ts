/**
 * The sync session around one command, in-process against the in-memory
 * bucket: what it reports, when it warns, and what it leaves in the store.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cacheSet, setVar, withStore } from "../src/store/mod.ts";
import { clockOffset } from "../src/store/replication/clock.ts";
import type { SyncConfig } from "../src/sync/config.ts";
import { withChecksums } from "../src/sync/checksum.ts";
import { MemoryBucket } from "../src/sync/memory_bucket.ts";
import { SilentReporter } from "../src/sync/reporter.ts";
import { runInSyncSession } from "../src/sync/session.ts";

const config: SyncConfig = {
  bucket: "unit",
  region: "us-east-1",
  prefix: "stint/",
  flushIntervalMs: 30_000,
  deadlineMs: 3_000,
};

function store(): string {
  const dir = Deno.makeTempDirSync({ prefix: "stint-session-" });
  return join(dir, "state", "stint.db");
}

/** Run `write` as a command would: inside a session with no pull and no loop. */
async function command(
  db: string,
  raw: MemoryBucket,
  write: () => void,
): Promise<SilentReporter> {
  const reporter = new SilentReporter();
  await runInSyncSession(
    { dbPath: db, quiet: true, stderrIsTty: false },
    {
      pull: false,
      flushLoop: false,
      config,
      bucket: withChecksums(raw),
      reporter,
    },
    () => Promise.resolve(write()),
  );
  return reporter;
}

Deno.test("session: a global write on a host whose clock is off by more than a minute warns once, naming the clock", async () => {
  const raw = new MemoryBucket("unit", { clockOffsetMs: 3_600_000 });
  const db = store();
  withStore(db, (c) => setVar(c, "seed", "1"));
  // The first push learns the bucket's clock; the next write warns.
  await command(db, raw, () => {});
  assert.equal(withStore(db, clockOffset), 3_600_000);
  const r = await command(db, raw, () =>
    withStore(db, (c) => {
      setVar(c, "k", "v");
      cacheSet(c, "c", new Uint8Array([1]));
    }));
  assert.equal(r.warnings.length, 1, r.warnings.join("\n"));
  assert.match(r.warnings[0], /clock is 60m behind the bucket's/);
  // A host on time, or a write that is not global, says nothing.
  const ok = new MemoryBucket("unit", { clockOffsetMs: 2_000 });
  const db2 = store();
  await command(db2, ok, () => withStore(db2, (c) => setVar(c, "k", "v")));
  const quiet = await command(
    db2,
    ok,
    () => withStore(db2, (c) => setVar(c, "k", "w")),
  );
  assert.deepEqual(quiet.warnings, []);
});
