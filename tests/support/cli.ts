/**
 * Shared test support: a private temp state dir per test and a way to spawn
 * the real CLI (`deno run -A main.ts ...`) with it.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";

/** The entry point every CLI test spawns. */
export const MAIN: string = new URL("../../main.ts", import.meta.url).pathname;

/** A temp dir with its own store path; `env` points stint at it. */
export interface TempState {
  /** The temp dir (holds `state/` and anything a test makes). */
  dir: string;
  /** The store file: `<dir>/state/stint.db`. */
  db: string;
  /** Environment for a spawned stint: STINT_DB, no colour, quiet, a private HOME/XDG dirs. */
  env: Record<string, string>;
}

/** Make a fresh temp state dir. */
export function tempState(prefix = "stint-test-"): TempState {
  const dir = Deno.makeTempDirSync({ prefix });
  const db = join(dir, "state", "stint.db");
  return {
    dir,
    db,
    env: {
      STINT_DB: db,
      NO_COLOR: "1",
      XDG_CONFIG_HOME: join(dir, "config"),
      XDG_STATE_HOME: join(dir, "xdg-state"),
    },
  };
}

/** What a finished stint process returned. */
export interface CliResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
}

/** Options for {@linkcode stint} and {@linkcode spawnStint}. */
export interface CliOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Bytes or text written to stdin (stdin is closed after). */
  stdin?: string | Uint8Array;
  /** Remove these variables from the inherited environment. */
  unset?: string[];
  /** Run stint under this command (e.g. `["faketime", "-f", "+1h"]`). */
  wrap?: string[];
}

function command(args: string[], options: CliOptions, piped: boolean) {
  const env: Record<string, string> = { ...options.env };
  const clear = [
    "STINT_RUN_ID",
    "STINT_SCOPE",
    "STINT_PARENT_RUN_ID",
    "STINT_BUCKET",
    ...(options.unset ?? []),
  ];
  const base = Deno.env.toObject();
  for (const k of clear) delete base[k];
  const argv = ["run", "-A", "--quiet", MAIN, ...args];
  const wrap = options.wrap ?? [];
  return new Deno.Command(wrap.length ? wrap[0] : Deno.execPath(), {
    args: wrap.length ? [...wrap.slice(1), Deno.execPath(), ...argv] : argv,
    cwd: options.cwd,
    env: { ...base, ...env },
    clearEnv: true,
    stdin: piped || options.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Run stint to completion and collect its output. */
export async function stint(
  args: string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const child = command(args, options, false).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(
      typeof options.stdin === "string"
        ? new TextEncoder().encode(options.stdin)
        : options.stdin,
    );
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    signal: out.signal,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    stdoutBytes: out.stdout,
  };
}

/** Start stint without waiting (for signal and background tests). */
export function spawnStint(
  args: string[],
  options: CliOptions = {},
): Deno.ChildProcess {
  return command(args, options, true).spawn();
}

/** Poll `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${options.what ?? "a condition"}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

/** Write a deno.json with `tasks` into a new project dir under `base`. */
export function makeProject(
  base: string,
  tasks: Record<string, unknown>,
  options: { name?: string; file?: string } = {},
): string {
  const dir = join(base, options.name ?? "proj");
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(
    join(dir, options.file ?? "deno.json"),
    JSON.stringify({ tasks }, null, 2),
  );
  return dir;
}

/**
 * A usage or user error: exactly one `stint: ...` line on stderr and no
 * stack frames. Returns the line.
 */
export function assertOneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0], /^stint: \S/);
  assert.doesNotMatch(stderr, /\n\s+at |\.ts:\d+:\d+/);
  return lines[0];
}

/**
 * A refused command: exit `code`, nothing on stdout, one `stint: ...` line on
 * stderr (no stack trace) matching `pattern`.
 */
export function assertFails(
  r: CliResult,
  code: number,
  pattern: RegExp,
): void {
  assert.equal(r.code, code, `exit ${r.code}, stderr: ${r.stderr}`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line expected: ${r.stderr}`);
  assert.match(lines[0], /^stint: (?:[A-Z"]|stint |--)/);
  assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/);
  assert.match(lines[0], pattern);
}

/** Remove a test's temp dir. */
export function cleanup(dir: string): void {
  Deno.removeSync(dir, { recursive: true });
}
