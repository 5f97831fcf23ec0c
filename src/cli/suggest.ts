/**
 * "Did you mean" suggestions for unknown commands, tasks and keys.
 * @module
 */

/** Names within a small edit distance of `input` (or sharing its prefix), closest first. */
export function closeMatches(
  input: string,
  names: string[],
  max = 3,
): string[] {
  const scored = names.map((n) => ({
    n,
    d: distance(input.toLowerCase(), n.toLowerCase()),
  }))
    .filter(({ n, d }) =>
      d <= Math.max(1, Math.floor(input.length / 3)) ||
      (input.length >= 3 && n.toLowerCase().startsWith(input.toLowerCase()))
    )
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n));
  return scored.slice(0, max).map((s) => s.n);
}

/**
 * Edit distance counting an insertion, a deletion, a substitution or a
 * swap of two adjacent characters as one edit (optimal string alignment),
 * so `biuld` is one edit from `build`.
 */
export function distance(a: string, b: string): number {
  // rows[i][j]: distance between a[0..i) and b[0..j)
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push([i]);
    for (let j = 1; j <= b.length; j++) rows[i].push(i === 0 ? j : 0);
  }
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(
        rows[i - 1][j] + 1,
        rows[i][j - 1] + 1,
        rows[i - 1][j - 1] + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, rows[i - 2][j - 2] + 1);
      }
      rows[i][j] = d;
    }
  }
  return rows[a.length][b.length];
}
