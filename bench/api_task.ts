/**
 * The task side of the API benchmark: inside one process (as a TypeScript
 * task would run), `vars.get("k")` through the typed API against spawning
 * the `stint vars get k` it replaces, alternating. Prints JSON with the
 * medians in ms. Usage: `deno run -A api_task.ts <rounds>` with STINT_DB and
 * STINT_SCOPE set.
 * @module
 */
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const rounds = Number(Deno.args[0] ?? 25);

const t0 = performance.now();
const { vars } = await import("../mod.ts");
const importMs = performance.now() - t0;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const firstT = performance.now();
const first = vars.get("k");
const firstMs = performance.now() - firstT;
const api: number[] = [];
const cli: number[] = [];
for (let i = 0; i < rounds; i++) {
  let t = performance.now();
  const v = vars.get("k");
  api.push(performance.now() - t);
  t = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, "vars", "get", "k"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  cli.push(performance.now() - t);
  const text = new TextDecoder().decode(out.stdout).trimEnd();
  if (out.code !== 0 || text !== v || v !== first) {
    throw new Error(`api ${v}, cli ${text} (exit ${out.code})`);
  }
}
console.log(JSON.stringify({
  api: median(api),
  cli: median(cli),
  first: firstMs,
  import: importMs,
}));
