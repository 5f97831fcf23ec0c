/**
 * `stint stats` (placeholder until its issue lands; replaced by the real module).
 * @module
 */
import { StintError } from "../errors.ts";
import type { Context } from "./context.ts";

/** Help for `stint stats`. */
export const help = "Usage: stint stats (not built yet)";

/** Run `stint stats`. */
export function run(_args: string[], _ctx: Context): number {
  throw new StintError("stint stats is not built yet");
}
