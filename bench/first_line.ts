/**
 * A script with no imports beside main.ts (so Deno reads the same config
 * and lockfile for it): bench/run_trace.ts times its first line, the part
 * of "to stint's first line" that is Deno's own.
 * @module
 */
const origin = Number(Deno.env.get("STINT_TRACE")) - performance.timeOrigin;
const t = performance.now() - origin;
Deno.stderr.writeSync(
  new TextEncoder().encode(
    `stint-trace ${t.toFixed(2)} ${t.toFixed(2)} deno: to the first line\n`,
  ),
);
