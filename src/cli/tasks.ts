/**
 * `stint tasks` (placeholder until its issue lands; replaced by the real module).
 * @module
 */
import { StintError } from "../errors.ts";
import type { Context } from "./context.ts";

/** Help for `stint tasks`. */
export const help = "Usage: stint tasks (not built yet)";

/** Run `stint tasks`. */
export function run(_args: string[], _ctx: Context): number {
  throw new StintError("stint tasks is not built yet");
}
