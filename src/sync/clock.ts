/**
 * The bucket's clock, as its responses tell it: every S3 response carries a
 * `Date` header (whole seconds). A response dated D that left after the
 * request was sent at local time S and arrived at R says the offset (bucket
 * minus local) is between `D - R` and `D + 1000 - S`; intersecting what
 * many responses say narrows it to well under a second.
 * @module
 */

import type { OffsetBounds } from "../store/replication/clock.ts";

export type { OffsetBounds };

/** Collects `Date` headers into offset bounds. */
export class ClockSampler {
  #bounds: OffsetBounds | null = null;

  /** Add one response: its `Date` header, and when the request left and the answer came. */
  add(
    dateHeader: string | undefined,
    sentAt: number,
    receivedAt: number,
  ): void {
    if (!dateHeader) return;
    const date = Date.parse(dateHeader);
    if (!Number.isFinite(date) || receivedAt < sentAt) return;
    const lo = date - receivedAt, hi = date + 1000 - sentAt;
    const b = this.#bounds;
    // Bounds that no longer overlap mean the local clock was set meanwhile:
    // the newest answer wins.
    this.#bounds = b && lo <= b.hi && b.lo <= hi
      ? { lo: Math.max(lo, b.lo), hi: Math.min(hi, b.hi) }
      : { lo, hi };
  }

  /** What the responses so far say, or null before any. */
  bounds(): OffsetBounds | null {
    return this.#bounds ? { ...this.#bounds } : null;
  }
}
