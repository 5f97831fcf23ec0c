/**
 * Datastore benchmarks: the cost of one open-per-operation write, many
 * processes writing one file (small rows; and 48 writers of values up to
 * 16 MiB), and the last-50 query over a million rows.
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import {
  listExecutions,
  startExecution,
  uuidv7,
  withStore,
} from "../src/store/mod.ts";
import { makeBigStore } from "./fixtures.ts";
import { lostWrites, opBytes } from "../tests/fixtures/heavy_writer.ts";
import { type BenchResult, median, timeMedian } from "./result.ts";

const WRITER = new URL("../tests/fixtures/writer.ts", import.meta.url).pathname;
const HEAVY = new URL("../tests/fixtures/heavy_writer.ts", import.meta.url)
  .pathname;

/** Run the store benchmarks. `rows` defaults to 1,000,000. */
export async function benchStore(
  options?: { rows?: number },
): Promise<BenchResult[]> {
  const dir = Deno.makeTempDirSync({ prefix: "stint-bench-store-" });
  try {
    return [
      await openWriteClose(dir),
      await manyWriters(dir, 32, 200),
      await heavyWriters(dir, 48, 12),
      lastFifty(dir, options?.rows ?? 1_000_000),
    ];
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

async function openWriteClose(dir: string): Promise<BenchResult> {
  const db = join(dir, "ops.db");
  const raw = join(dir, "raw.db");
  withStore(db, () => {});
  const r = new DatabaseSync(raw);
  r.exec(
    "PRAGMA journal_mode=WAL; CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT)",
  );
  r.close();
  // Baseline: the bare minimum of open + one insert + close with node:sqlite.
  const baseline = await timeMedian(300, () => {
    const c = new DatabaseSync(raw, { timeout: 5000 });
    c.prepare("INSERT INTO t (id, v) VALUES (?, ?)").run(uuidv7(), "x");
    c.close();
  });
  const value = await timeMedian(300, () => {
    withStore(db, (conn) => {
      startExecution(conn, { id: uuidv7(), ref: "bench:op", command: "x" });
    });
  });
  return {
    name: "open + write execution + close (one operation)",
    value,
    unit: "ms",
    baseline,
    ratio: value / baseline,
  };
}

async function manyWriters(
  dir: string,
  processes: number,
  writes: number,
): Promise<BenchResult> {
  const run = async (db: string, procs: number, each: number) => {
    const t = performance.now();
    const outs = await Promise.all(
      Array.from(
        { length: procs },
        (_, w) =>
          new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", "--quiet", WRITER, db, String(w), String(each)],
            stdout: "piped",
            stderr: "null",
          }).output(),
      ),
    );
    const ms = performance.now() - t;
    let errors = 0;
    for (const o of outs) {
      errors += o.code === 0
        ? JSON.parse(new TextDecoder().decode(o.stdout)).errors
        : each;
    }
    const rows = withStore(
      db,
      (c) => Number(c.prepare("SELECT COUNT(*) AS n FROM executions").get()?.n),
    );
    return { ms, errors, lost: procs * each - rows };
  };
  // Baseline: the same number of writes from one process (no contention).
  const single = await run(join(dir, "single.db"), 1, processes * writes);
  const many = await run(join(dir, "many.db"), processes, writes);
  const total = processes * writes;
  const value = total / (many.ms / 1000);
  const baseline = total / (single.ms / 1000);
  return {
    name: `${processes} processes x ${writes} writes on one file (throughput)`,
    value,
    unit: "writes/s",
    baseline,
    ratio: value / baseline,
    note: `errors ${many.errors}, lost rows ${many.lost} (budget 0 / 0)`,
    ok: many.errors === 0 && many.lost === 0,
  };
}

/**
 * `processes` writers, each doing `ops` writes that cycle through cache
 * values of 16 MiB, 4 MiB, 256 KiB and 64 KiB, 1 MiB vars and run records
 * (spec section 9: 0 failures, 0 lost writes). Throughput in MiB/s against
 * the same writes from one process, and the slowest single write.
 */
async function heavyWriters(
  dir: string,
  processes: number,
  ops: number,
): Promise<BenchResult> {
  const run = async (db: string, writers: number[]) => {
    const t = performance.now();
    const outs = await Promise.all(
      writers.map((w) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", HEAVY, db, String(w), String(ops)],
          stdout: "piped",
          stderr: "null",
        }).output()
      ),
    );
    const ms = performance.now() - t;
    let errors = 0;
    let slowestMs = 0;
    for (const o of outs) {
      if (o.code !== 0) {
        errors += ops;
        continue;
      }
      const r = JSON.parse(new TextDecoder().decode(o.stdout));
      errors += r.errors;
      slowestMs = Math.max(slowestMs, r.slowestMs);
    }
    return { ms, errors, slowestMs };
  };
  const writers = Array.from({ length: processes }, (_, w) => w);
  const mib = processes *
    Array.from({ length: ops }, (_, op) => opBytes(op)).reduce((a, b) =>
      a + b
    ) / (1 << 20);
  // Baseline: the same writes from one process at a time (no contention).
  const singleDb = join(dir, "heavy-single.db");
  const t = performance.now();
  for (const w of writers) await run(singleDb, [w]);
  const singleMs = performance.now() - t;
  Deno.removeSync(singleDb);
  const db = join(dir, "heavy-many.db");
  const many = await run(db, writers);
  const lost = lostWrites(db, processes, ops);
  for (const f of [db, `${db}-wal`, `${db}-shm`]) {
    try {
      Deno.removeSync(f);
    } catch {
      // not there
    }
  }
  const value = mib / (many.ms / 1000);
  const baseline = mib / (singleMs / 1000);
  return {
    name: `${processes} writers x ${ops} writes of values up to 16 MiB (${
      mib.toFixed(0)
    } MiB, throughput)`,
    value,
    unit: "MiB/s",
    baseline,
    ratio: value / baseline,
    note:
      `errors ${many.errors}, lost writes ${lost.length} (budget 0 / 0); slowest write ${
        (many.slowestMs / 1000).toFixed(1)
      } s, busy timeout 30 s; ${(many.ms / 1000).toFixed(1)} s in all`,
    ok: many.errors === 0 && lost.length === 0,
  };
}

function lastFifty(dir: string, rows: number): BenchResult {
  const db = makeBigStore(dir, rows);
  return withStore(db, (conn) => {
    const xs: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < 200; i++) {
      const ref = `bench:task-${i % 100}`;
      let t = performance.now();
      const got = listExecutions(conn, { ref, limit: 50 });
      xs.push(performance.now() - t);
      if (got.length !== 50) {
        throw new Error(`expected 50 rows, got ${got.length}`);
      }
      // Baseline: a primary-key lookup of one row, the cheapest read there is.
      t = performance.now();
      conn.prepare("SELECT * FROM executions WHERE id = ?").get(got[0].id);
      base.push(performance.now() - t);
    }
    const value = median(xs);
    return {
      name: `last 50 runs of one ref, ${rows.toLocaleString("en")} rows stored`,
      value,
      unit: "ms",
      baseline: median(base),
      ratio: value / median(base),
      budget: 2,
      budgetOf: "value",
    };
  });
}
