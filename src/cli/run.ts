/**
 * `stint run` (placeholder until its issue lands; replaced by the real module).
 * @module
 */
import { StintError } from "../errors.ts";
import type { Context } from "./context.ts";

/** Help for `stint run`. */
export const help = "Usage: stint run (not built yet)";

/** Run `stint run`. */
export function run(_args: string[], _ctx: Context): number {
  throw new StintError("stint run is not built yet");
}
