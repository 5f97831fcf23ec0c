/**
 * A real terminal for tests: script(1) (util-linux) gives the child a
 * pseudo-terminal, sized with stty before the command starts.
 * @module
 */
import { MAIN } from "./cli.ts";

/** Whether script(1) is there to give a child a pty. */
export const HAS_SCRIPT: boolean = (() => {
  try {
    new Deno.Command("script", { args: ["--version"], stdout: "null" })
      .outputSync();
    return true;
  } catch {
    return false;
  }
})();

/** Quote a word for /bin/sh. */
export function shQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** What a command printed on its terminal (\r\n turned into \n). */
export interface PtyResult {
  code: number;
  output: string;
}

/**
 * Run `stint args...` on a pty (stdout and stderr are both the terminal),
 * `cols` columns wide when given. `COLUMNS` is removed so the terminal's
 * size counts.
 */
export async function stintOnPty(
  args: string[],
  options: { cols?: number; env?: Record<string, string>; cwd?: string },
): Promise<PtyResult> {
  const base = Deno.env.toObject();
  for (const k of ["COLUMNS", "STINT_RUN_ID", "STINT_SCOPE", "STINT_BUCKET"]) {
    delete base[k];
  }
  const line = [Deno.execPath(), "run", "-A", "--quiet", MAIN, ...args].map(
    shQuote,
  ).join(" ");
  const out = await new Deno.Command("script", {
    args: [
      "-qec",
      options.cols === undefined
        ? `exec ${line}`
        : `stty cols ${options.cols} rows 50; exec ${line}`,
      "/dev/null",
    ],
    env: { ...base, ...options.env },
    clearEnv: true,
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    output: new TextDecoder().decode(out.stdout).replaceAll("\r\n", "\n"),
  };
}

const ESCAPES = new RegExp(
  [
    "\x1b\\[[0-9;?]*[A-Za-z]", // CSI: colours, cursor moves, modes
    "\x1b\\][^\x07]*\x07", // OSC: window titles
    "\x1b[()][A-Z0-9]", // character sets
    "\x1b[=>]", // keypad modes
  ].join("|"),
  "g",
);

/** `text` without terminal escape sequences. */
export function stripEscapes(text: string): string {
  return text.replace(ESCAPES, "");
}
