/**
 * Retention and log-budget settings: environment > the user config file >
 * the defaults (90 days and the newest 100 runs of each ref; 2 GiB of
 * logs). A bad value is one warning and the default, never a crash.
 *
 * - `STINT_RETENTION` / `"retention"`: `off`, or the rules to change:
 *   `older_than=30d,keep=50` in the environment, `{"older_than": "30d",
 *   "keep": 50}` in the file. A rule left out keeps its default; `off`
 *   (or `null`) turns that rule off.
 * - `STINT_LOG_BUDGET` / `"log_budget"`: a size (`2GiB`, `500MB`, `800M`,
 *   bytes as a number) or `off`.
 * @module
 */
import { parseDuration } from "../store/durations.ts";
import { DEFAULT_LOG_BUDGET } from "../store/log_budget.ts";
import { DEFAULT_RETENTION, type RetentionPolicy } from "../store/retention.ts";
import { type Env, readUserConfig, safeGet } from "../user_config.ts";

/** What the automatic pass applies. */
export interface RetentionConfig {
  /** The retention policy, or null when automatic pruning is off. */
  policy: RetentionPolicy | null;
  /** The log budget in bytes, or null when it is off. */
  logBudget: number | null;
  /** One sentence per bad value. */
  warnings: string[];
}

/** Read the retention settings. */
export function loadRetentionConfig(env: Env = Deno.env): RetentionConfig {
  const warnings: string[] = [];
  const ignored: string[] = [];
  // The file's own problems (unknown keys, ...) are reported by sync's
  // reader too; here only the values of these two settings count.
  const file = readUserConfig(env, ignored);
  const where = (key: string) => `"${key}" in ${file?.path}`;
  let policy: RetentionPolicy | null = { ...DEFAULT_RETENTION };
  const envRetention = safeGet(env, "STINT_RETENTION");
  if (envRetention !== undefined && envRetention.trim() !== "") {
    policy = parseRetentionText(envRetention, "STINT_RETENTION", warnings);
  } else if (file && file.values.retention !== undefined) {
    policy = parseRetentionValue(
      file.values.retention,
      where("retention"),
      warnings,
    );
  }
  let logBudget: number | null = DEFAULT_LOG_BUDGET;
  const envBudget = safeGet(env, "STINT_LOG_BUDGET");
  if (envBudget !== undefined && envBudget.trim() !== "") {
    logBudget = budgetOf(envBudget, "STINT_LOG_BUDGET", warnings);
  } else if (file && file.values.log_budget !== undefined) {
    logBudget = budgetOf(
      file.values.log_budget,
      where("log_budget"),
      warnings,
    );
  }
  return { policy, logBudget, warnings };
}

/** `off`, or `older_than=30d,keep=50` (either part may be left out). */
function parseRetentionText(
  text: string,
  from: string,
  warnings: string[],
): RetentionPolicy | null {
  if (/^\s*off\s*$/i.test(text)) return null;
  const fields: Record<string, unknown> = {};
  for (const part of text.split(",")) {
    const [k, v, extra] = part.split("=").map((s) => s.trim());
    if (!k || v === undefined || extra !== undefined) {
      warnings.push(
        `Ignoring ${from}=${
          JSON.stringify(text)
        }: expected off, or older_than=<duration>,keep=<n> (like older_than=90d,keep=100); using the default`,
      );
      return { ...DEFAULT_RETENTION };
    }
    fields[k] = v;
  }
  return parseRetentionValue(fields, from, warnings);
}

/** The file's form: `"off"`, or `{"older_than": "30d", "keep": 50}`. */
function parseRetentionValue(
  value: unknown,
  from: string,
  warnings: string[],
): RetentionPolicy | null {
  if (value === "off" || value === false || value === null) return null;
  const policy = { ...DEFAULT_RETENTION };
  if (typeof value !== "object" || Array.isArray(value)) {
    warnings.push(
      `Ignoring ${from}: expected "off" or {"older_than": "90d", "keep": 100}; using the default`,
    );
    return policy;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const off = v === null || v === "off";
    if (k === "older_than") {
      if (off) {
        policy.olderThanMs = null;
        continue;
      }
      try {
        const ms = typeof v === "number"
          ? v * 1000
          : parseDuration(String(v), "older_than");
        if (!(ms > 0)) throw new Error("not positive");
        policy.olderThanMs = ms;
      } catch {
        warnings.push(
          `Ignoring older_than=${
            JSON.stringify(v)
          } in ${from}: expected a duration such as 90d or 12w, or off; using 90d`,
        );
      }
    } else if (k === "keep") {
      if (off) {
        policy.keep = null;
        continue;
      }
      const n = Number(v);
      if (Number.isSafeInteger(n) && n >= 0 && String(v).trim() !== "") {
        policy.keep = n;
      } else {
        warnings.push(
          `Ignoring keep=${
            JSON.stringify(v)
          } in ${from}: expected a whole number of runs (0 or more), or off; using 100`,
        );
      }
    } else {
      warnings.push(
        `Ignoring "${k}" in ${from}: retention knows older_than and keep`,
      );
    }
  }
  return policy;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** A size as bytes: `2GiB`, `500MB`, `800M`, `1048576`; null for `off`. */
export function parseSize(value: unknown): number | null | undefined {
  if (value === "off" || value === null || value === false) return null;
  if (typeof value === "number") {
    return Number.isFinite(value) && value > 0 ? Math.floor(value) : undefined;
  }
  if (typeof value !== "string") return undefined;
  const m = value.trim().toLowerCase().match(/^(\d+(?:\.\d+)?)\s*([a-z]*)$/);
  if (!m || !(m[2] in SIZE_UNITS)) return undefined;
  const n = Math.floor(Number(m[1]) * SIZE_UNITS[m[2]]);
  return n > 0 ? n : undefined;
}

function budgetOf(
  value: unknown,
  from: string,
  warnings: string[],
): number | null {
  const n = parseSize(value);
  if (n !== undefined) return n;
  warnings.push(
    `Ignoring ${from}=${
      JSON.stringify(value)
    }: expected a size such as 2GiB or 500MB, or off; using 2 GiB`,
  );
  return DEFAULT_LOG_BUDGET;
}
