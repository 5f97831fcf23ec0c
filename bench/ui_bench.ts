/**
 * `stint ui` server time with 1,000,000 runs stored (spec section 9: every
 * page <= 200 ms). The dashboard's request handler is called in-process,
 * exactly as Deno.serve calls it (token, Host check, routing, the store
 * read, rendering, the whole body read), so the figure is server time
 * without the network. Each page's baseline is the same page on a store
 * holding 1 run, measured in the same run: the ratio shows what size costs.
 * @module
 */
import { join } from "node:path";
import { hostId, withStore } from "../src/store/mod.ts";
import { logPath, logsDir } from "../src/store/paths.ts";
import { ensurePrivateDir } from "../src/store/paths.ts";
import { makeGuard } from "../src/ui/security.ts";
import { createHandler } from "../src/ui/server.ts";
import { makeBigStore } from "./fixtures.ts";
import { type BenchResult, timeMedian } from "./result.ts";

/** The budget per page, in ms of server time. */
const BUDGET_MS = 200;

/**
 * Make the big store look used: a second host's runs (1 in 10), a rare
 * status (killed, 1 in 997), 5,000 finished background runs, and a 1 MiB
 * coloured log for the newest run.
 */
function varyStore(db: string): { logRun: string; otherHost: string } {
  return withStore(db, (conn) => {
    const here = hostId(conn);
    conn.exec("BEGIN IMMEDIATE");
    conn.prepare(
      "UPDATE executions SET host_id = 'ci-runner-2', origin = 'ci-runner-2' WHERE rowid % 10 = 3",
    ).run();
    conn.prepare(
      "UPDATE executions SET status = 'killed', signal = 'SIGTERM' WHERE rowid % 997 = 5",
    ).run();
    conn.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < 5000)
       INSERT INTO background_runs (id, execution_id, ref, command, pid, started_at, completed_at,
         status, exit_code, host_id, origin, seq, updated_at)
       SELECT printf('b%07d', i), NULL, 'bench:task-' || (i % 100), 'deno task x', 1000 + i,
         1700000000000 + i * 600000, 1700000000000 + i * 600000 + 5000,
         CASE WHEN i % 9 = 0 THEN 'failed' ELSE 'completed' END, i % 9 = 0, ?, ?, i + 1, 0
       FROM n`,
    ).run(here, here);
    conn.exec("COMMIT");
    const newest = conn.prepare(
      "SELECT id FROM executions ORDER BY started_at DESC LIMIT 1",
    ).get();
    return { logRun: String(newest!.id), otherHost: "ci-runner-2" };
  });
}

function writeLog(db: string, id: string): void {
  ensurePrivateDir(logsDir(db));
  const line =
    "\x1b[32mok\x1b[0m test \x1b[1mparser\x1b[0m handles <input> & friends ... 12ms\n";
  Deno.writeTextFileSync(
    logPath(db, id),
    line.repeat(Math.ceil(2 ** 20 / line.length)),
  );
}

interface Client {
  fetch(path: string): Promise<number>;
}

async function client(db: string): Promise<Client> {
  const token = "bench-token";
  const guard = await makeGuard(token, { port: 7777, hosts: ["127.0.0.1"] });
  const handler = createHandler({ dbPath: db, guard });
  return {
    async fetch(path: string): Promise<number> {
      const res = await handler(
        new Request(`http://127.0.0.1:7777${path}`, {
          headers: {
            host: "127.0.0.1:7777",
            cookie: `${guard.cookie}=${token}`,
            accept: "text/html",
          },
        }),
      );
      const body = await res.arrayBuffer();
      if (res.status !== 200) {
        throw new Error(
          `${path}: HTTP ${res.status} ${
            new TextDecoder().decode(body).slice(0, 200)
          }`,
        );
      }
      return body.byteLength;
    },
  };
}

/** Run the ui benchmarks. `rows` defaults to 1,000,000. */
export async function benchUi(
  options?: { rows?: number; repeats?: number },
): Promise<BenchResult[]> {
  const rows = options?.rows ?? 1_000_000;
  const n = options?.repeats ?? 7;
  const dir = Deno.makeTempDirSync({ prefix: "stint-bench-ui-" });
  try {
    const big = makeBigStore(dir, rows);
    const { logRun, otherHost } = varyStore(big);
    writeLog(big, logRun);
    const smallDir = join(dir, "small");
    Deno.mkdirSync(smallDir);
    const small = makeBigStore(smallDir, 1);
    const smallRun = withStore(
      small,
      (c) => String(c.prepare("SELECT id FROM executions").get()!.id),
    );
    writeLog(small, smallRun);
    // A cursor half-way down: page 10,000 must cost what page 1 costs.
    const mid = withStore(big, (c) =>
      c.prepare(
        "SELECT started_at, rowid FROM executions ORDER BY started_at DESC LIMIT 1 OFFSET ?",
      ).get(Math.floor(rows / 2))!);
    const cursor = `${mid.started_at}_${mid.rowid}`;
    const pages: [string, string, string][] = [
      ["runs (newest 50)", "/runs", "/runs"],
      ["runs, status=failed", "/runs?status=failed", "/runs?status=failed"],
      [
        "runs, status=killed (rare)",
        "/runs?status=killed",
        "/runs?status=killed",
      ],
      [
        `runs, host=${otherHost}`,
        `/runs?host=${otherHost}`,
        `/runs?host=${otherHost}`,
      ],
      [
        "runs, ref + status (budgeted scan)",
        "/runs?ref=bench:task-7&status=killed",
        "/runs?ref=bench:task-0&status=killed",
      ],
      [
        "runs, text with no match (budgeted scan)",
        "/runs?q=no-such-text",
        "/runs?q=no-such-text",
      ],
      ["runs, page half-way down (keyset)", `/runs?before=${cursor}`, "/runs"],
      [
        "runs, since 7d + until 1d",
        "/runs?since=2023-11-20&until=2023-12-01",
        "/runs?since=7d",
      ],
      ["api/runs", "/api/runs", "/api/runs"],
      [
        "a run with a 1 MiB log (last 256 KiB shown)",
        `/runs/${logRun}`,
        `/runs/${smallRun}`,
      ],
      [
        "a run's log searched (whole 1 MiB)",
        `/runs/${logRun}?q=friends`,
        `/runs/${smallRun}?q=friends`,
      ],
      ["tasks (15 refs, window 200 each)", "/tasks", "/tasks"],
      ["tasks page 5", "/tasks?page=5", "/tasks"],
      [
        "a task (chart of 500 runs)",
        "/tasks/bench%3Atask-7",
        "/tasks/bench%3Atask-0",
      ],
      ["api/tasks", "/api/tasks", "/api/tasks"],
      ["background", "/background", "/background"],
      ["hosts", "/hosts", "/hosts"],
      ["api/hosts", "/api/hosts", "/api/hosts"],
    ];
    const bigClient = await client(big);
    const smallClient = await client(small);
    const label = rows.toLocaleString("en");
    const results: BenchResult[] = [];
    for (const [name, path, smallPath] of pages) {
      let bytes = 0;
      const value = await timeMedian(n, async () => {
        bytes = await bigClient.fetch(path);
      });
      const baseline = await timeMedian(n, () => smallClient.fetch(smallPath));
      results.push({
        name: `ui ${name}, ${label} runs stored (server time)`,
        value,
        unit: "ms",
        baseline,
        ratio: value / baseline,
        budget: BUDGET_MS,
        budgetOf: "value",
        note: `${path} -> ${
          (bytes / 1024).toFixed(0)
        } KiB; baseline: the same page on a 1-run store`,
      });
    }
    return results;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
