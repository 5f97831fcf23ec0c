/**
 * `stint status` (placeholder until its issue lands; replaced by the real module).
 * @module
 */
import { StintError } from "../errors.ts";
import type { Context } from "./context.ts";

/** Help for `stint status`. */
export const help = "Usage: stint status (not built yet)";

/** Run `stint status`. */
export function run(_args: string[], _ctx: Context): number {
  throw new StintError("stint status is not built yet");
}
