/**
 * Read-side benchmarks with 1,000,000 executions stored: `stint history
 * <ref>` start-to-exit against the same command on a 1-row store (size must
 * not show) and against a bare `deno run` script that opens the same file
 * and runs the same query (the floor for any Deno CLI reading SQLite), plus
 * the other read commands against that floor for information. The
 * in-process last-50 query lives in store_bench.ts.
 * @module
 */
import { join } from "node:path";
import { makeBigStore } from "./fixtures.ts";
import { type BenchResult, median } from "./result.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

// The same query `stint history <ref>` runs, with the same connection setup,
// printing one line per row; nothing else. It writes with writeSync as stint
// does (console.log would cost it several ms and flatter stint).
const BASELINE = `import { DatabaseSync } from "node:sqlite";
const [path, ref] = Deno.args;
const db = new DatabaseSync(path, { timeout: 5000 });
db.exec("PRAGMA journal_mode = WAL");
const rows = db.prepare(
  "SELECT * FROM executions WHERE ref = ? ORDER BY started_at DESC, id DESC LIMIT 20",
).all(ref);
const out = rows.map((r) => [r.id, r.ref, r.started_at, r.duration_ms, r.status].join("  "));
Deno.stdout.writeSync(new TextEncoder().encode(out.join("\\n") + "\\n"));
db.close();
`;

/** Run the history benchmarks. `rows` defaults to 1,000,000. */
export async function benchHistory(
  options?: { rows?: number; repeats?: number },
): Promise<BenchResult[]> {
  const rows = options?.rows ?? 1_000_000;
  const n = options?.repeats ?? 15;
  const dir = Deno.makeTempDirSync({ prefix: "stint-bench-history-" });
  try {
    const db = makeBigStore(dir, rows);
    const script = join(dir, "baseline.ts");
    Deno.writeTextFileSync(script, BASELINE);
    const ref = "bench:task-7";
    const baselineArgs = ["run", "-A", "--quiet", script, db, ref];
    const stintArgs = (...a: string[]) => [
      "run",
      "-A",
      "--quiet",
      MAIN,
      "--db",
      db,
      ...a,
    ];
    const label = rows.toLocaleString("en");
    // The same command on a store holding 1 row: history must not get
    // slower as the store grows (every filter runs through an index).
    const small = join(dir, "small");
    Deno.mkdirSync(small);
    const smallDb = makeBigStore(small, 1);
    const [history, floor, tiny] = await timeRuns(n, [
      stintArgs("history", ref),
      baselineArgs,
      [
        "run",
        "-A",
        "--quiet",
        MAIN,
        "--db",
        smallDb,
        "history",
        "bench:task-0",
      ],
    ]);
    const results: BenchResult[] = [{
      name: `stint history <ref> start-to-exit, ${label} rows vs 1 row stored`,
      value: history,
      unit: "ms",
      baseline: tiny,
      ratio: history / tiny,
      budget: 1.2,
      note: "the same command on a 1-row store: size must not show",
    }, {
      name:
        `stint history <ref> start-to-exit, ${label} rows stored, vs bare deno run`,
      value: history,
      unit: "ms",
      baseline: floor,
      ratio: history / floor,
      note:
        "informative; baseline: deno run of a script that opens the same file and runs the same query",
    }];
    for (
      const [what, args] of [
        ["stint history --status failed --limit 5", [
          "history",
          "--status",
          "failed",
          "--limit",
          "5",
        ]],
        ["stint history refs", ["history", "refs"]],
        ["stint stats (all 100 refs)", ["stats"]],
      ] as const
    ) {
      const [value, base] = await timeRuns(
        Math.max(5, Math.floor(n / 3)),
        [stintArgs(...args), baselineArgs],
      );
      results.push({
        name: `${what} start-to-exit, ${label} rows stored`,
        value,
        unit: "ms",
        baseline: base,
        ratio: value / base,
        note: "informative; baseline as above",
      });
    }
    return results;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * Median wall time of each `deno <args>` command, run round-robin after a
 * warm-up so machine load hits them alike.
 */
async function timeRuns(n: number, commands: string[][]): Promise<number[]> {
  for (const c of commands) await runDeno(c);
  const times: number[][] = commands.map(() => []);
  for (let i = 0; i < n; i++) {
    for (const [j, c] of commands.entries()) times[j].push(await runDeno(c));
  }
  return times.map(median);
}

async function runDeno(args: string[]): Promise<number> {
  const t = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const ms = performance.now() - t;
  if (out.code !== 0) {
    throw new Error(
      `deno ${args.join(" ")} exited ${out.code}: ${
        new TextDecoder().decode(out.stderr).split("\n")[0]
      }`,
    );
  }
  if (out.stdout.length === 0) {
    throw new Error(`deno ${args.join(" ")} printed nothing`);
  }
  return ms;
}
