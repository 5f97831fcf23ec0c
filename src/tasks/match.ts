/**
 * Which tasks a name runs, as `deno task` decides: an exact name, or a
 * pattern with `*` (each `*` matches anything, the pattern is anchored at
 * the start only, so `build:*` and `buil*` both match `build:web`) with an
 * optional trailing exclusion group, `test:*(!e2e|slow)`, that drops a
 * match whose `*` captured one of the listed words.
 * @module
 */

/** A parsed task name filter. */
export type TaskFilter =
  | { kind: "exact"; name: string }
  | { kind: "pattern"; re: RegExp; exclusions: string[] };

/**
 * Parse `input` as deno does; null when deno rejects it (an exclusion
 * group without a `*`), so the caller defers to deno for its message.
 */
export function taskFilter(input: string): TaskFilter | null {
  let pattern = input;
  let exclusions: string[] = [];
  const open = input.lastIndexOf("(!");
  if (open !== -1 && input.endsWith(")")) {
    pattern = input.slice(0, open);
    exclusions = input.slice(open + 2, -1).split("|");
  }
  if (!pattern.includes("*")) {
    return exclusions.length > 0 ? null : { kind: "exact", name: input };
  }
  const source = pattern.split("*").map(escapeRegExp).join("(.*)");
  return { kind: "pattern", re: new RegExp(`^${source}`, "s"), exclusions };
}

/** Whether `name` is a wildcard pattern (deno matches it against every task). */
export function isPattern(name: string): boolean {
  return name.includes("*");
}

/** Whether `filter` selects the task `name`. */
export function filterMatches(filter: TaskFilter, name: string): boolean {
  if (filter.kind === "exact") return filter.name === name;
  const m = filter.re.exec(name);
  if (!m) return false;
  return !m.slice(1).some((cap) =>
    cap !== undefined && filter.exclusions.includes(cap)
  );
}

/** The names in `names` (in order) that `filter` selects. */
export function matchNames(filter: TaskFilter, names: string[]): string[] {
  return names.filter((n) => filterMatches(filter, n));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}
