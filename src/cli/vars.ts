/**
 * `stint vars` (placeholder until its issue lands; replaced by the real module).
 * @module
 */
import { StintError } from "../errors.ts";
import type { Context } from "./context.ts";

/** Help for `stint vars`. */
export const help = "Usage: stint vars (not built yet)";

/** Run `stint vars`. */
export function run(_args: string[], _ctx: Context): number {
  throw new StintError("stint vars is not built yet");
}
