/**
 * Sync configuration: flags > environment > the user config file
 * (`$XDG_CONFIG_HOME/stint/config.json`, else `~/.config/stint/config.json`).
 * A bad value never crashes: it yields one warning and the default. No
 * bucket means sync is off. Credentials are deliberately absent: the AWS
 * SDK's default chain finds them, so stint never stores or prints them.
 * @module
 */
import { parseDuration } from "../store/durations.ts";
import {
  type Env,
  readUserConfig,
  safeGet,
  SYNC_CONFIG_KEYS,
} from "../user_config.ts";

/** Where and how often to sync. Holds no credential. */
export interface SyncConfig {
  /** The bucket name. */
  bucket: string;
  /** A custom S3 endpoint (MinIO, Swift, R2, fauxqs); unset means AWS. */
  endpoint?: string;
  /** The signing region. */
  region: string;
  /** Root prefix of every object, ending in `/` (default `stint/`). */
  prefix: string;
  /** Flush-loop interval in milliseconds (default 30 000). */
  flushIntervalMs: number;
  /**
   * How long the pull before a run and the final push may wait for the
   * bucket (default 3 000 ms); also what a restore may wait for the first
   * answer.
   */
  deadlineMs: number;
  /**
   * `sync gc` deletes only unreferenced objects older than this (default
   * 48 h when unset), so a push in flight is never broken.
   */
  gcGraceMs?: number;
  /** The config file that contributed values, when one was read. */
  configFile?: string;
}

/** Values given on the command line (highest precedence). */
export interface SyncFlags {
  bucket?: string;
  endpoint?: string;
  region?: string;
  prefix?: string;
  /** Seconds, as typed. */
  flushInterval?: string;
}

/** Where {@linkcode loadSyncConfig} reads from. */
export interface LoadSyncConfigOptions {
  /** The environment (default `Deno.env`). */
  env?: { get(key: string): string | undefined };
  /** Command-line values. */
  flags?: SyncFlags;
}

/** The default root prefix. */
export const DEFAULT_PREFIX = "stint/";
/** The default flush interval, in seconds. */
export const DEFAULT_FLUSH_INTERVAL_S = 30;
/** The default sync deadline, in seconds. */
export const DEFAULT_DEADLINE_S = 3;
/** The default grace period of `sync gc`: 48 hours. */
export const DEFAULT_GC_GRACE_MS = 48 * 3_600_000;
/** The default region when neither stint nor the AWS settings name one. */
export const DEFAULT_REGION = "us-east-1";

const FILE_KEYS = new Set(SYNC_CONFIG_KEYS);

/**
 * Resolve the sync configuration. `config` is null when no bucket is
 * configured (sync off) or a value makes syncing unsafe; `warnings` holds one
 * sentence per bad value (never a credential).
 */
export function loadSyncConfig(
  options?: LoadSyncConfigOptions,
): { config: SyncConfig | null; warnings: string[] } {
  const env = options?.env ?? Deno.env;
  const flags = options?.flags ?? {};
  const warnings: string[] = [];
  const file = readConfigFile(env, warnings);
  const fileValues = file?.values ?? {};

  const pick = (
    flag: string | undefined,
    envName: string,
    fileKey: string,
  ): { value: string; from: string } | undefined => {
    if (flag !== undefined && flag !== "") {
      return { value: flag, from: `--${fileKey.replace("_", "-")}` };
    }
    const fromEnv = safeGet(env, envName);
    if (fromEnv !== undefined && fromEnv !== "") {
      return { value: fromEnv, from: envName };
    }
    const fromFile = fileValues[fileKey];
    if (fromFile !== undefined) {
      return { value: fromFile, from: `${fileKey} in ${file?.path}` };
    }
    return undefined;
  };

  const bucketIn = pick(flags.bucket, "STINT_BUCKET", "bucket");
  const endpointIn = pick(flags.endpoint, "STINT_S3_ENDPOINT", "endpoint");
  const regionIn = pick(flags.region, "STINT_S3_REGION", "region");
  const prefixIn = pick(flags.prefix, "STINT_S3_PREFIX", "prefix");
  const intervalIn = pick(
    flags.flushInterval,
    "STINT_FLUSH_INTERVAL",
    "flush_interval",
  );

  const flushIntervalMs = seconds(
    intervalIn,
    { min: 0.05, max: 86_400, fallback: DEFAULT_FLUSH_INTERVAL_S },
    warnings,
  );
  const deadlineMs = seconds(
    pick(undefined, "STINT_SYNC_DEADLINE", "sync_deadline"),
    { min: 0.05, max: 3600, fallback: DEFAULT_DEADLINE_S },
    warnings,
  );

  const gcGraceMs = duration(
    pick(undefined, "STINT_GC_GRACE", "gc_grace"),
    { minMs: 1000, maxMs: 365 * 86_400_000, fallbackMs: DEFAULT_GC_GRACE_MS },
    warnings,
  );

  let prefix = DEFAULT_PREFIX;
  if (prefixIn) {
    const p = normalisePrefix(prefixIn.value);
    if (p === null) {
      warnings.push(
        `Ignoring ${prefixIn.from}=${
          show(prefixIn.value)
        }: use path segments of letters, digits, and - _ . (no .. or //); using "${DEFAULT_PREFIX}"`,
      );
    } else {
      prefix = p;
    }
  }

  const awsRegion = safeGet(env, "AWS_REGION") ||
    safeGet(env, "AWS_DEFAULT_REGION");
  let region = awsRegion && /^[a-z0-9-]{1,64}$/.test(awsRegion)
    ? awsRegion
    : DEFAULT_REGION;
  if (regionIn) {
    if (/^[a-z0-9-]{1,64}$/.test(regionIn.value)) {
      region = regionIn.value;
    } else {
      warnings.push(
        `Ignoring ${regionIn.from}=${
          show(regionIn.value)
        }: a region is lower-case letters, digits and - (like us-east-1); using ${region}`,
      );
    }
  }

  let endpoint: string | undefined;
  let endpointBad = false;
  if (endpointIn) {
    endpoint = normaliseEndpoint(endpointIn.value) ?? undefined;
    if (endpoint === undefined) {
      endpointBad = true;
      warnings.push(
        `Ignoring ${endpointIn.from}=${
          show(maskUserInfo(endpointIn.value))
        }: expected an http:// or https:// URL without credentials; sync is off until it is fixed`,
      );
    }
  }

  if (!bucketIn) return { config: null, warnings };
  if (!isValidBucketName(bucketIn.value)) {
    warnings.push(
      `Ignoring ${bucketIn.from}=${
        show(bucketIn.value)
      }: a bucket name is 3-63 lower-case letters, digits, dots and hyphens; sync is off`,
    );
    return { config: null, warnings };
  }
  // A bad endpoint must not silently send the store to AWS instead.
  if (endpointBad) return { config: null, warnings };
  const config: SyncConfig = {
    bucket: bucketIn.value,
    region,
    prefix,
    flushIntervalMs,
    deadlineMs,
    gcGraceMs,
  };
  if (endpoint) config.endpoint = endpoint;
  if (file && Object.keys(file.values).length > 0) {
    config.configFile = file.path;
  }
  return { config, warnings };
}

/** A setting in seconds as ms; a bad one is a warning and the fallback. */
function seconds(
  given: { value: string; from: string } | undefined,
  range: { min: number; max: number; fallback: number },
  warnings: string[],
): number {
  if (!given) return range.fallback * 1000;
  const s = Number(given.value.trim());
  if (
    given.value.trim() === "" || !Number.isFinite(s) || s < range.min ||
    s > range.max
  ) {
    warnings.push(
      `Ignoring ${given.from}=${
        show(given.value)
      }: expected seconds between ${range.min} and ${range.max}; using ${range.fallback}`,
    );
    return range.fallback * 1000;
  }
  return Math.round(s * 1000);
}

/** A setting as a duration (`48h`, `2d`, `90m`; a bare number is seconds). */
function duration(
  given: { value: string; from: string } | undefined,
  range: { minMs: number; maxMs: number; fallbackMs: number },
  warnings: string[],
): number {
  if (!given) return range.fallbackMs;
  let ms = NaN;
  try {
    ms = parseDuration(given.value, given.from);
  } catch {
    // reported below
  }
  if (!(ms >= range.minMs && ms <= range.maxMs)) {
    warnings.push(
      `Ignoring ${given.from}=${
        show(given.value)
      }: expected a duration such as 48h or 2d (1s to 365d); using ${
        range.fallbackMs / 3_600_000
      }h`,
    );
    return range.fallbackMs;
  }
  return ms;
}

/** Whether `name` is a valid S3 bucket name (the common rules). */
export function isValidBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !name.includes("..") && !/^\d+\.\d+\.\d+\.\d+$/.test(name);
}

/** `p` as a root prefix ending in `/` ("" stays ""), or null when unsafe. */
export function normalisePrefix(p: string): string | null {
  const trimmed = p.trim();
  if (trimmed === "" || trimmed === "/") return "";
  const body = trimmed.replace(/\/+$/, "");
  if (body.startsWith("/")) return null;
  for (const seg of body.split("/")) {
    if (!/^[A-Za-z0-9_.-]{1,100}$/.test(seg) || seg === "." || seg === "..") {
      return null;
    }
  }
  return `${body}/`;
}

function normaliseEndpoint(value: string): string | null {
  try {
    const url = new URL(value.trim());
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    if (url.username || url.password) return null;
    return url.toString().replace(/\/$/, "");
  } catch {
    return null;
  }
}

/**
 * The sync settings of the user config file, as strings (numbers are
 * accepted for the settings in seconds); anything else gets a warning.
 */
function readConfigFile(
  env: Env,
  warnings: string[],
): { path: string; values: Record<string, string> } | null {
  const file = readUserConfig(env, warnings);
  if (file === null) return null;
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(file.values)) {
    if (!FILE_KEYS.has(key)) continue; // another reader's setting
    if (typeof value === "string") values[key] = value;
    else if (
      typeof value === "number" &&
      (key === "flush_interval" || key === "sync_deadline")
    ) {
      values[key] = String(value);
    } else {
      warnings.push(`Ignoring "${key}" in ${file.path}: expected a string`);
    }
  }
  return { path: file.path, values };
}

// A URL may carry user:password; never echo it back.
function maskUserInfo(value: string): string {
  return value.replace(/\/\/[^/@]*@/, "//****@");
}

function show(value: string): string {
  const cut = value.length > 60 ? `${value.slice(0, 60)}...` : value;
  return JSON.stringify(cut);
}

/** An endpoint as safe to print: no user info, query or fragment. */
export function displayEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = "";
    url.password = "";
    url.search = "";
    url.hash = "";
    return url.toString().replace(/\/$/, "");
  } catch {
    return "(an invalid endpoint)";
  }
}
