/**
 * The shape of one probe's answer, shared by the probes of `stint status`.
 * @module
 */

/** The probes, in the order they are reported. */
export const PROBE_NAMES = [
  "store",
  "sync",
  "credentials",
  "endpoint",
  "bucket",
  "last_push",
  "unpushed",
  "hosts",
] as const;

/** One probe's name. */
export type ProbeName = typeof PROBE_NAMES[number];

/** Why a probe was not attempted. */
export type SkipReason =
  | "no-sync"
  | "no-store"
  | "no-credentials"
  | "bucket-failed"
  | "bucket-silent"
  | "sdk-failed";

/** One probe's answer. */
export interface ProbeResult {
  /** Which probe. */
  name: ProbeName;
  /**
   * Passed, failed, or null: not attempted (a prerequisite is missing) or
   * nothing to judge yet (`info`: no store yet, sync off, never pushed).
   */
  ok: boolean | null;
  /** `ok` is null because there is nothing to judge: a fact, not a failure. */
  info?: boolean;
  /** Why it was not attempted, when `ok` is null. */
  skipped?: SkipReason;
  /** How long the probe took (0 when not attempted). */
  durationMs: number;
  /** What was found (snake_case keys, as `--json` prints them). */
  data: Record<string, unknown>;
}

/** A probe that was not attempted. */
export function skipped(name: ProbeName, why: SkipReason): ProbeResult {
  return { name, ok: null, skipped: why, durationMs: 0, data: {} };
}

/** Milliseconds since `started` (a `performance.now()`), to 0.1 ms. */
export function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
