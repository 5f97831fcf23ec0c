/**
 * Objects a pull refused, remembered by key and etag in the store so they
 * are never fetched again, until they change or go away.
 * @module
 */
import { transaction, withStore } from "../store/open.ts";
import type { ObjectInfo } from "./bucket.ts";
import { reportError, type SyncContext } from "./context.ts";
import type { HostListing, SegmentInfo } from "./layout.ts";
import type { PullResult } from "./pull.ts";
import type { RejectedObject } from "./state.ts";

/** One pull's view of the objects refused before, against `target`. */
export class Refusals {
  #known: Map<string, RejectedObject>;
  #ctx: SyncContext;
  #target: string;

  constructor(ctx: SyncContext, target: string, listed: Map<string, string>) {
    this.#ctx = ctx;
    this.#target = target;
    this.#known = withStore(target, (db) => ctx.meta.rejected(db));
    // An object that changed or went away is tried again.
    const stale = [...this.#known.values()].filter((r) =>
      listed.get(r.key) !== r.etag
    );
    if (stale.length > 0) {
      withStore(target, (db) =>
        transaction(db, () => {
          for (const r of stale) {
            ctx.meta.forgetRejected(db, r.key);
            this.#known.delete(r.key);
          }
        }));
    }
  }

  /** Whether `obj` was refused before, as it is now (noted in `result` if so). */
  known(obj: ObjectInfo | SegmentInfo, result: PullResult): boolean {
    const r = this.#known.get(obj.key);
    if (r?.etag !== identity(obj)) return false;
    result.corrupt.push(obj.key);
    result.reasons[obj.key] = r.reason;
    return true;
  }

  /** Refuse `obj` for `err` and remember it. */
  refuse(
    obj: ObjectInfo | SegmentInfo,
    err: unknown,
    result: PullResult,
  ): void {
    const r: RejectedObject = {
      key: obj.key,
      etag: identity(obj),
      reason: (err instanceof Error ? err.message : String(err)).split("\n")[0],
      at: Date.now(),
    };
    withStore(this.#target, (db) => this.#ctx.meta.reject(db, r));
    this.#known.set(r.key, r);
    result.corrupt.push(obj.key);
    result.reasons[obj.key] = r.reason;
    result.newlyCorrupt++;
    reportError(this.#ctx, err);
  }
}

/** What names one version of an object: its etag, else its size. */
export function identity(obj: { etag?: string; size: number }): string {
  return obj.etag ?? `size:${obj.size}`;
}

/** Every `hosts/` key of a listing with its identity. */
export function listedIdentities(
  all: Map<string, HostListing>,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const h of all.values()) {
    for (const s of h.segments) out.set(s.key, identity(s));
    if (h.snapshot) out.set(h.snapshot.key, identity(h.snapshot));
  }
  return out;
}
