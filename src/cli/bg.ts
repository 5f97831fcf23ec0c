/**
 * `stint bg` (placeholder until its issue lands; replaced by the real module).
 * @module
 */
import { StintError } from "../errors.ts";
import type { Context } from "./context.ts";

/** Help for `stint bg`. */
export const help = "Usage: stint bg (not built yet)";

/** Run `stint bg`. */
export function run(_args: string[], _ctx: Context): number {
  throw new StintError("stint bg is not built yet");
}
