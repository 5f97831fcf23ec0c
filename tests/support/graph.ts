/**
 * The module graph Deno loads for an entry point, from `deno info --json`:
 * the modules reachable through code imports (static ones and
 * string-literal `import()`s, which Deno loads before the program starts,
 * run or not). Type-only imports are left out, as are computed
 * `import()`s: neither loads anything at start-up.
 * @module
 */
import assert from "node:assert/strict";

/** The repository root, as a file URL ending in a slash. */
export const ROOT_URL: string = new URL("../..", import.meta.url).href;

/** What `deno info` says `entry` (a path from the root) loads. */
export interface ModuleGraph {
  /** Every specifier (file:, node:, npm:, ...). */
  specifiers: string[];
  /** The repository's own modules, as paths from the root. */
  local: string[];
}

/** Ask `deno info --json` for the graph of `entry`. */
export async function moduleGraph(entry: string): Promise<ModuleGraph> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: new URL(ROOT_URL).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string } }[];
    }[];
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const todo = [...graph.roots];
  while (todo.length > 0) {
    const s = todo.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of bySpecifier.get(s)?.dependencies ?? []) {
      if (d.code) todo.push(d.code.specifier);
    }
  }
  const specifiers = [...seen].sort();
  const local = specifiers.filter((s) => s.startsWith(ROOT_URL)).map((s) =>
    s.slice(ROOT_URL.length)
  );
  return { specifiers, local };
}
