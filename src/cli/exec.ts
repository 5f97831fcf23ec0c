/**
 * `stint exec` (placeholder until its issue lands; replaced by the real module).
 * @module
 */
import { StintError } from "../errors.ts";
import type { Context } from "./context.ts";

/** Help for `stint exec`. */
export const help = "Usage: stint exec (not built yet)";

/** Run `stint exec`. */
export function run(_args: string[], _ctx: Context): number {
  throw new StintError("stint exec is not built yet");
}
