/**
 * The replication layer in-process: stamps (bucket time and the hybrid
 * logical clock), tombstones left by every kind of delete, and merging.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cacheGet,
  cacheSet,
  deleteVar,
  pruneExpired,
  setVar,
  withStore,
} from "../src/store/mod.ts";
import {
  bucketNow,
  clockOffset,
  MAX_FUTURE_MS,
  nextStamp,
  observeStamp,
  recordClockBounds,
} from "../src/store/replication/clock.ts";
import { applyRecords, readChanges } from "../src/store/replication/mod.ts";

function db(): string {
  return join(
    Deno.makeTempDirSync({ prefix: "stint-repl-" }),
    "state",
    "stint.db",
  );
}

Deno.test("clock: stamps are bucket time, always after every stamp written or seen", () => {
  withStore(db(), (c) => {
    const t0 = Date.now();
    const a = nextStamp(c), b = nextStamp(c);
    assert.ok(a >= t0 && b > a, `${a} ${b}`);
    // Bounds that contain 0: this clock agrees with the bucket's.
    assert.equal(recordClockBounds(c, { lo: -400, hi: 600 }), 0);
    // Bounds from the bucket's answers: about 10 s ahead; the smallest
    // correction they allow is taken.
    const d = db();
    withStore(d, (c2) => {
      assert.equal(recordClockBounds(c2, { lo: 9_800, hi: 10_200 }), 9_800);
      // A later measurement narrows the bounds, it does not replace them.
      assert.equal(recordClockBounds(c2, { lo: 9_900, hi: 12_000 }), 9_900);
      assert.equal(clockOffset(c2), 9_900);
      const before2 = Date.now();
      const s2 = nextStamp(c2);
      const after2 = Date.now();
      assert.ok(s2 >= before2 + 9_900 && s2 <= after2 + 9_900, `${s2}`);
    });
    assert.equal(recordClockBounds(c, { lo: 9_800, hi: 10_200 }), 9_800);
    const before = Date.now();
    const s = nextStamp(c);
    const after = Date.now();
    assert.ok(s >= before + 9_800 && s <= after + 9_800, `${s}`);
    // A stamp seen from another host moves the clock past it ...
    observeStamp(c, s + 60_000);
    assert.equal(nextStamp(c), s + 60_001);
    // ... but one absurdly far ahead moves it no further than a day.
    observeStamp(c, bucketNow(c) + 10 * MAX_FUTURE_MS);
    assert.ok(nextStamp(c) <= bucketNow(c) + MAX_FUTURE_MS + 10);
    // A clock set back (bounds that no longer overlap): the new answer wins.
    assert.equal(recordClockBounds(c, { lo: -5_000, hi: -4_000 }), -4_000);
  });
});

Deno.test("tombstones: a pruned cache entry leaves one just after it, so the value it replaced cannot come back", () => {
  const a = db(), b = db();
  withStore(a, (c) => cacheSet(c, "k", new TextEncoder().encode("OLD")));
  const old = withStore(a, (c) => readChanges(c, 0)).records;
  withStore(b, (c) => {
    cacheSet(c, "k", new TextEncoder().encode("NEW"), { ttlMs: 10 });
    const stamp = Number(
      c.prepare("SELECT updated_at FROM cache WHERE key = 'k'").get()
        ?.updated_at,
    );
    assert.equal(pruneExpired(c, bucketNow(c) + 1000), 1);
    const t = c.prepare(
      "SELECT deleted_at FROM tombstones WHERE kind = 'cache' AND key = 'k'",
    ).get();
    assert.equal(Number(t?.deleted_at), stamp + 1);
  });
  const r = withStore(b, (c) => applyRecords(c, old));
  assert.equal(r.applied, 0, "the older value came back");
  withStore(b, (c) => assert.equal(cacheGet(c, "k"), undefined));
  // A later write still wins over the tombstone.
  withStore(a, (c) => cacheSet(c, "k", new TextEncoder().encode("LATER")));
  const later = withStore(a, (c) => readChanges(c, 0)).records;
  withStore(b, (c) => {
    applyRecords(c, later);
    assert.equal(new TextDecoder().decode(cacheGet(c, "k")), "LATER");
  });
});

Deno.test("tombstones: a delete is stamped after the value it deletes, even one stamped ahead", () => {
  withStore(db(), (c) => {
    setVar(c, "k", "v");
    const ahead = Date.now() + 3_600_000;
    c.prepare("UPDATE vars SET updated_at = ? WHERE key = 'k'").run(ahead);
    deleteVar(c, "k");
    const t = c.prepare(
      "SELECT deleted_at FROM tombstones WHERE kind = 'var' AND key = 'k'",
    ).get();
    assert.ok(Number(t?.deleted_at) > ahead);
  });
});
