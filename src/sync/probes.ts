/**
 * The probes behind `stint status`: read-only checks of the store and the
 * bucket, each answering `true | false | null` (null = not attempted because
 * a prerequisite failed) with the facts found. Nothing here writes: the
 * store is opened read-only, the bucket is only listed, and no restore, pull
 * or push is started. Probes return data; `src/cli/status.ts` words it.
 *
 * The network probes run concurrently, each bounded by one timeout, so the
 * whole report takes about one timeout at worst.
 * @module
 */
import { probeBucket } from "./bucket_probe.ts";
import { displayEndpoint, loadSyncConfig, type SyncConfig } from "./config.ts";
import {
  type CredentialInfo,
  type EnvLike,
  findCredentials,
} from "./credentials.ts";
import {
  type GatheredFacts,
  gatherSyncFacts,
  type SyncFacts,
} from "./facts.ts";
import { SCHEMA_VERSION } from "../store/schema.ts";
import {
  elapsed,
  PROBE_NAMES,
  type ProbeName,
  type ProbeResult,
  skipped,
} from "./probe_result.ts";

export { PROBE_NAMES, type ProbeName, type ProbeResult };
export type { SkipReason } from "./probe_result.ts";

/** Everything `stint status` reports. */
export interface StatusReport {
  /** Every attempted probe passed. */
  ok: boolean;
  /** The probes, in {@link PROBE_NAMES} order. */
  probes: ProbeResult[];
  /** Warnings about bad settings (each one line, never a secret). */
  warnings: string[];
  /** The per-probe timeout used. */
  timeoutMs: number;
  /** When the probes started (ms since the epoch). */
  checkedAt: number;
}

/**
 * Unpushed changes older than this mean pushes are not getting through
 * (a change normally goes up with the command that made it, or the next run).
 */
export const UNPUSHED_MAX_AGE_MS = 3_600_000;

/** Options for {@link runProbes}. */
export interface ProbeOptions {
  /** The environment (default `Deno.env`). */
  env?: EnvLike;
  /** The per-probe timeout; default from `STINT_PROBE_TIMEOUT`, else 2 s. */
  timeoutMs?: number;
}

/** The default per-probe timeout. */
export const DEFAULT_PROBE_TIMEOUT_MS = 2000;

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/**
 * The per-probe timeout from `STINT_PROBE_TIMEOUT` (seconds, or a duration
 * such as `500ms` or `3s`, up to 5 minutes). A bad value gives one warning
 * and the 2 s default.
 */
export function probeTimeout(
  env: EnvLike = Deno.env,
): { timeoutMs: number; warning?: string } {
  const raw = safeGet(env, "STINT_PROBE_TIMEOUT");
  if (raw === undefined || raw.trim() === "") {
    return { timeoutMs: DEFAULT_PROBE_TIMEOUT_MS };
  }
  const m = raw.trim().match(/^(\d+(?:\.\d+)?)(ms|s|m)?$/);
  const ms = m ? Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? "s"]) : NaN;
  if (!Number.isFinite(ms) || ms < 1 || ms > 300_000) {
    return {
      timeoutMs: DEFAULT_PROBE_TIMEOUT_MS,
      warning: `Ignoring STINT_PROBE_TIMEOUT=${
        JSON.stringify(raw.slice(0, 40))
      }: expected seconds (like 2 or 0.5) or a duration like 500ms, up to 5m; using 2s`,
    };
  }
  return { timeoutMs: ms };
}

/** Run every probe and collect the report. Never writes anything. */
export async function runProbes(
  dbPath: string,
  options: ProbeOptions = {},
): Promise<StatusReport> {
  const env = options.env ?? Deno.env;
  const checkedAt = Date.now();
  const warnings: string[] = [];
  let timeoutMs = options.timeoutMs ?? 0;
  if (!(timeoutMs > 0)) {
    const t = probeTimeout(env);
    timeoutMs = t.timeoutMs;
    if (t.warning) warnings.push(t.warning);
  }
  const results = new Map<ProbeName, ProbeResult>();
  const set = (r: ProbeResult) => results.set(r.name, r);
  const finish = () => report(results, warnings, timeoutMs, checkedAt);

  // Local probes first: they are quick and decide what the network probes may try.
  const cfg = timed(() => loadSyncConfig({ env }));
  warnings.push(...cfg.value.warnings);
  const config = cfg.value.config;
  const local = timed(() => gatherSyncFacts(dbPath, { location: config }));
  set(storeProbe(local.value, local.ms));
  set(syncProbe(config, cfg.value.warnings.length > 0, cfg.ms));
  const offset = local.value.facts?.clockOffsetMs;
  if (config !== null && offset !== null && offset !== undefined) {
    results.get("sync")!.data.clock_offset_ms = offset;
  }
  if (config === null) {
    for (const name of PROBE_NAMES.slice(2)) set(skipped(name, "no-sync"));
    return finish();
  }
  const creds = timed(() => findCredentials(env));
  set(credentialsProbe(creds.value, creds.ms));
  const facts = local.value.facts?.schemaVersion ? local.value.facts : null;
  if (facts === null) {
    set(skipped("last_push", "no-store"));
    set(skipped("unpushed", "no-store"));
  } else {
    set(lastPushProbe(facts));
    set(unpushedProbe(facts));
  }
  const endpointUrl = config.endpoint ??
    `https://s3.${config.region}.amazonaws.com`;
  const bucketProbes: Promise<[ProbeResult, ProbeResult]> =
    creds.value === null || creds.value.problem
      ? Promise.resolve([
        skipped("bucket", "no-credentials"),
        skipped("hosts", "no-credentials"),
      ])
      : probeBucket(config, { timeoutMs, facts });
  const [endpoint, [bucket, hosts]] = await Promise.all([
    probeEndpoint(endpointUrl, timeoutMs),
    bucketProbes,
  ]);
  set(endpoint);
  set(bucket);
  set(hosts);
  return finish();
}

function storeProbe(g: GatheredFacts, ms: number): ProbeResult {
  const data: Record<string, unknown> = {
    path: g.path,
    exists: g.exists,
    schema_version: g.facts?.schemaVersion ?? null,
    current_schema_version: SCHEMA_VERSION,
    host_id: g.facts?.hostId ?? null,
    read_only_dir: g.readOnlyDir,
    unread_wal_bytes: g.unreadWalBytes,
  };
  if (g.error) data.error = g.error;
  // No store yet is a fresh setup, not a fault.
  if (!g.exists) {
    return { name: "store", ok: null, info: true, durationMs: ms, data };
  }
  const ok = g.facts !== null && g.facts.schemaVersion > 0;
  return { name: "store", ok, durationMs: ms, data };
}

function syncProbe(
  config: SyncConfig | null,
  badSetting: boolean,
  ms: number,
): ProbeResult {
  if (config === null) {
    // Local-only use is a choice; a setting that turned sync off is a fault.
    return {
      name: "sync",
      ok: badSetting ? false : null,
      ...(badSetting ? {} : { info: true }),
      durationMs: ms,
      data: { configured: false, bad_setting: badSetting },
    };
  }
  return {
    name: "sync",
    ok: true,
    durationMs: ms,
    data: {
      configured: true,
      bucket: config.bucket,
      endpoint: config.endpoint ? displayEndpoint(config.endpoint) : null,
      region: config.region,
      prefix: config.prefix,
      flush_interval_ms: config.flushIntervalMs,
      config_file: config.configFile ?? null,
    },
  };
}

function credentialsProbe(
  info: CredentialInfo | null,
  ms: number,
): ProbeResult {
  if (info === null) {
    return {
      name: "credentials",
      ok: false,
      durationMs: ms,
      data: { present: false },
    };
  }
  const data: Record<string, unknown> = {
    present: true,
    source: info.source,
    access_key_id: info.keyIdMasked,
    profile: info.profile ?? null,
    file: info.file ?? null,
  };
  if (info.problem) data.problem = info.problem;
  return { name: "credentials", ok: !info.problem, durationMs: ms, data };
}

function lastPushProbe(f: SyncFacts): ProbeResult {
  const failed = f.failures.push ?? null;
  const failure = failed && (!f.lastPush || failed.at > f.lastPush.at)
    ? {
      last_error: {
        at: new Date(failed.at).toISOString(),
        kind: failed.kind,
        message: failed.message,
      },
    }
    : {};
  if (f.lastPush === null) {
    return {
      name: "last_push",
      ok: failed ? false : null,
      ...(failed ? {} : { info: true }),
      durationMs: 0,
      data: {
        at: null,
        seq: null,
        age_ms: null,
        nothing_to_push: f.unpushed === 0,
        ...failure,
      },
    };
  }
  return {
    name: "last_push",
    ok: "last_error" in failure ? false : true,
    durationMs: 0,
    data: {
      at: new Date(f.lastPush.at).toISOString(),
      seq: f.lastPush.seq,
      age_ms: Math.max(0, Date.now() - f.lastPush.at),
      ...failure,
    },
  };
}

function unpushedProbe(f: SyncFacts): ProbeResult {
  const data: Record<string, unknown> = {
    count: f.unpushed,
    max_age_ms: UNPUSHED_MAX_AGE_MS,
  };
  if (f.unpushed === null) {
    data.error = f.unpushedError ?? "unknown";
    return { name: "unpushed", ok: false, durationMs: 0, data };
  }
  const now = Date.now() + (f.clockOffsetMs ?? 0);
  const age = f.oldestUnpushedAt === null
    ? null
    : Math.max(0, now - f.oldestUnpushedAt);
  data.oldest_age_ms = age;
  // Waiting for the next push is normal; waiting for an hour is not.
  const ok = age === null || age < UNPUSHED_MAX_AGE_MS;
  return { name: "unpushed", ok, durationMs: 0, data };
}

async function probeEndpoint(
  url: string,
  timeoutMs: number,
): Promise<ProbeResult> {
  const shown = displayEndpoint(url);
  const started = performance.now();
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve("timeout");
    }, timeoutMs);
  });
  const fail = (error: string) => ({
    name: "endpoint" as const,
    ok: false,
    durationMs: elapsed(started),
    data: { url: shown, error },
  });
  try {
    const answer = await Promise.race([
      fetch(url, {
        method: "HEAD",
        signal: controller.signal,
        redirect: "manual",
      }),
      timeout,
    ]);
    if (answer === "timeout") return fail("Timeout");
    await answer.body?.cancel();
    return {
      name: "endpoint",
      ok: true,
      durationMs: elapsed(started),
      data: { url: shown, http_status: answer.status },
    };
  } catch (err) {
    return fail(netCode(err));
  } finally {
    clearTimeout(timer);
  }
}

function report(
  results: Map<ProbeName, ProbeResult>,
  warnings: string[],
  timeoutMs: number,
  checkedAt: number,
): StatusReport {
  const probes = PROBE_NAMES.map((n) =>
    results.get(n) ?? skipped(n, "no-sync")
  );
  return {
    ok: probes.every((p) => p.ok !== false),
    probes,
    warnings,
    timeoutMs,
    checkedAt,
  };
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const started = performance.now();
  const value = fn();
  return { value, ms: elapsed(started) };
}

function netCode(err: unknown): string {
  let cur: unknown = err;
  for (let depth = 0; depth < 4 && cur && typeof cur === "object"; depth++) {
    const e = cur as Record<string, unknown>;
    if (typeof e.code === "string" && /^E[A-Z]+$/.test(e.code)) return e.code;
    if (e.name === "ConnectionRefused") return "ECONNREFUSED";
    const msg = typeof e.message === "string" ? e.message : "";
    const m = msg.match(/\b(E[A-Z]{4,})\b/) ??
      msg.match(/(Connection refused|dns error|No route to host|certificate)/i);
    if (m) return m[1] === "Connection refused" ? "ECONNREFUSED" : m[1];
    cur = e.cause;
  }
  return (err instanceof Error ? err.message : String(err)).split("\n")[0];
}

function safeGet(env: EnvLike, key: string): string | undefined {
  try {
    return env.get(key);
  } catch {
    return undefined;
  }
}
