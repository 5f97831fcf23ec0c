/**
 * Seq ranges of another host applied beyond its contiguous cursor (the
 * segments after a missing one): a cursor plus a few disjoint ranges above
 * it, merged as ranges arrive.
 * @module
 */

/** A seq range `[from, to]`. */
export type SeqRange = [number, number];

/** Ranges from their stored JSON; anything malformed is dropped. */
export function parseRanges(raw: string | undefined): SeqRange[] {
  if (raw === undefined) return [];
  try {
    const v = JSON.parse(raw);
    return Array.isArray(v)
      ? v.filter((r): r is SeqRange =>
        Array.isArray(r) && Number.isSafeInteger(r[0]) &&
        Number.isSafeInteger(r[1]) && r[0] <= r[1]
      )
      : [];
  } catch {
    return [];
  }
}

/**
 * Add `range` to a cursor and the ranges above it: the cursor moves over
 * every range that now joins it, overlapping or touching ranges merge.
 */
export function absorbRange(
  cursor: number,
  ahead: SeqRange[],
  range: SeqRange,
): { cursor: number; ahead: SeqRange[] } {
  const out: SeqRange[] = [];
  for (const [from, to] of [...ahead, range].sort((a, b) => a[0] - b[0])) {
    if (to <= cursor) continue;
    if (from <= cursor + 1) cursor = to;
    else if (out.length && from <= out[out.length - 1][1] + 1) {
      out[out.length - 1][1] = Math.max(out[out.length - 1][1], to);
    } else out.push([from, to]);
  }
  // A cursor that caught up may now join ranges kept before it.
  while (out.length && out[0][0] <= cursor + 1) {
    cursor = Math.max(cursor, out.shift()![1]);
  }
  return { cursor, ahead: out };
}
