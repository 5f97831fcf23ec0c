/**
 * `stint cache` (placeholder until its issue lands; replaced by the real module).
 * @module
 */
import { StintError } from "../errors.ts";
import type { Context } from "./context.ts";

/** Help for `stint cache`. */
export const help = "Usage: stint cache (not built yet)";

/** Run `stint cache`. */
export function run(_args: string[], _ctx: Context): number {
  throw new StintError("stint cache is not built yet");
}
