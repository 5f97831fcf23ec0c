/**
 * `stint vars get k` three scopes deep (the value lives in root, so the
 * lookup walks the whole chain) against `deno run` of a script that opens
 * the same SQLite file and reads the var. Budget (spec section 9): <= 1.3.
 * @module
 */
import { join } from "node:path";
import { withStore } from "../src/store/open.ts";
import { createScope, setVar } from "../src/store/vars.ts";
import { type BenchResult, median } from "./result.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const BASELINE = new URL("./vars_baseline.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

/** Run the vars benchmark: `rounds` alternating runs of each command. */
export async function benchVars(
  options?: { rounds?: number },
): Promise<BenchResult[]> {
  const rounds = options?.rounds ?? 25;
  const dir = Deno.makeTempDirSync({ prefix: "stint-bench-vars-" });
  try {
    const db = join(dir, "stint.db");
    const scope = withStore(db, (conn) => {
      setVar(conn, "k", "value-from-root");
      // Filler so the lookup is not served from an almost empty file.
      for (let i = 0; i < 200; i++) setVar(conn, `filler-${i}`, "x");
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
    delete env.STINT_BUCKET;
    const stintGet = () =>
      timeOnce(["run", "-A", "--quiet", MAIN, "vars", "get", "k"], env);
    const bare = () =>
      timeOnce(["run", "-A", "--quiet", BASELINE, db, "k"], env);
    // Warm Deno's module cache for both before timing.
    await stintGet();
    await bare();
    const a: number[] = [];
    const b: number[] = [];
    // Alternate so background load hits both sides alike.
    for (let i = 0; i < rounds; i++) {
      a.push(await stintGet());
      b.push(await bare());
    }
    const value = median(a);
    const baseline = median(b);
    return [{
      name:
        "stint vars get k, 3 scopes deep (vs deno run opening the same file)",
      value,
      unit: "ms",
      baseline,
      ratio: value / baseline,
      budget: 1.3,
    }];
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

async function timeOnce(
  args: string[],
  env: Record<string, string>,
): Promise<number> {
  const t = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    env,
    clearEnv: true,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t;
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0 || text !== "value-from-root\n") {
    throw new Error(
      `bench command failed (exit ${out.code}): ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
  return ms;
}
