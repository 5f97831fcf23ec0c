/**
 * Where `stint run noop` spends its time, step by step: runs it `n` times
 * (default 21) with `STINT_TRACE=<the moment it was spawned>` (src/trace.ts),
 * interleaved with the floor (`deno run empty.ts`, `deno task noop`), and
 * prints the median of each step, the median time from the last mark to
 * the process's exit as seen from here, and the wall times.
 *
 *   deno run -A bench/run_trace.ts [n] [--pty] [-b] [--against <main.ts>]
 *
 * `--pty` runs everything under a pseudo-terminal (node-pty, as the run
 * bench does), so stint takes its pty path; `-b` traces `stint run -b noop`;
 * `--against` also times another checkout's main.ts in the same rounds (an
 * earlier commit, say), for a before/after on one machine at one time.
 * @module
 */
import { median } from "./result.ts";
import { makeRunProject } from "./run_bench.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const FIRST_LINE = new URL("./first_line.ts", import.meta.url).pathname;

/** One traced process: its wall time and its marks (label, ms since spawn). */
export interface Sample {
  wall: number;
  marks: [string, number][];
}

function parseMarks(stderr: string): [string, number][] {
  const marks: [string, number][] = [];
  for (const line of stderr.split("\n")) {
    const m = /^stint-trace (\S+) (\S+) (.*)$/.exec(line.replace(/\r$/, ""));
    if (m) marks.push([m[3], Number(m[1])]);
  }
  return marks;
}

/**
 * Run `deno <args>` with `STINT_TRACE` set to the moment it is spawned, its
 * output to /dev/null, and read the marks it prints to stderr.
 */
export async function runPiped(
  args: string[],
  o: { cwd: string; env: Record<string, string> },
): Promise<Sample> {
  const t0 = performance.timeOrigin + performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: o.cwd,
    env: { ...o.env, STINT_TRACE: String(t0) },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const wall = performance.timeOrigin + performance.now() - t0;
  const err = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`deno ${args.join(" ")}: ${err}`);
  return { wall, marks: parseMarks(err) };
}

interface OuterPty {
  onData(cb: (d: string) => void): unknown;
  onExit(cb: (e: { exitCode: number }) => void): unknown;
}

async function ptyRunner(): Promise<typeof runPiped> {
  const mod = await import("@lydell/node-pty");
  const pty = (mod.default ?? mod) as unknown as {
    spawn(f: string, a: string[], o: Record<string, unknown>): OuterPty;
  };
  return (args, o) =>
    new Promise((resolve, reject) => {
      const t0 = performance.timeOrigin + performance.now();
      let out = "";
      const p = pty.spawn(Deno.execPath(), args, {
        cwd: o.cwd,
        env: { ...o.env, STINT_TRACE: String(t0) },
        cols: 100,
        rows: 30,
      });
      p.onData((d) => out += d);
      p.onExit((e) => {
        const wall = performance.timeOrigin + performance.now() - t0;
        if (e.exitCode !== 0) {
          reject(new Error(`deno ${args.join(" ")}: ${out}`));
        } else resolve({ wall, marks: parseMarks(out) });
      });
    });
}

/** Trace `n` runs; returns the printed table's lines. */
export async function traceRun(
  options: {
    n?: number;
    pty?: boolean;
    background?: boolean;
    against?: string;
  } = {},
): Promise<string[]> {
  const n = options.n ?? 21;
  const { dir, opts: o } = makeRunProject("stint-trace-run-");
  try {
    const exec = options.pty ? await ptyRunner() : runPiped;
    const run = [
      "run",
      "-A",
      "--quiet",
      MAIN,
      "run",
      ...(options.background ? ["-b"] : []),
      "noop",
    ];
    const other = options.against
      ? run.map((a) => a === MAIN ? options.against! : a)
      : null;
    const empty = ["run", "-A", "--quiet", "empty.ts"];
    const task = ["task", "noop"];
    const probe = ["run", "-A", "--quiet", FIRST_LINE];
    for (let i = 0; i < 3; i++) {
      await exec(probe, o);
      await exec(empty, o);
      await exec(task, o);
      await exec(run, o);
      if (other) await exec(other, o);
    }
    const walls: Record<string, number[]> = {
      empty: [],
      task: [],
      run: [],
      other: [],
    };
    const steps = new Map<string, number[]>();
    const order: string[] = [];
    const tail: number[] = [];
    const firstLine: number[] = [];
    for (let i = 0; i < n; i++) {
      firstLine.push((await exec(probe, o)).marks[0][1]);
      walls.empty.push((await exec(empty, o)).wall);
      walls.task.push((await exec(task, o)).wall);
      const s = await exec(run, o);
      walls.run.push(s.wall);
      let prev = 0;
      for (const [label, t] of s.marks) {
        if (!steps.has(label)) {
          steps.set(label, []);
          order.push(label);
        }
        steps.get(label)!.push(t - prev);
        prev = t;
      }
      tail.push(s.wall - prev);
      if (other) walls.other.push((await exec(other, o)).wall);
      // Let a background supervisor finish before the next round.
      if (options.background) await new Promise((r) => setTimeout(r, 150));
    }
    const lines: string[] = [];
    const floor = median(walls.empty) + median(walls.task);
    let sum = 0;
    for (const label of order) {
      const m = median(steps.get(label)!);
      sum += m;
      lines.push(`${m.toFixed(2).padStart(7)}  ${label}`);
    }
    lines.push(
      `${
        median(tail).toFixed(2).padStart(7)
      }  exit (last mark to the process's end)`,
    );
    sum += median(tail);
    lines.push(
      `${sum.toFixed(2).padStart(7)}  sum of step medians`,
      "",
      `stint run${options.background ? " -b" : ""} noop ${
        median(walls.run).toFixed(1)
      } ms; deno run empty.ts ${
        median(walls.empty).toFixed(1)
      } ms; deno task noop ${median(walls.task).toFixed(1)} ms; floor ${
        floor.toFixed(1)
      } ms; ratio ${(median(walls.run) / floor).toFixed(2)} (medians of ${n}${
        options.pty ? ", under a pty" : ""
      })`,
    );
    lines.push(
      `an import-free script beside main.ts reaches its first line at ${
        median(firstLine).toFixed(1)
      } ms (Deno's start-up with stint's config and lockfile)`,
    );
    if (other) {
      lines.push(
        `${options.against}: ${median(walls.other).toFixed(1)} ms; ratio ${
          (median(walls.other) / floor).toFixed(2)
        }`,
      );
    }
    return lines;
  } finally {
    if (options.background) await new Promise((r) => setTimeout(r, 1_500));
    Deno.removeSync(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const n = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 21);
  const lines = await traceRun({
    n,
    pty: Deno.args.includes("--pty"),
    background: Deno.args.includes("-b"),
    against: Deno.args.includes("--against")
      ? Deno.args[Deno.args.indexOf("--against") + 1]
      : undefined,
  });
  console.log(lines.join("\n"));
}
