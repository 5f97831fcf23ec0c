/**
 * Start-up tracing for the run path: with `STINT_TRACE` set, each
 * {@linkcode mark} notes the time, and {@linkcode flushTrace} prints one
 * line per mark to stderr when stint exits. `STINT_TRACE=<epoch ms>` (what
 * bench/run_trace.ts passes: the moment it spawned stint) makes the times
 * relative to that, so the first mark shows how long Deno took to reach
 * stint's first line; `STINT_TRACE=1` makes them relative to the runtime's
 * time origin. Unset, a mark is one comparison: nothing is read or kept.
 * @module
 */

const setting = readSetting();
const marks: [string, number][] | null = setting === undefined ? null : [];
// main.ts imports this module first: Deno is at stint's first line.
mark("deno: to stint's first line");

function readSetting(): string | undefined {
  try {
    return Deno.env.get("STINT_TRACE") || undefined;
  } catch {
    return undefined;
  }
}

/** Note that the step `label` ended now (a no-op unless tracing). */
export function mark(label: string): void {
  marks?.push([label, performance.now()]);
}

/** Whether marks are being kept. */
export function tracing(): boolean {
  return marks !== null;
}

/**
 * Print the marks to stderr, one `stint-trace <ms since origin> <ms since
 * the previous mark> <label>` line each, and forget them.
 */
export function flushTrace(): void {
  if (!marks || marks.length === 0) return;
  const given = Number(setting);
  // The origin as an offset on performance.now()'s clock.
  const origin = Number.isFinite(given) && given > 1e12
    ? given - performance.timeOrigin
    : 0;
  let prev = origin;
  const lines = marks.map(([label, t]) => {
    const line = `stint-trace ${(t - origin).toFixed(2)} ${
      (t - prev).toFixed(2)
    } ${label}\n`;
    prev = t;
    return line;
  });
  marks.length = 0;
  try {
    Deno.stderr.writeSync(new TextEncoder().encode(lines.join("")));
  } catch {
    // no stderr
  }
}
