/**
 * `stint sync` (placeholder until its issue lands; replaced by the real module).
 * @module
 */
import { StintError } from "../errors.ts";
import type { Context } from "./context.ts";

/** Help for `stint sync`. */
export const help = "Usage: stint sync (not built yet)";

/** Run `stint sync`. */
export function run(_args: string[], _ctx: Context): number {
  throw new StintError("stint sync is not built yet");
}
