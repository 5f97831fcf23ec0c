/**
 * The seam between commands and the bucket-sync lifecycle (spec section 6):
 * start (restore or pull), a flush loop while `fn` runs, and one final flush.
 * With no bucket configured this only runs `fn`; the sync modules are loaded
 * only when a bucket is configured, so local-only commands never pay for it.
 * Nested stint processes (inside a run: STINT_RUN_ID is set) leave restore,
 * pull, flushing and the final push to the outermost one.
 * @module
 */
import { lazyImport } from "../lazy_import.ts";
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
 * settles (normal exit, error, or a signal that `fn` handled). Sync errors
 * are reported, never thrown, and never change what `fn` returns. After a
 * `fn` that succeeded, the hourly housekeeping pass (retention, the log
 * budget) runs when it is due, before the final push so its tombstones go
 * with it: one `lstat` otherwise.
 */
export async function withSyncSession<T>(
  ctx: Context,
  options: SyncSessionOptions,
  fn: () => Promise<T>,
): Promise<T> {
  // Inside a run the outermost stint syncs and keeps house.
  if (env("STINT_RUN_ID")) return await fn();
  const work = async (): Promise<T> => {
    const result = await fn();
    await keepHouse(ctx);
    return result;
  };
  if (!maybeConfigured()) return await work();
  let loaded;
  try {
    const { loadSyncConfig } = await lazyImport<
      typeof import("../sync/config.ts")
    >(new URL("../sync/config.ts", import.meta.url));
    const resolved = loadSyncConfig();
    const config = resolved.config;
    // A command may open two sessions (a reading command restores a missing
    // store first, then writes): a bad setting is still one warning.
    const warnings = warned ? [] : resolved.warnings;
    warned = true;
    if (config === null) {
      if (warnings.length > 0 && !ctx.quiet && ctx.stderrIsTty) {
        for (const w of warnings) console.error(`sync: ${w}`);
      }
      return await work();
    }
    const session = await lazyImport<typeof import("../sync/session.ts")>(
      new URL("../sync/session.ts", import.meta.url),
    );
    loaded = { session, config, warnings };
  } catch {
    // Sync must never stop a command from running.
    return await work();
  }
  return await loaded.session.runInSyncSession(
    ctx,
    { ...options, config: loaded.config, warnings: loaded.warnings },
    work,
  );
}

/**
 * The housekeeping pass, when due (`housekeeping.ts`, loaded only then).
 * The check is one `lstat` of `<store>.retention`; nothing here may fail
 * the command.
 */
async function keepHouse(ctx: Context): Promise<void> {
  try {
    const st = Deno.lstatSync(`${ctx.dbPath}.retention`);
    if (st.isFile && (st.mtime?.getTime() ?? 0) > Date.now() - 3_600_000) {
      return;
    }
  } catch {
    // No marker yet: due (housekeepIfDue checks the store exists).
  }
  try {
    const spec = "./housekeeping.ts"; // computed: keeps it off the graph
    const { housekeepIfDue }: typeof import("./housekeeping.ts") = await import(
      spec
    );
    await housekeepIfDue(ctx);
  } catch {
    // Housekeeping never changes a command's result.
  }
}

let warned = false;

function env(key: string): string | undefined {
  try {
    return Deno.env.get(key);
  } catch {
    return undefined;
  }
}

/** Cheap check before loading anything: a bucket in env, or a config file. */
function maybeConfigured(): boolean {
  if (env("STINT_BUCKET")) return true;
  const xdg = env("XDG_CONFIG_HOME");
  const home = env("HOME");
  // Plain concatenation: node:path would cost every command's start-up.
  const file = xdg
    ? `${xdg}/stint/config.json`
    : home
    ? `${home}/.config/stint/config.json`
    : null;
  if (file === null) return false;
  try {
    Deno.statSync(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Restore the store from the bucket when the local file does not exist (a
 * new machine or a wiped disk) or a restore is still owed, so that reading
 * commands see the team's history. A missing store that cannot be restored
 * is an error (one line, exit 1) and no file is created: an empty answer
 * would be a wrong one. Pushes nothing (the file has no changes of its own).
 */
export async function restoreIfMissing(ctx: Context): Promise<void> {
  if (env("STINT_RUN_ID") || !maybeConfigured()) return;
  const { loadSyncConfig } = await lazyImport<
    typeof import("../sync/config.ts")
  >(new URL("../sync/config.ts", import.meta.url));
  const resolved = loadSyncConfig();
  const warnings = warned ? [] : resolved.warnings;
  warned = true;
  if (resolved.config === null) {
    if (warnings.length > 0 && !ctx.quiet && ctx.stderrIsTty) {
      for (const w of warnings) console.error(`sync: ${w}`);
    }
    return;
  }
  const { restoreForReading } = await lazyImport<
    typeof import("../sync/session.ts")
  >(new URL("../sync/session.ts", import.meta.url));
  await restoreForReading(ctx, { config: resolved.config, warnings });
}

/**
 * Fetch the log of a run recorded on another host from the bucket into the
 * local logs dir (`stint logs` calls this when the file is missing). Returns
 * true when the log is now on disk, false when there is none to fetch (or
 * no bucket: then it loads nothing), and a one-line reason when the bucket
 * failed or its blob was refused; never throws.
 */
export async function fetchRemoteLog(
  ctx: Context,
  logId: string,
): Promise<boolean | string> {
  if (!maybeConfigured()) return false;
  try {
    const { loadSyncConfig } = await lazyImport<
      typeof import("../sync/config.ts")
    >(new URL("../sync/config.ts", import.meta.url));
    const { config } = loadSyncConfig();
    if (config === null) return false;
    const [{ SyncEngine }, { openBucket }] = await Promise.all([
      lazyImport<typeof import("../sync/engine.ts")>(
        new URL("../sync/engine.ts", import.meta.url),
      ),
      lazyImport<typeof import("../sync/open.ts")>(
        new URL("../sync/open.ts", import.meta.url),
      ),
    ]);
    const bucket = openBucket(config, {
      requestTimeoutMs: 10_000,
      totalTimeoutMs: 15_000,
    });
    try {
      const engine = new SyncEngine(ctx.dbPath, { bucket });
      return (await engine.fetchLog(logId)) !== null;
    } finally {
      await bucket.close();
    }
  } catch (err) {
    return err instanceof Error ? err.message.split("\n")[0] : String(err);
  }
}
