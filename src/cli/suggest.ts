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

/** Levenshtein distance. */
export function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(
        prev[j] + 1,
        prev[j - 1] + 1,
        diag + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diag = tmp;
    }
  }
  return prev[b.length];
}
