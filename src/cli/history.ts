/**
 * `stint history` (placeholder until its issue lands; replaced by the real module).
 * @module
 */
import { StintError } from "../errors.ts";
import type { Context } from "./context.ts";

/** Help for `stint history`. */
export const help = "Usage: stint history (not built yet)";

/** Run `stint history`. */
export function run(_args: string[], _ctx: Context): number {
  throw new StintError("stint history is not built yet");
}
