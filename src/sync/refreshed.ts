/**
 * Blobs a push uploaded again because they were old (see `logs.ts`): a
 * `sync gc` that judged such a blob old and unreferenced just before may
 * still delete it after the record naming it went up, if its delete was
 * held up on the way. So each one is checked right after its record is up
 * and once more on the first push at least {@linkcode recheckAfterMs}
 * later (a delete is not held up longer than a request's timeouts); one
 * that is gone is uploaded again. Kept in `meta` (a few entries, rarely
 * any), so an ordinary push pays one indexed read.
 * @module
 */
import { getMeta, setMeta } from "../store/meta.ts";
import { transaction, withStore } from "../store/open.ts";
import type { Database } from "../store/sqlite.ts";
import { reportError, type SyncContext } from "./context.ts";
import { ensureLogBlob } from "./logs.ts";

/** One refreshed blob: the log it holds, its hash, when it went up. */
export interface RefreshedBlob {
  /** The log id (its file is the source to upload again). */
  log: string;
  /** The blob's content hash. */
  sha: string;
  /** When it was uploaded again (ms). */
  at: number;
}

const MAX_KEPT = 1000;

/** How long after a refresh it is checked the second time. */
export function recheckAfterMs(ctx: SyncContext): number {
  return Math.min(60_000, ctx.gcGraceMs / 2);
}

function metaKey(ctx: SyncContext): string {
  return ctx.meta.key("refreshed_blobs");
}

/** The refreshed blobs waiting for their second check (read in `db`). */
export function refreshedBlobs(
  ctx: SyncContext,
  db: Database,
): RefreshedBlob[] {
  try {
    const v = JSON.parse(getMeta(db, metaKey(ctx)) ?? "[]");
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

/**
 * Check `blobs` (just refreshed, their records just up) now, and keep them
 * for the second check.
 */
export async function afterRefresh(
  ctx: SyncContext,
  blobs: [string, string][],
): Promise<void> {
  if (blobs.length === 0) return;
  await recheck(ctx, blobs.map(([log, sha]) => ({ log, sha, at: 0 })));
  const now = Date.now();
  withStore(ctx.dbPath, (db) =>
    transaction(db, () => {
      const kept = refreshedBlobs(ctx, db);
      kept.push(...blobs.map(([log, sha]) => ({ log, sha, at: now })));
      setMeta(db, metaKey(ctx), JSON.stringify(kept.slice(-MAX_KEPT)));
    }));
}

/** The second check of the blobs refreshed long enough ago (`due` from {@linkcode refreshedBlobs}). */
export async function recheckDue(
  ctx: SyncContext,
  kept: RefreshedBlob[],
): Promise<void> {
  const cutoff = Date.now() - recheckAfterMs(ctx);
  const due = kept.filter((b) => b.at <= cutoff);
  if (due.length === 0) return;
  await recheck(ctx, due);
  withStore(ctx.dbPath, (db) =>
    transaction(db, () => {
      const left = refreshedBlobs(ctx, db).filter((b) =>
        !due.some((d) => d.sha === b.sha && d.at === b.at)
      );
      if (left.length > 0) setMeta(db, metaKey(ctx), JSON.stringify(left));
      else db.prepare("DELETE FROM meta WHERE key = ?").run(metaKey(ctx));
    }));
}

async function recheck(
  ctx: SyncContext,
  blobs: RefreshedBlob[],
): Promise<void> {
  for (const b of blobs) {
    try {
      await ensureLogBlob(ctx, b.log, b.sha);
    } catch (err) {
      reportError(ctx, err);
    }
  }
}
