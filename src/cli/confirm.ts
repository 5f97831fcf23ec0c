/**
 * Asking before destructive commands.
 * @module
 */
import { UsageError } from "../errors.ts";

/**
 * Ask `question` on the terminal unless `yes`. Without a terminal (scripts,
 * CI) a destructive command needs `--yes`, so nothing is destroyed by accident.
 */
export function confirm(
  question: string,
  options: { yes: boolean; command: string },
): boolean {
  if (options.yes) return true;
  if (!Deno.stdin.isTerminal()) {
    throw new UsageError(
      `${
        question.replace(/\?$/, "")
      }: pass --yes to confirm (stint ${options.command})`,
    );
  }
  const answer = prompt(`${question} [y/N]`);
  return answer !== null && /^y(es)?$/i.test(answer.trim());
}
