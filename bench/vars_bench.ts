/**
 * The read commands scripts call in loops, each against `deno run` of a
 * script that opens the same SQLite file and reads the same row (spec
 * section 9: both <= 1.2), measured interleaved in one run:
 * - `stint vars get k` three scopes deep (the value lives in root, so the
 *   lookup walks the whole chain);
 * - `stint cache get k`;
 * - inside a task (one process with the same STINT_SCOPE), the typed API's
 *   `vars.get("k")` against spawning the `stint vars get k` it replaces
 *   (spec section 9: >= 10x faster; reported as API time / CLI time, so the
 *   budget is a ratio <= 0.1).
 * @module
 */
import { join } from "node:path";
import { withStore } from "../src/store/open.ts";
import { createScope, setVar } from "../src/store/vars.ts";
import { cacheSet } from "../src/store/cache.ts";
import { type BenchResult, median } from "./result.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const VARS_BASELINE = new URL("./vars_baseline.ts", import.meta.url).pathname;
const CACHE_BASELINE = new URL("./cache_baseline.ts", import.meta.url)
  .pathname;
const API_TASK = new URL("./api_task.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

/** What the benchmarks read: a var in root and a cache entry. */
export const VAR_VALUE = "value-from-root";
/** The cached bytes (text, so the check can compare). */
export const CACHE_VALUE = "cached-value-bytes";

/** A store with a var three scopes deep (plus filler) and a cache entry. */
export interface ReadFixture {
  /** The store file. */
  db: string;
  /** The innermost of the three nested scopes. */
  scope: string;
  /** Environment for a spawned process: the store, the scope, no bucket. */
  env: Record<string, string>;
}

/** Build the fixture in `dir`. */
export function makeReadFixture(dir: string): ReadFixture {
  const db = join(dir, "stint.db");
  const scope = withStore(db, (conn) => {
    setVar(conn, "k", VAR_VALUE);
    // Filler so the lookups are not served from an almost empty file.
    for (let i = 0; i < 200; i++) {
      setVar(conn, `filler-${i}`, "x");
      cacheSet(conn, `filler-${i}`, new Uint8Array(64));
    }
    cacheSet(conn, "k", new TextEncoder().encode(CACHE_VALUE));
    let parent = createScope(conn);
    for (let depth = 2; depth <= 3; depth++) {
      parent = createScope(conn, { parent });
    }
    return parent;
  });
  const env: Record<string, string> = {
    ...Deno.env.toObject(),
    STINT_DB: db,
    STINT_SCOPE: scope,
  };
  for (const k of ["STINT_BUCKET", "STINT_RUN_ID"]) delete env[k];
  return { db, scope, env };
}

/** Run the read benchmarks: `rounds` alternating runs of each command. */
export async function benchVars(
  options?: { rounds?: number },
): Promise<BenchResult[]> {
  const rounds = options?.rounds ?? 50;
  const dir = Deno.makeTempDirSync({ prefix: "stint-bench-vars-" });
  try {
    const { db, env } = makeReadFixture(dir);
    const series = {
      varsGet: () =>
        timeOnce(["run", "-A", "--quiet", MAIN, "vars", "get", "k"], {
          env,
          expect: VAR_VALUE + "\n",
        }),
      varsBase: () =>
        timeOnce(["run", "-A", "--quiet", VARS_BASELINE, db, "k"], {
          env,
          expect: VAR_VALUE + "\n",
        }),
      cacheGet: () =>
        timeOnce(["run", "-A", "--quiet", MAIN, "cache", "get", "k"], {
          env,
          expect: CACHE_VALUE,
        }),
      cacheBase: () =>
        timeOnce(["run", "-A", "--quiet", CACHE_BASELINE, db, "k"], {
          env,
          expect: CACHE_VALUE,
        }),
    };
    const t = await interleaved(series, rounds);
    const api = await apiInTask(env, rounds);
    return [
      ratio(
        "stint vars get k, 3 scopes deep (vs deno run opening the same file)",
        t.varsGet,
        t.varsBase,
      ),
      ratio(
        "stint cache get k (vs deno run opening the same file)",
        t.cacheGet,
        t.cacheBase,
      ),
      {
        name:
          "API vars.get inside a task (vs spawning stint vars get from that task)",
        value: api.api,
        unit: "ms",
        baseline: api.cli,
        ratio: api.api / api.cli,
        budget: 0.1,
        note: `${(api.cli / api.api).toFixed(0)}x faster; first call ${
          api.first.toFixed(2)
        } ms, importing mod.ts ${api.import.toFixed(1)} ms (once per task)`,
      },
    ];
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * The ratio is the median of the rounds' own ratios (each command against
 * the baseline run next to it): the shared machine changes speed for
 * seconds at a time, and a ratio of the two medians can then pair a fast
 * stretch of one series with a slow stretch of the other (1.08 to 1.35 on
 * the same code, three runs in a row). The medians are printed too.
 */
function ratio(name: string, value: number[], base: number[]): BenchResult {
  const v = median(value);
  const b = median(base);
  const paired = median(value.map((x, i) => x / base[i]));
  return {
    name,
    value: v,
    unit: "ms",
    baseline: b,
    ratio: paired,
    budget: 1.2,
    note:
      `median of ${value.length} paired rounds' ratios; ratio of the medians ${
        (v / b).toFixed(2)
      }`,
  };
}

/** Run bench/api_task.ts (the task side) and read its medians. */
async function apiInTask(
  env: Record<string, string>,
  rounds: number,
): Promise<{ api: number; cli: number; first: number; import: number }> {
  const out = await deno(
    ["run", "-A", "--quiet", API_TASK, String(rounds)],
    env,
  );
  if (out.code !== 0) {
    throw new Error(
      `bench api task failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** `deno <args>` in the repository with exactly `env`, output collected. */
function deno(
  args: string[],
  env: Record<string, string>,
): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args,
    env,
    clearEnv: true,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/**
 * Time every series `rounds` times, one of each per round, so background
 * load on the machine hits them alike. Each is run once first to warm
 * Deno's module cache.
 */
export async function interleaved<K extends string>(
  series: Record<K, () => Promise<number>>,
  rounds: number,
): Promise<Record<K, number[]>> {
  const keys = Object.keys(series) as K[];
  const out = {} as Record<K, number[]>;
  for (const k of keys) {
    await series[k]();
    out[k] = [];
  }
  for (let i = 0; i < rounds; i++) {
    for (const k of keys) out[k].push(await series[k]());
  }
  return out;
}

/** Spawn `deno <args>` once, check its output, return the wall time in ms. */
export async function timeOnce(
  args: string[],
  options: { env: Record<string, string>; expect: string },
): Promise<number> {
  const t = performance.now();
  const out = await deno(args, options.env);
  const ms = performance.now() - t;
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0 || text !== options.expect) {
    throw new Error(
      `bench command failed (exit ${out.code}, stdout ${
        JSON.stringify(text.slice(0, 80))
      }): ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return ms;
}
