// The gc rules on the in-memory bucket (the S3 and Swift suites run the
// real thing in sync_gc_test.ts): no blob is deleted when the pull did not
// bring everything, covered segments go only after their snapshot was
// verified, a push uploads again a blob it would reuse once it is past half
// the grace, and the automatic gc after a compaction runs once a day.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { withStore } from "../src/store/mod.ts";
import { planPrune, pruneRuns } from "../src/store/retention.ts";
import { memorySync } from "./support/memory_sync.ts";
import { seedRuns } from "./support/history_seed.ts";

const GRACE = 60_000;

function blobKey(content: string): string {
  return `logs/${createHash("sha256").update(content).digest("hex")}.gz`;
}

/** Age every object in the bucket by `ms`. */
function age(objects: Map<string, { lastModified: Date }>, ms: number) {
  for (const o of objects.values()) {
    o.lastModified = new Date(o.lastModified.getTime() - ms);
  }
}

function pruneAll(db: string, ref: string): void {
  withStore(db, (c) => {
    const plan = planPrune(c, { olderThanMs: null, keep: 0 }, { ref });
    pruneRuns(c, plan.runs);
  });
}

Deno.test("gc: a refused segment of another host keeps every blob (what it names is unknown)", async () => {
  const m = memorySync();
  const a = m.host("a", { gcGraceMs: GRACE });
  const b = m.host("b", { gcGraceMs: GRACE });
  seedRuns(a.db, [{ ref: "x:a", startedAt: Date.now(), log: "old" }]);
  await a.engine.push();
  seedRuns(b.db, [{ ref: "x:b", startedAt: Date.now(), log: "bee" }]);
  await b.engine.push();
  pruneAll(a.db, "x:a");
  await a.engine.push();
  age(m.raw.objects, 2 * GRACE);
  // b's segment is damaged: a cannot know what it names.
  const seg = [...m.raw.objects.keys()].find((k) =>
    k.includes("/seg/") && !k.includes(withStore(a.db, hostOf))
  )!;
  m.raw.objects.get(seg)!.body = new TextEncoder().encode("garbage");
  const r = await a.engine.gc();
  assert.match(r.skipped ?? "", /refused/);
  assert.equal(r.deletedBlobs, 0);
  assert.ok(m.raw.objects.has(blobKey("old")));
  assert.ok(m.raw.objects.has(blobKey("bee")));
});

function hostOf(db: import("../src/store/sqlite.ts").Database): string {
  return String(
    db.prepare("SELECT value FROM meta WHERE key = 'host_id'").get()?.value,
  );
}

Deno.test("gc: covered segments of another host go once its snapshot was applied here", async () => {
  const m = memorySync();
  const a = m.host("a", { gcGraceMs: GRACE });
  const b = m.host("b", { gcGraceMs: GRACE, compactSegments: 100 });
  for (let i = 0; i < 3; i++) {
    seedRuns(b.db, [{ ref: "x:b", startedAt: Date.now() + i }]);
    await b.engine.push();
  }
  // b wrote its snapshot but died before deleting the segments it covers.
  const segs = () =>
    [...m.raw.objects.keys()].filter((k) => k.includes("/seg/"));
  const before = segs();
  assert.equal(before.length, 3);
  const kept = new Map(before.map((k) => [k, m.raw.objects.get(k)!]));
  await b.engine.push({ compact: true });
  for (const [k, v] of kept) m.raw.objects.set(k, v);
  assert.equal(segs().length, 3);
  const dry = await a.engine.gc({ dryRun: true });
  assert.equal(dry.deletedSegments, 3);
  assert.equal(segs().length, 3, "a dry run deletes nothing");
  const r = await a.engine.gc();
  assert.equal(r.deletedSegments, 3);
  assert.equal(segs().length, 0);
  // b's rows are still all there for a new host.
  const c = m.host("c");
  await c.engine.restore();
  const n = withStore(
    c.db,
    (db) => Number(db.prepare("SELECT count(*) AS n FROM executions").get()?.n),
  );
  assert.equal(n, 3);
});

Deno.test("push: a blob it would reuse goes up again once past half the grace, not before", async () => {
  const m = memorySync();
  const a = m.host("a", { gcGraceMs: GRACE });
  seedRuns(a.db, [{ ref: "x:1", startedAt: Date.now(), log: "same" }]);
  await a.engine.push();
  const first = m.raw.objects.get(blobKey("same"))!.etag;
  seedRuns(a.db, [{ ref: "x:2", startedAt: Date.now(), log: "same" }]);
  const fresh = await a.engine.push();
  assert.equal(fresh.logs, 0, "fresh: reused");
  assert.equal(m.raw.objects.get(blobKey("same"))!.etag, first);
  age(m.raw.objects, GRACE / 2 + 1000);
  seedRuns(a.db, [{ ref: "x:3", startedAt: Date.now(), log: "same" }]);
  const stale = await a.engine.push();
  assert.equal(stale.logs, 1, "stale: uploaded again");
  const now = m.raw.objects.get(blobKey("same"))!;
  assert.notEqual(now.etag, first);
  assert.ok(Date.now() - now.lastModified.getTime() < 5_000);
});

Deno.test("auto gc: a push that compacts collects, at most once a day", async () => {
  const m = memorySync();
  const a = m.host("a", { gcGraceMs: GRACE });
  seedRuns(a.db, [{ ref: "x:a", startedAt: Date.now(), log: "gone" }]);
  await a.engine.push();
  pruneAll(a.db, "x:a");
  age(m.raw.objects, 2 * GRACE);
  await a.engine.push({ compact: true });
  assert.ok(!m.raw.objects.has(blobKey("gone")), "collected after compacting");

  seedRuns(a.db, [{ ref: "x:b", startedAt: Date.now(), log: "later" }]);
  await a.engine.push();
  pruneAll(a.db, "x:b");
  age(m.raw.objects, 2 * GRACE);
  await a.engine.push({ compact: true });
  assert.ok(m.raw.objects.has(blobKey("later")), "not twice in a day");
  // An explicit gc is always allowed.
  const r = await a.engine.gc();
  assert.equal(r.deletedBlobs, 1);
  assert.ok(!m.raw.objects.has(blobKey("later")));
});
