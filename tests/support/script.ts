/**
 * script(1) (util-linux) gives a child a pseudo-terminal: tests of what a
 * command prints on a terminal use it, and are ignored where it is missing.
 * @module
 */
import { MAIN } from "./cli.ts";

/** Whether script(1) is installed. */
export const HAS_SCRIPT: boolean = (() => {
  try {
    new Deno.Command("script", { args: ["--version"], stdout: "null" })
      .outputSync();
    return true;
  } catch {
    return false;
  }
})();

/**
 * Run the stint CLI on a pty under script(1) with exactly `env` (plus this
 * process's environment without `STINT_BUCKET`); what it printed, stdout and
 * stderr together as the terminal saw them.
 */
export async function stintOnTty(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; text: string }> {
  const base = Deno.env.toObject();
  delete base.STINT_BUCKET;
  const quoted = args.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  const out = await new Deno.Command("script", {
    args: [
      "-qec",
      `${Deno.execPath()} run -A --quiet ${MAIN} ${quoted}`,
      "/dev/null",
    ],
    env: { ...base, ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, text: new TextDecoder().decode(out.stdout) };
}
