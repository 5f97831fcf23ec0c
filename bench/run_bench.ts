/**
 * Runner benchmarks: `stint run noop` against the floor for a Deno CLI that
 * delegates to `deno task` (`deno run empty.ts` + `deno task noop`, measured
 * in the same run, budget 1.3x), how long `stint run -b` takes to return,
 * and `stint run noop` on a terminal: in a pseudo-terminal (opened through
 * FFI, raw mode; and node-pty's forkpty, the fallback off Linux) against the
 * pipe path under the same terminal (`STINT_PTY=0`), budget 2x ("a few ms,
 * never double").
 * @module
 */
import { join } from "node:path";
import { type BenchResult, median } from "./result.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function time(
  args: string[],
  options: { cwd: string; env: Record<string, string> },
): Promise<number> {
  const t = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t;
  if (out.code !== 0) {
    throw new Error(
      `bench: deno ${args.join(" ")} exited ${out.code}: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
  return ms;
}

/**
 * A temp project with a `noop` task and an empty script, and the environment
 * that points stint at a store of its own there (no run, scope or bucket
 * inherited). The caller removes `dir`.
 */
export function makeRunProject(
  prefix: string,
): { dir: string; opts: { cwd: string; env: Record<string, string> } } {
  const dir = Deno.makeTempDirSync({ prefix });
  Deno.writeTextFileSync(
    join(dir, "deno.json"),
    JSON.stringify({ tasks: { noop: "true" } }),
  );
  Deno.writeTextFileSync(join(dir, "empty.ts"), "");
  const env: Record<string, string> = {
    ...Deno.env.toObject(),
    STINT_DB: join(dir, "state", "stint.db"),
    NO_COLOR: "1",
  };
  for (const k of ["STINT_RUN_ID", "STINT_SCOPE", "STINT_BUCKET"]) {
    delete env[k];
  }
  return { dir, opts: { cwd: dir, env } };
}

/** Run the runner benchmarks; `n` rounds each (default 21). */
export async function benchRun(
  options?: { n?: number },
): Promise<BenchResult[]> {
  const n = options?.n ?? 21;
  const { dir, opts } = makeRunProject("stint-bench-run-");
  try {
    const empty = ["run", "-A", "--quiet", "empty.ts"];
    const task = ["task", "noop"];
    const run = ["run", "-A", "--quiet", MAIN, "run", "noop"];
    const bg = ["run", "-A", "--quiet", MAIN, "run", "-b", "noop"];
    // Warm the module cache and create the store before timing anything.
    for (const a of [empty, task, run, bg]) await time(a, opts);
    const t: Record<string, number[]> = {
      empty: [],
      task: [],
      run: [],
      bg: [],
    };
    // Interleaved, so load on the machine hits every series alike.
    for (let i = 0; i < n; i++) {
      t.empty.push(await time(empty, opts));
      t.task.push(await time(task, opts));
      t.run.push(await time(run, opts));
      t.bg.push(await time(bg, opts));
    }
    const floor = median(t.empty) + median(t.task);
    const value = median(t.run);
    const bgValue = median(t.bg);
    // Let the background supervisors finish before the dir goes away.
    await new Promise((r) => setTimeout(r, 1_500));
    const terminal = await benchTerminal(n, opts);
    return [
      ...terminal,
      {
        name: "stint run noop vs deno run empty.ts + deno task noop",
        value,
        unit: "ms",
        baseline: floor,
        ratio: value / floor,
        budget: 1.3,
        note: `deno run empty.ts ${
          median(t.empty).toFixed(1)
        } ms, deno task noop ${median(t.task).toFixed(1)} ms (medians of ${n})`,
      },
      {
        name: "stint run -b noop: time to return",
        value: bgValue,
        unit: "ms",
        baseline: median(t.empty),
        ratio: bgValue / median(t.empty),
        note: "baseline: deno run empty.ts",
      },
    ];
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

interface OuterPty {
  onData(cb: (d: string) => void): unknown;
  onExit(cb: (e: { exitCode: number }) => void): unknown;
}

/** The user's terminal: node-pty's own API (bench-only, cost not measured). */
async function terminalRunner(): Promise<
  (
    args: string[],
    o: { cwd: string; env: Record<string, string> },
  ) => Promise<number>
> {
  const mod = await import("@lydell/node-pty");
  const pty = (mod.default ?? mod) as unknown as {
    spawn(f: string, a: string[], o: Record<string, unknown>): OuterPty;
  };
  return (args, o) =>
    new Promise((resolve, reject) => {
      const t = performance.now();
      let out = "";
      const p = pty.spawn(Deno.execPath(), args, {
        cwd: o.cwd,
        env: o.env,
        cols: 100,
        rows: 30,
      });
      p.onData((d) => out += d);
      p.onExit((e) => {
        const ms = performance.now() - t;
        if (e.exitCode === 0) resolve(ms);
        else {reject(
            new Error(
              `bench: deno ${
                args.join(" ")
              } exited ${e.exitCode}: ${out.trim()}`,
            ),
          );}
      });
    });
}

/** `stint run noop` on a terminal: the pty path against the pipe path. */
async function benchTerminal(
  n: number,
  opts: { cwd: string; env: Record<string, string> },
): Promise<BenchResult[]> {
  let inTerminal;
  try {
    inTerminal = await terminalRunner();
  } catch (err) {
    return [{
      name: "stint run noop on a terminal: pty path vs pipe path",
      value: 0,
      unit: "ms",
      note: `skipped: node-pty does not load (${(err as Error).message})`,
    }];
  }
  const run = ["run", "-A", "--quiet", MAIN, "run", "noop"];
  const pipes = { ...opts, env: { ...opts.env, STINT_PTY: "0" } };
  const forkpty = { ...opts, env: { ...opts.env, STINT_PTY: "node-pty" } };
  for (let i = 0; i < 2; i++) {
    await inTerminal(run, opts);
    await inTerminal(run, pipes);
    await inTerminal(run, forkpty);
  }
  const pty: number[] = [];
  const pipe: number[] = [];
  const node: number[] = [];
  for (let i = 0; i < n; i++) {
    pty.push(await inTerminal(run, opts));
    pipe.push(await inTerminal(run, pipes));
    node.push(await inTerminal(run, forkpty));
  }
  const value = median(pty);
  const baseline = median(pipe);
  return [{
    name: "stint run noop on a terminal: pty path vs pipe path",
    value,
    unit: "ms",
    baseline,
    ratio: value / baseline,
    budget: 2,
    note: `pty path ${value.toFixed(1)} ms, pipe path (STINT_PTY=0) ${
      baseline.toFixed(1)
    } ms, +${
      (value - baseline).toFixed(1)
    } ms (medians of ${n}, both under node-pty as the terminal)`,
  }, {
    name:
      "stint run noop on a terminal: node-pty's forkpty (STINT_PTY=node-pty) vs pipe path",
    value: median(node),
    unit: "ms",
    baseline,
    ratio: median(node) / baseline,
    budget: 2,
    note:
      "the fallback off Linux: loading node-pty's binary needs Node's process in Deno",
  }];
}

if (import.meta.main) {
  for (const r of await benchRun()) console.log(r);
}
