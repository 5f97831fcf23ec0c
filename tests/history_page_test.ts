/**
 * The paged history queries (src/store/history_page.ts) and flaky
 * detection (src/store/flaky.ts) on a real store: keyset pages that neither
 * skip nor repeat runs (ties in start time included), every filter, the row
 * budget for filters the index does not answer, refs and hosts by skip-scan.
 * @module
 */
import assert from "node:assert/strict";
import { flakiness } from "../src/store/flaky.ts";
import {
  type HistoryPageQuery,
  hostRuns,
  queryHistory,
  refsByLastRun,
} from "../src/store/history_page.ts";
import { hostId, listExecutions, withStore } from "../src/store/mod.ts";
import type { Database } from "../src/store/sqlite.ts";
import { tempState } from "./support/cli.ts";
import { type SeedRun, seedRuns } from "./support/history_seed.ts";

function withSeeded(
  runs: SeedRun[],
  fn: (db: Database, ids: string[]) => void,
): void {
  const s = tempState("stint-hq-");
  try {
    const seeded = seedRuns(s.db, runs).map((e) => e.id);
    withStore(s.db, (db) => fn(db, seeded));
  } finally {
    Deno.removeSync(s.dir, { recursive: true });
  }
}

/** Every run of `query`, page by page (older, then back up with newer). */
function walk(db: Database, query: HistoryPageQuery): string[][] {
  const pages: string[][] = [];
  let page = queryHistory(db, query);
  pages.push(page.runs.map((e) => e.id));
  while (page.older) {
    page = queryHistory(db, { ...query, before: page.older });
    pages.push(page.runs.map((e) => e.id));
  }
  return pages;
}

const T = 1_800_000_000_000;

Deno.test("queryHistory: keyset pages cover every run once, ties included, newest first", () => {
  // 23 runs, many starting in the same millisecond.
  const runs: SeedRun[] = Array.from({ length: 23 }, (_, i) => ({
    ref: i % 2 ? "a:x" : "a:y",
    startedAt: T + Math.floor(i / 4) * 1000,
    status: i % 5 === 0 ? "failed" : "succeeded",
  }));
  withSeeded(runs, (db) => {
    const all = listExecutions(db, {}).map((e) => e.id);
    const pages = walk(db, { limit: 5 });
    assert.deepEqual(pages.map((p) => p.length), [5, 5, 5, 5, 3]);
    const flat = pages.flat();
    assert.equal(new Set(flat).size, 23);
    assert.deepEqual([...flat].sort(), [...all].sort());
    // Newest first by start time.
    const byId = new Map(listExecutions(db, {}).map((e) => [e.id, e]));
    const starts = flat.map((id) => byId.get(id)!.startedAt);
    assert.deepEqual(starts, [...starts].sort((a, b) => b - a));
    // Back up from page 3 with `after`: page 2 again, exactly.
    const p1 = queryHistory(db, { limit: 5 });
    const p2 = queryHistory(db, { limit: 5, before: p1.older! });
    const p3 = queryHistory(db, { limit: 5, before: p2.older! });
    const up = queryHistory(db, { limit: 5, after: p3.newer! });
    assert.deepEqual(up.runs.map((e) => e.id), p2.runs.map((e) => e.id));
    const top = queryHistory(db, { limit: 5, after: up.newer! });
    assert.deepEqual(top.runs.map((e) => e.id), p1.runs.map((e) => e.id));
    assert.equal(top.newer, null);
    assert.equal(p1.newer, null);
  });
});

Deno.test("queryHistory: ref, status, host, since/until and text filters, alone and together", () => {
  const runs: SeedRun[] = [
    { ref: "shop:test", startedAt: T, status: "failed" },
    { ref: "shop:test", startedAt: T + 1000, status: "succeeded" },
    { ref: "shop:lint", startedAt: T + 2000, status: "failed" },
    { ref: "exec:curl_100%", startedAt: T + 3000, status: "killed" },
    { ref: "shop:test", startedAt: T + 4000, status: "failed" },
  ];
  withSeeded(runs, (db, ids) => {
    const q = (query: HistoryPageQuery) =>
      queryHistory(db, query).runs.map((e) => ids.indexOf(e.id));
    assert.deepEqual(q({ ref: "shop:test" }), [4, 1, 0]);
    assert.deepEqual(q({ status: "failed" }), [4, 2, 0]);
    assert.deepEqual(q({ ref: "shop:test", status: "failed" }), [4, 0]);
    assert.deepEqual(q({ since: T + 1000, until: T + 4000 }), [3, 2, 1]);
    assert.deepEqual(q({ text: "LINT" }), [2]);
    assert.deepEqual(q({ text: "100%" }), [3], "% is literal");
    assert.deepEqual(q({ text: "curl_" }), [3], "_ is literal");
    assert.deepEqual(q({ text: "url_1" }), [3]);
    assert.deepEqual(q({ text: "l_1" }), [3]);
    assert.deepEqual(q({ text: "x_1" }), []);
    assert.deepEqual(q({ text: ids[1].slice(0, 13) }), [1], "an id prefix");
    const host = hostId(db);
    assert.deepEqual(q({ host, status: "killed" }), [3]);
    assert.deepEqual(q({ host: "other-host" }), []);
    assert.deepEqual(
      q({ ref: "shop:test", host, status: "succeeded", text: "test" }),
      [1],
    );
  });
});

Deno.test("queryHistory: the row budget stops a scan and the next page goes on from there", () => {
  const runs: SeedRun[] = Array.from({ length: 40 }, (_, i) => ({
    ref: i === 3 || i === 30 ? "needle:x" : "hay:x",
    startedAt: T + i * 1000,
  }));
  withSeeded(runs, (db, ids) => {
    const first = queryHistory(db, { text: "needle", scanLimit: 8, limit: 5 });
    assert.deepEqual(first.runs.map((e) => ids.indexOf(e.id)), []);
    assert.equal(first.partial, true);
    assert.equal(first.scanned, 8);
    // It looked at runs 39..32; the next page starts below run 32.
    assert.equal(first.older!.startedAt, T + 32 * 1000);
    const found: number[] = [];
    let page = first;
    let pages = 1;
    while (page.older) {
      page = queryHistory(db, {
        text: "needle",
        scanLimit: 8,
        limit: 5,
        before: page.older,
      });
      found.push(...page.runs.map((e) => ids.indexOf(e.id)));
      pages++;
    }
    assert.deepEqual(found, [30, 3]);
    assert.equal(pages, 5);
    assert.equal(page.partial, false);
    // A filled page says nothing about the budget.
    const full = queryHistory(db, { text: "hay", scanLimit: 8, limit: 5 });
    assert.equal(full.runs.length, 5);
    assert.equal(full.partial, false);
  });
});

Deno.test("refsByLastRun and hostRuns: every ref and host, most recent first", () => {
  const runs: SeedRun[] = [
    { ref: "b:x", startedAt: T },
    { ref: "a:x", startedAt: T + 1000 },
    { ref: "c:x", startedAt: T + 500 },
    { ref: "b:x", startedAt: T + 2000, status: "running", pid: Deno.pid },
  ];
  withSeeded(runs, (db) => {
    assert.deepEqual(refsByLastRun(db).map((r) => r.ref), [
      "b:x",
      "a:x",
      "c:x",
    ]);
    assert.deepEqual(refsByLastRun(db, { text: "A:" }).map((r) => r.ref), [
      "a:x",
    ]);
    const here = hostId(db);
    for (const self of [here, null]) {
      assert.deepEqual(hostRuns(db, self), [{
        hostId: here,
        runs: 4,
        running: 1,
        lastStartedAt: T + 2000,
      }]);
    }
  });
});

Deno.test("flakiness: two or more outcome changes with the same arguments within the window", () => {
  const s = (
    status: "succeeded" | "failed" | "killed",
    i: number,
  ): SeedRun => ({
    ref: "f:x",
    startedAt: T + i * 1000,
    status,
  });
  // ok FAIL ok: flaky (two changes).
  withSeeded([s("succeeded", 0), s("failed", 1), s("succeeded", 2)], (db) => {
    const f = flakiness(db, "f:x");
    assert.equal(f.flaky, true);
    assert.equal(f.flips, 2);
    assert.equal(f.runs, 3);
    assert.equal(f.failures, 1);
    assert.equal(f.lastFlipAt, T + 2000);
  });
  // ok ok FAIL FAIL: broke once, not flaky; a killed run in between is no outcome.
  withSeeded(
    [
      s("succeeded", 0),
      s("succeeded", 1),
      s("failed", 2),
      s("killed", 3),
      s("failed", 4),
    ],
    (db) => {
      const f = flakiness(db, "f:x");
      assert.equal(f.flaky, false);
      assert.equal(f.flips, 1);
      assert.equal(f.runs, 4);
    },
  );
  // Outside the window it no longer counts.
  withSeeded(
    [
      s("failed", 0),
      s("succeeded", 1),
      s("failed", 2),
      s("succeeded", 3),
      s("succeeded", 4),
    ],
    (db) => {
      assert.equal(flakiness(db, "f:x").flaky, true);
      assert.equal(flakiness(db, "f:x", { window: 2 }).flaky, false);
      assert.equal(flakiness(db, "f:x", { minFlips: 4 }).flaky, false);
    },
  );
});

Deno.test("flakiness: outcome changes only count between runs with the same arguments", () => {
  const st = tempState("stint-flaky-");
  try {
    // Two argument lists, alternating: each list always has the same outcome.
    seedRuns(
      st.db,
      Array.from({ length: 6 }, (_, i) => ({
        ref: "f:x",
        startedAt: T + i * 1000,
        status: i % 2 ? "failed" as const : "succeeded" as const,
      })),
    );
    withStore(st.db, (db) => {
      db.exec(
        "UPDATE executions SET args = CASE WHEN status = 'failed' THEN '[\"--slow\"]' ELSE '[]' END",
      );
      const f = flakiness(db, "f:x");
      assert.equal(
        f.flaky,
        false,
        "a different argument list is a different test",
      );
      assert.equal(f.flips, 0);
      db.exec("UPDATE executions SET args = '[\"--slow\"]'");
      const g = flakiness(db, "f:x");
      assert.equal(g.flaky, true);
      assert.equal(g.flips, 5);
      assert.deepEqual(g.args, ["--slow"]);
    });
  } finally {
    Deno.removeSync(st.dir, { recursive: true });
  }
});
