/**
 * The sync engine in-process against the in-memory bucket: push, pull,
 * restore and compaction, checksums, and how a damaged object is handled.
 * (The same paths run against real S3 servers in sync_test.ts.)
 */
import assert from "node:assert/strict";
import {
  cacheGet,
  cacheSet,
  deleteVar,
  getVar,
  hostId,
  setVar,
  withStore,
} from "../src/store/mod.ts";
import { absorbRange } from "../src/sync/seq_ranges.ts";
import { SyncEngine } from "../src/sync/engine.ts";
import { SyncMeta } from "../src/sync/state.ts";
import { dumpReplicated, memorySync } from "./support/memory_sync.ts";

const enc = new TextEncoder();

Deno.test("engine: two hosts push and pull to the same state; twice changes nothing", async () => {
  const m = memorySync();
  const a = m.host("a"), b = m.host("b");
  withStore(a.db, (db) => {
    setVar(db, "ka", "1");
    setVar(db, "shared", "from-a");
    cacheSet(db, "c", enc.encode("bytes"));
  });
  withStore(b.db, (db) => setVar(db, "kb", "2"));
  await a.engine.push();
  await new Promise((r) => setTimeout(r, 5));
  withStore(b.db, (db) => setVar(db, "shared", "from-b"));
  await b.engine.push();
  withStore(a.db, (db) => deleteVar(db, "ka"));
  await a.engine.push();
  await a.engine.pull();
  await b.engine.pull();
  assert.equal(dumpReplicated(a.db), dumpReplicated(b.db));
  withStore(b.db, (db) => {
    assert.equal(getVar(db, "shared")?.value, "from-b");
    assert.equal(getVar(db, "ka"), undefined);
    assert.equal(new TextDecoder().decode(cacheGet(db, "c")), "bytes");
  });
  const before = dumpReplicated(b.db);
  const again = await b.engine.pull();
  assert.equal(again.applied, 0);
  assert.equal(dumpReplicated(b.db), before);
});

Deno.test("engine: an idle push sends no request; compaction replaces segments with a snapshot a new host restores", async () => {
  const m = memorySync();
  const a = m.host("a", { compactSegments: 2 });
  withStore(a.db, (db) => setVar(db, "k0", "v0"));
  await a.engine.push();
  const requests = m.raw.requestCount;
  assert.equal((await a.engine.push()).pushed, false);
  assert.equal(m.raw.requestCount, requests, "an idle push made requests");
  for (let i = 1; i <= 4; i++) {
    withStore(a.db, (db) => setVar(db, `k${i}`, `v${i}`));
    await a.engine.push();
  }
  const keys = [...m.raw.objects.keys()];
  assert.ok(keys.some((k) => k.endsWith("/snap.db")), keys.join(","));
  assert.ok(keys.filter((k) => k.includes("/seg/")).length < 4);
  const c = m.host("c");
  const r = await c.engine.restore();
  assert.ok(r.restored);
  withStore(c.db, (db) => {
    for (let i = 0; i <= 4; i++) {
      assert.equal(getVar(db, `k${i}`)?.value, `v${i}`);
    }
  });
});

Deno.test("engine: a segment whose bytes no longer match its checksum is corrupt and skipped", async () => {
  const m = memorySync();
  const a = m.host("a"), b = m.host("b");
  withStore(a.db, (db) => setVar(db, "k1", "v1"));
  await a.engine.push();
  await b.engine.pull();
  withStore(a.db, (db) => setVar(db, "k2", "v2"));
  await a.engine.push();
  const seg = [...m.raw.objects.keys()].filter((k) => k.includes("/seg/"))
    .sort().at(-1)!;
  m.raw.objects.get(seg)!.body[10] ^= 0xff;
  const before = dumpReplicated(b.db);
  const r = await b.engine.pull();
  assert.deepEqual(r.corrupt, [seg]);
  assert.equal(dumpReplicated(b.db), before);
});

Deno.test("engine: cursors written before they were kept per location are adopted by the first location used", async () => {
  const m = memorySync();
  // An upgraded store: its cursors were written under the legacy keys.
  const old = m.host("a");
  withStore(old.db, (db) => setVar(db, "k", "v"));
  assert.ok((await old.engine.push()).pushed);
  const loc = SyncMeta.of({ bucket: "b", prefix: "stint/" });
  const upgraded = new SyncEngine(old.db, { bucket: m.bucket, meta: loc });
  const requests = m.raw.requestCount;
  assert.equal((await upgraded.push()).pushed, false, "pushed again");
  assert.equal(m.raw.requestCount, requests);
  withStore(old.db, (db) => {
    assert.equal(loc.pushedSeq(db), 1);
    assert.equal(
      new SyncMeta().lastPush(db),
      null,
      "the legacy keys were moved",
    );
  });
  // Another location starts from nothing.
  const other = SyncMeta.of({ bucket: "b", prefix: "other/" });
  withStore(old.db, (db) => assert.equal(other.unpushedCount(db), 1));
});

Deno.test("seq ranges: applied-ahead ranges merge, and the cursor moves over what joins it", () => {
  assert.deepEqual(absorbRange(3, [], [4, 6]), { cursor: 6, ahead: [] });
  assert.deepEqual(absorbRange(3, [], [8, 9]), { cursor: 3, ahead: [[8, 9]] });
  assert.deepEqual(absorbRange(3, [[8, 9]], [10, 12]), {
    cursor: 3,
    ahead: [[8, 12]],
  });
  // The hole filled (a snapshot up to 7): everything joins.
  assert.deepEqual(absorbRange(3, [[8, 12]], [1, 7]), {
    cursor: 12,
    ahead: [],
  });
  assert.deepEqual(absorbRange(5, [[8, 9]], [2, 4]), {
    cursor: 5,
    ahead: [[8, 9]],
  });
});

Deno.test("engine: after a missing segment, later ones are applied once, not fetched on every pull", async () => {
  const m = memorySync();
  const a = m.host("a"), b = m.host("b");
  withStore(b.db, (db) => setVar(db, "seed", "1"));
  await b.engine.push();
  for (const k of ["k1", "k2", "k3", "k4"]) {
    withStore(a.db, (db) => setVar(db, k, "v"));
    await a.engine.push();
  }
  const aHost = withStore(a.db, hostId);
  const segs = [...m.raw.objects.keys()].filter((k) =>
    k.startsWith(`hosts/${aHost}/seg/`)
  ).sort();
  m.raw.objects.delete(segs[1]);
  const first = await b.engine.pull();
  assert.equal(first.segments, 3);
  assert.match(first.problems.join(" "), /Changes 2-2 of host .* are missing/);
  withStore(b.db, (db) => assert.equal(getVar(db, "k4")?.value, "v"));
  const requests = m.raw.requestCount;
  const again = await b.engine.pull();
  assert.equal(again.segments, 0, "applied segments were fetched again");
  assert.equal(m.raw.requestCount - requests, 1, "only the listing");
  await a.engine.push({ compact: true });
  await b.engine.pull();
  withStore(b.db, (db) => assert.equal(getVar(db, "k2")?.value, "v"));
  assert.deepEqual((await b.engine.pull()).problems, []);
});
