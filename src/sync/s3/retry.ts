/**
 * The retry loop for S3 requests (the SDK's own is off): exponential backoff
 * with full jitter for network errors, timeouts, 5xx and throttling, never
 * for other 4xx; no new attempt starts after the total budget; each attempt
 * is cut off after its own timeout with an AbortSignal.
 * @module
 */
import type { BucketError } from "../bucket.ts";
import type { Classified } from "./errors.ts";

/** How patient to be. */
export interface RetryPolicy {
  /** Cut one attempt off after this many ms. */
  requestTimeoutMs: number;
  /** Attempts, the first one included (1 = no retry). */
  maxAttempts: number;
  /** No retry starts after this many ms from the first attempt. */
  totalTimeoutMs: number;
  /** First backoff delay; doubles per attempt, full jitter. */
  backoffBaseMs: number;
  /** Largest backoff delay. */
  backoffMaxMs: number;
}

/** What one attempt gets. */
export interface Attempt {
  /** Fires when the attempt's timeout passes. */
  signal: AbortSignal;
  /** That timeout. */
  timeoutMs: number;
}

/**
 * Run `fn` until it succeeds, fails for good, or the budget is spent.
 * `classify` turns a failure into a {@link BucketError} and says whether to
 * try again.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  fn: (attempt: Attempt) => Promise<T>,
  classify: (
    err: unknown,
    attempt: Attempt & { timedOut: boolean },
  ) => Classified,
  external?: AbortSignal,
): Promise<T> {
  const started = Date.now();
  for (let n = 1;; n++) {
    if (external?.aborted) throw external.reason;
    const remaining = policy.totalTimeoutMs - (Date.now() - started);
    const timeoutMs = Math.max(
      1,
      Math.min(policy.requestTimeoutMs, n === 1 ? Infinity : remaining),
    );
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const stop = () => controller.abort();
    external?.addEventListener("abort", stop, { once: true });
    const attempt = { signal: controller.signal, timeoutMs };
    try {
      return await fn(attempt);
    } catch (err) {
      // The caller gave up (a deadline): its reason, not a timeout of ours.
      if (external?.aborted) throw external.reason;
      const { error, retryable } = classify(err, {
        ...attempt,
        timedOut: controller.signal.aborted,
      });
      if (!retryable || n >= policy.maxAttempts) throw error;
      const cap = Math.min(
        policy.backoffMaxMs,
        policy.backoffBaseMs * 2 ** (n - 1),
      );
      const delay = Math.random() * cap;
      if (Date.now() - started + delay >= policy.totalTimeoutMs) {
        throw error as BucketError;
      }
      await new Promise((r) => setTimeout(r, delay));
    } finally {
      clearTimeout(timer);
      external?.removeEventListener("abort", stop);
    }
  }
}
