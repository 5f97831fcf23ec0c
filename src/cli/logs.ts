/**
 * `stint logs` (placeholder until its issue lands; replaced by the real module).
 * @module
 */
import { StintError } from "../errors.ts";
import type { Context } from "./context.ts";

/** Help for `stint logs`. */
export const help = "Usage: stint logs (not built yet)";

/** Run `stint logs`. */
export function run(_args: string[], _ctx: Context): number {
  throw new StintError("stint logs is not built yet");
}
