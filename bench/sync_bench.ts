/**
 * Sync benchmarks against a real S3 endpoint over HTTP (fauxqs in-process):
 * a push after one new execution with a million rows stored (bytes and
 * time), an idle flush (requests), and a restore of a million executions
 * onto an empty machine (time). Baselines are measured in the same run.
 * @module
 */
import { join } from "node:path";
import {
  finishExecution,
  logPath,
  startExecution,
  uuidv7,
  withStore,
} from "../src/store/mod.ts";
import { ensurePrivateDir, logsDir } from "../src/store/paths.ts";
import { SyncEngine } from "../src/sync/engine.ts";
import { openBucket } from "../src/sync/open.ts";
import { startS3 } from "../tests/support/s3.ts";
import { makeBigStore } from "./fixtures.ts";
import { type BenchResult, median } from "./result.ts";

/** Run the sync benchmarks. `rows` defaults to 1,000,000. */
export async function benchSync(
  options?: { rows?: number },
): Promise<BenchResult[]> {
  const rows = options?.rows ?? 1_000_000;
  const dir = Deno.makeTempDirSync({ prefix: "stint-bench-sync-" });
  const s3 = await startS3();
  const saved = {
    id: Deno.env.get("AWS_ACCESS_KEY_ID"),
    secret: Deno.env.get("AWS_SECRET_ACCESS_KEY"),
  };
  Deno.env.set("AWS_ACCESS_KEY_ID", s3.accessKeyId);
  Deno.env.set("AWS_SECRET_ACCESS_KEY", s3.secretAccessKey);
  const bucket = openBucket({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    prefix: "bench/",
  });
  try {
    const db = makeBigStore(dir, rows);
    const engine = new SyncEngine(db, { bucket });
    // The first push of a big backlog becomes a snapshot.
    let t = performance.now();
    const first = await engine.push();
    const firstMs = performance.now() - t;
    const firstNote = `first push of ${rows} rows: ${
      first.snapshot ? "snapshot" : "segment"
    } of ${(first.bytes / 1024 / 1024).toFixed(1)} MiB in ${
      (firstMs / 1000).toFixed(1)
    } s`;

    // One new execution (with a 2 KiB log), then a push; five rounds.
    const bytes: number[] = [];
    const times: number[] = [];
    const baselines: number[] = [];
    ensurePrivateDir(logsDir(db));
    for (let i = 0; i < 5; i++) {
      const id = uuidv7();
      withStore(db, (c) => {
        startExecution(c, { id, ref: "bench:new", command: "x", logId: id });
        Deno.writeTextFileSync(
          logPath(db, id),
          `line ${i} ${"x".repeat(60)}\n`.repeat(30),
        );
        finishExecution(c, id, { status: "succeeded", exitCode: 0 });
      });
      t = performance.now();
      const r = await engine.push();
      times.push(performance.now() - t);
      bytes.push(r.bytes);
      // Baseline: one PUT of the same number of bytes.
      const body = new Uint8Array(r.bytes);
      t = performance.now();
      await bucket.put(`baseline/${i}`, body);
      baselines.push(performance.now() - t);
    }
    const pushBytes = median(bytes);

    // Idle flushes: no change, so no request.
    const before = bucket.requestCount;
    const idleTimes: number[] = [];
    for (let i = 0; i < 20; i++) {
      t = performance.now();
      await engine.push();
      idleTimes.push(performance.now() - t);
    }
    const idleRequests = bucket.requestCount - before;

    // Restore onto an empty machine; baseline: downloading the snapshot.
    const me = withStore(
      db,
      (c) =>
        String(
          c.prepare("SELECT value FROM meta WHERE key = 'host_id'").get()
            ?.value,
        ),
    );
    t = performance.now();
    const snap = await bucket.get(`hosts/${me}/snap.db`);
    const downloadMs = performance.now() - t;
    const target = join(dir, "restored", "stint.db");
    const restorer = new SyncEngine(target, { bucket });
    t = performance.now();
    const restored = await restorer.restore();
    const restoreMs = performance.now() - t;
    const count = withStore(
      target,
      (c) => Number(c.prepare("SELECT count(*) AS n FROM executions").get()?.n),
    );

    // gc with the million rows stored: a pull of everything listed, then
    // one indexed lookup per blob; the baseline is a plain pull.
    t = performance.now();
    await engine.pull();
    const pullMs = performance.now() - t;
    t = performance.now();
    const gc = await engine.gc();
    const gcMs = performance.now() - t;

    const late = await startDelay(dir, s3.env);

    return [
      {
        name: `push after 1 new execution, ${rows} rows stored (bytes)`,
        value: pushBytes / 1024,
        unit: "KiB",
        budget: 64,
        budgetOf: "value",
        note: firstNote,
      },
      {
        name: `push after 1 new execution, ${rows} rows stored (time)`,
        value: median(times),
        unit: "ms",
        baseline: median(baselines),
        ratio: median(times) / median(baselines),
        note: "baseline: one PUT of the same number of bytes",
      },
      {
        name: "idle flush (requests to the bucket)",
        value: idleRequests,
        unit: "requests",
        budget: 0,
        budgetOf: "value",
        note: `20 idle flushes, median ${median(idleTimes).toFixed(2)} ms each`,
      },
      {
        name: `restore of ${rows} executions onto an empty machine`,
        value: restoreMs,
        unit: "ms",
        baseline: downloadMs,
        ratio: restoreMs / downloadMs,
        budget: 10_000,
        budgetOf: "value",
        ok: restored.restored && count === rows + 5,
        note: `baseline: downloading the ${
          ((snap?.body.byteLength ?? 0) / 1024 / 1024).toFixed(1)
        } MiB snapshot; restored ${count} executions`,
      },
      {
        name: `sync gc, ${rows} rows stored (time)`,
        value: gcMs,
        unit: "ms",
        baseline: pullMs,
        ratio: gcMs / pullMs,
        ok: gc.skipped === undefined,
        note:
          `baseline: a pull; ${gc.blobs} blobs looked at, ${gc.referenced} referenced, ${gc.deletedBlobs} deleted`,
      },
      {
        name: "run start with the endpoint unresponsive (delay past no sync)",
        value: late.delay - late.baseline,
        unit: "ms",
        budget: 3_000,
        budgetOf: "value",
        note: `the task started ${
          late.delay.toFixed(0)
        } ms after the command (${
          late.baseline.toFixed(0)
        } ms with no bucket), with the default 3 s deadline; the command took ${
          late.total.toFixed(0)
        } ms in all`,
      },
    ];
  } finally {
    await bucket.close();
    await s3.stop();
    if (saved.id) Deno.env.set("AWS_ACCESS_KEY_ID", saved.id);
    else Deno.env.delete("AWS_ACCESS_KEY_ID");
    if (saved.secret) Deno.env.set("AWS_SECRET_ACCESS_KEY", saved.secret);
    else Deno.env.delete("AWS_SECRET_ACCESS_KEY");
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * How late a run starts when the endpoint accepts connections and never
 * answers (the pull before it waits at most the deadline), against the same
 * run with no bucket configured. Medians of 3 real `stint exec` processes.
 */
async function startDelay(
  dir: string,
  s3env: Record<string, string>,
): Promise<{ delay: number; baseline: number; total: number }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of listener) held.push(c);
    } catch {
      // closed
    }
  })();
  const main = new URL("../main.ts", import.meta.url).pathname;
  const once = async (env: Record<string, string>) => {
    const started = Date.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", main, "exec", "--", "date", "+%s%3N"],
      env: {
        ...env,
        STINT_DB: join(dir, "late", "stint.db"),
        STINT_QUIET: "1",
      },
      stdout: "piped",
      stderr: "null",
    }).output();
    const ran = Number(new TextDecoder().decode(out.stdout).trim());
    return { delay: ran - started, total: Date.now() - started };
  };
  try {
    const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
    const silent = { ...s3env, STINT_S3_ENDPOINT: url };
    const local = { ...s3env, STINT_BUCKET: "" };
    await once(local); // creates the store
    const late: { delay: number; total: number }[] = [];
    const base: number[] = [];
    for (let i = 0; i < 3; i++) {
      base.push((await once(local)).delay);
      late.push(await once(silent));
    }
    return {
      delay: median(late.map((l) => l.delay)),
      baseline: median(base),
      total: median(late.map((l) => l.total)),
    };
  } finally {
    listener.close();
    for (const c of held) c.close();
    await accepting;
  }
}

if (import.meta.main) {
  const rows = Number(Deno.args[0] ?? 1_000_000);
  for (const r of await benchSync({ rows })) console.log(r);
}
