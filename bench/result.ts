/**
 * One benchmark figure: a measured value, the baseline measured in the same
 * run, their ratio, and the budget from spec section 9 when there is one.
 * @module
 */

/** A benchmark result. */
export interface BenchResult {
  /** What was measured. */
  name: string;
  /** The measured value (median where repeated). */
  value: number;
  /** Unit of `value` and `baseline`, e.g. "ms", "KiB", "requests". */
  unit: string;
  /** The baseline measured in the same run. */
  baseline?: number;
  /** value / baseline. */
  ratio?: number;
  /** The budget: a ratio when `baseline` is set, else an absolute value in `unit`. */
  budget?: number;
  /** What `budget` limits (default: the ratio when there is a baseline, else the value). */
  budgetOf?: "ratio" | "value";
  /** Set false when a hard requirement failed (errors, lost rows). */
  ok?: boolean;
  /** Extra facts worth printing (errors, counts). */
  note?: string;
}

/** The median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Time `fn` `n` times (after one warm-up) and return the median in ms. */
export async function timeMedian(
  n: number,
  fn: () => unknown,
): Promise<number> {
  await fn();
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    xs.push(performance.now() - t);
  }
  return median(xs);
}

/** Whether a result is within its budget (true when it has none). */
export function withinBudget(r: BenchResult): boolean {
  if (r.ok === false) return false;
  if (r.budget === undefined) return true;
  const of = r.budgetOf ?? (r.ratio !== undefined ? "ratio" : "value");
  return (of === "ratio" ? r.ratio! : r.value) <= r.budget;
}
