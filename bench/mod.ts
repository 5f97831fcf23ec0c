/**
 * `deno task bench`: every benchmark, each printed as a ratio against a
 * baseline measured in the same run, plus absolute medians.
 * Pass group names to run only some: `deno task bench store run`.
 * @module
 */
import type { BenchResult } from "./result.ts";
import { withinBudget } from "./result.ts";

const GROUPS: Record<string, () => Promise<BenchResult[]>> = {
  store: async () => (await import("./store_bench.ts")).benchStore(),
  history: async () => (await import("./history_bench.ts")).benchHistory(),
  vars: async () => (await import("./vars_bench.ts")).benchVars(),
  run: async () => (await import("./run_bench.ts")).benchRun(),
  sync: async () => (await import("./sync_bench.ts")).benchSync(),
  ui: async () => (await import("./ui_bench.ts")).benchUi(),
  memory: async () => (await import("./memory_bench.ts")).benchMemory(),
};

function fmt(n: number | undefined, unit = ""): string {
  if (n === undefined) return "-";
  const s = Math.abs(n) >= 100
    ? n.toFixed(0)
    : Math.abs(n) >= 1
    ? n.toFixed(2)
    : n.toFixed(3);
  return unit ? `${s} ${unit}` : s;
}

if (import.meta.main) {
  const wanted = Deno.args.length ? Deno.args : Object.keys(GROUPS);
  let over = 0;
  for (const name of wanted) {
    const group = GROUPS[name];
    if (!group) {
      console.error(
        `bench: unknown group "${name}"; groups: ${
          Object.keys(GROUPS).join(", ")
        }`,
      );
      Deno.exit(2);
    }
    console.log(`\n== ${name}`);
    for (const r of await group()) {
      const ok = withinBudget(r);
      if (!ok) over++;
      console.log(
        `${r.name}\n  value ${fmt(r.value, r.unit)}  baseline ${
          fmt(r.baseline, r.unit)
        }  ratio ${fmt(r.ratio)}${
          r.budget !== undefined
            ? `  budget ${fmt(r.budget)} ${ok ? "ok" : "OVER"}`
            : ""
        }${r.note ? `\n  ${r.note}` : ""}`,
      );
    }
  }
  console.log(
    over ? `\n${over} result(s) over budget` : "\nall results within budget",
  );
}
