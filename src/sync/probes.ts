/**
 * The probes behind `stint status`: read-only checks of the store and the
 * bucket, each answering `true | false | null` (null = not attempted because
 * a prerequisite failed). Nothing here writes: the store is opened read-only,
 * the bucket is only listed, and no restore, pull or push is started, so
 * status is safe from cron and on a read-only store.
 *
 * The network probes run concurrently, each bounded by one timeout, so the
 * whole report takes about one timeout at worst.
 * @module
 */
import { join } from "node:path";
import { StintError } from "../errors.ts";
import { getMeta } from "../store/meta.ts";
import { BUSY_TIMEOUT_MS, withStore } from "../store/open.ts";
import { SCHEMA_VERSION, schemaVersion } from "../store/schema.ts";
import { type Database, openSqlite } from "../store/sqlite.ts";
import { BucketError } from "./bucket.ts";
import { displayEndpoint, loadSyncConfig, type SyncConfig } from "./config.ts";
import { openBucket } from "./open.ts";
import { loadS3Sdk } from "./s3/sdk.ts";
import { SyncMeta } from "./state.ts";

/** Something that reads environment variables (`Deno.env` by default). */
export interface EnvLike {
  get(key: string): string | undefined;
}

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

/** One probe's answer. */
export interface ProbeResult {
  /** Which probe. */
  name: ProbeName;
  /** Passed, failed, or null when not attempted (a prerequisite failed). */
  ok: boolean | null;
  /** One line for people: what was found, or what is wrong and what to do. */
  detail: string;
  /** How long the probe took (0 when not attempted). */
  durationMs: number;
  /** Facts for `--json` (snake_case keys). */
  data: Record<string, unknown>;
}

/** A host seen in the bucket. */
export interface HostSeen {
  /** The host id (the folder under `<prefix>hosts/`). */
  hostId: string;
  /** The newest object of that host (ms since the epoch), when known. */
  lastPushAt: number | null;
  /** Objects under that host's folder. */
  objects: number;
  /** Whether it is this store's own host id. */
  self: boolean;
}

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

/** Options for {@link runProbes}. */
export interface ProbeOptions {
  /** The environment (default `Deno.env`). */
  env?: EnvLike;
  /** The per-probe timeout; default from `STINT_PROBE_TIMEOUT`, else 2 s. */
  timeoutMs?: number;
}

/** A host id, as `engine.ts` accepts it from a listing. */
const HOST_ID = /^[a-z0-9][a-z0-9-]{0,79}$/;

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

/** `AKIAEXAMPLE1234` as `****1234`: only the last 4 characters are shown. */
export function maskKeyId(id: string): string {
  return id.length <= 4 ? "****" : `****${id.slice(-4)}`;
}

/** Where credentials were found, without the secret. */
export interface CredentialInfo {
  /** `env`, `profile`, `web-identity` or `container`. */
  source: "env" | "profile" | "web-identity" | "container";
  /** The key id masked to its last 4 characters, when there is a static key. */
  keyIdMasked: string | null;
  /** The profile name, for `profile`. */
  profile?: string;
  /** The file the profile came from. */
  file?: string;
  /** A static key id without its secret, or the like: why it cannot work. */
  problem?: string;
}

/**
 * Look for credentials where the AWS SDK's default chain does, without
 * asking any server (an instance-metadata lookup would cost a timeout):
 * env vars, then the profile (`AWS_PROFILE`, else `default`) in the shared
 * credentials and config files, then web identity and container settings.
 * Null when none is found.
 */
export function findCredentials(
  env: EnvLike = Deno.env,
): CredentialInfo | null {
  const keyId = safeGet(env, "AWS_ACCESS_KEY_ID");
  const secret = safeGet(env, "AWS_SECRET_ACCESS_KEY");
  if (keyId) {
    const info: CredentialInfo = {
      source: "env",
      keyIdMasked: maskKeyId(keyId),
    };
    if (!secret) {
      info.problem =
        "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both";
    }
    return info;
  }
  const profile = safeGet(env, "AWS_PROFILE") || "default";
  const home = safeGet(env, "HOME") ?? "";
  const files = [
    {
      path: safeGet(env, "AWS_SHARED_CREDENTIALS_FILE") ||
        join(home, ".aws", "credentials"),
      section: profile,
    },
    {
      path: safeGet(env, "AWS_CONFIG_FILE") || join(home, ".aws", "config"),
      section: profile === "default" ? "default" : `profile ${profile}`,
    },
  ];
  for (const f of files) {
    const values = readIniSection(f.path, f.section);
    if (values === null) continue;
    const id = values["aws_access_key_id"];
    if (id) {
      const info: CredentialInfo = {
        source: "profile",
        keyIdMasked: maskKeyId(id),
        profile,
        file: f.path,
      };
      if (!values["aws_secret_access_key"]) {
        info.problem =
          `profile "${profile}" in ${f.path} has aws_access_key_id but no aws_secret_access_key`;
      }
      return info;
    }
    if (
      values["role_arn"] || values["sso_session"] || values["sso_start_url"] ||
      values["credential_process"] || values["web_identity_token_file"]
    ) {
      return { source: "profile", keyIdMasked: null, profile, file: f.path };
    }
  }
  if (
    safeGet(env, "AWS_WEB_IDENTITY_TOKEN_FILE") && safeGet(env, "AWS_ROLE_ARN")
  ) {
    return { source: "web-identity", keyIdMasked: null };
  }
  if (
    safeGet(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
    safeGet(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
  ) {
    return { source: "container", keyIdMasked: null };
  }
  return null;
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

  // Local probes first: they are quick and decide what the network probes may try.
  const local = probeStore(dbPath);
  set(local.store);

  const cfg = timed(() => loadSyncConfig({ env }));
  warnings.push(...cfg.value.warnings);
  const config = cfg.value.config;
  set(syncProbe(config, cfg.value.warnings, cfg.ms));

  const needSync = "not attempted: sync is not configured";
  const needStore = "not attempted: the store cannot be read";
  if (config === null) {
    for (const name of PROBE_NAMES.slice(2)) set(skipped(name, needSync));
    return finish(results, warnings, timeoutMs, checkedAt);
  }

  const creds = timed(() => findCredentials(env));
  set(credentialsProbe(creds.value, creds.ms));

  if (local.facts === null) {
    set(skipped("last_push", needStore));
    set(skipped("unpushed", needStore));
  } else {
    set(lastPushProbe(local.facts));
    set(unpushedProbe(local.facts));
  }

  const endpointUrl = config.endpoint ??
    `https://s3.${config.region}.amazonaws.com`;
  const endpointProbe = probeEndpoint(endpointUrl, timeoutMs);
  let bucketProbes: Promise<[ProbeResult, ProbeResult]>;
  if (creds.value === null || creds.value.problem) {
    const why = "not attempted: no usable credentials";
    bucketProbes = Promise.resolve([
      skipped("bucket", why),
      skipped("hosts", why),
    ]);
  } else {
    bucketProbes = probeBucket(config, {
      timeoutMs,
      selfHost: local.facts?.hostId ?? null,
    });
  }
  const [endpoint, [bucket, hosts]] = await Promise.all([
    endpointProbe,
    bucketProbes,
  ]);
  set(endpoint);
  set(bucket);
  set(hosts);
  return finish(results, warnings, timeoutMs, checkedAt);
}

interface StoreFacts {
  schemaVersion: number;
  hostId: string | null;
  lastPush: { at: number; seq: number } | null;
  lastPushError?: string;
  unpushed: number | null;
  unpushedError?: string;
}

function readFacts(db: Database): StoreFacts {
  const f: StoreFacts = {
    schemaVersion: schemaVersion(db),
    hostId: getMeta(db, "host_id") ?? null,
    lastPush: null,
    unpushed: null,
  };
  if (f.schemaVersion > SCHEMA_VERSION) {
    throw new StintError(
      `The store has schema version ${f.schemaVersion}, newer than this stint understands (${SCHEMA_VERSION}); upgrade stint`,
    );
  }
  const meta = new SyncMeta();
  try {
    f.lastPush = meta.lastPush(db);
  } catch (err) {
    f.lastPushError = firstLine(err);
  }
  try {
    f.unpushed = meta.unpushedCount(db);
  } catch (err) {
    f.unpushedError = firstLine(err);
  }
  return f;
}

/**
 * Read a store whose directory cannot be written: SQLite cannot create the
 * WAL index (-shm) a reader needs, so open it as immutable instead. Nothing
 * can be writing to it then, except through a -wal left behind, which is
 * named in the detail.
 */
function readImmutable(dbPath: string): { facts: StoreFacts; note: string } {
  const url = new URL("file:///");
  url.pathname = dbPath;
  const db = openSqlite(`${url.href}?immutable=1`, {
    timeoutMs: BUSY_TIMEOUT_MS,
    readOnly: true,
  });
  try {
    const facts = readFacts(db);
    let walBytes = 0;
    try {
      walBytes = Deno.statSync(`${dbPath}-wal`).size;
    } catch {
      walBytes = 0;
    }
    const note = walBytes > 0
      ? `; read-only directory, read without its ${walBytes}-byte -wal file`
      : "; read-only directory";
    return { facts, note };
  } finally {
    db.close();
  }
}

function probeStore(
  dbPath: string,
): { store: ProbeResult; facts: StoreFacts | null } {
  const started = performance.now();
  try {
    let facts: StoreFacts;
    let note = "";
    try {
      facts = withStore(dbPath, readFacts, { readOnly: true });
    } catch (err) {
      if (!exists(dbPath)) throw err;
      try {
        ({ facts, note } = readImmutable(dbPath));
      } catch {
        throw err;
      }
    }
    const ms = elapsed(started);
    const behind = facts.schemaVersion < SCHEMA_VERSION
      ? ` (this stint writes v${SCHEMA_VERSION}; it migrates on the next write)`
      : "";
    const empty = facts.schemaVersion === 0;
    return {
      store: {
        name: "store",
        ok: !empty,
        detail: empty
          ? `${dbPath} is not a stint store (schema version 0); check --db / STINT_DB`
          : `${dbPath}, schema v${facts.schemaVersion}${behind}${
            facts.hostId ? `, host ${facts.hostId}` : ""
          }${note}`,
        durationMs: ms,
        data: {
          path: dbPath,
          schema_version: facts.schemaVersion,
          current_schema_version: SCHEMA_VERSION,
          host_id: facts.hostId,
          read_only_dir: note !== "",
        },
      },
      facts: empty ? null : facts,
    };
  } catch (err) {
    let detail = firstLine(err);
    if (!exists(dbPath)) {
      detail =
        `No store at ${dbPath} yet; it is created by the first command that writes (or restored from the bucket when sync is configured)`;
    }
    return {
      store: {
        name: "store",
        ok: false,
        detail,
        durationMs: elapsed(started),
        data: { path: dbPath, schema_version: null, error: detail },
      },
      facts: null,
    };
  }
}

function syncProbe(
  config: SyncConfig | null,
  warnings: string[],
  ms: number,
): ProbeResult {
  if (config === null) {
    return {
      name: "sync",
      ok: false,
      detail: warnings.length > 0
        ? "Sync is off because of a bad setting (see the warning above)"
        : 'No bucket configured: set STINT_BUCKET (or "bucket" in the config file) to sync; everything works locally without it',
      durationMs: ms,
      data: { configured: false },
    };
  }
  const where = config.endpoint
    ? `at ${displayEndpoint(config.endpoint)}`
    : "on AWS S3";
  return {
    name: "sync",
    ok: true,
    detail:
      `s3://${config.bucket}/${config.prefix} ${where} (${config.region})`,
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
      detail:
        "No AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials (instance roles are not probed)",
      durationMs: ms,
      data: { present: false },
    };
  }
  const key = info.keyIdMasked ? `key ${info.keyIdMasked}` : "no static key";
  const from = info.source === "env"
    ? "from AWS_ACCESS_KEY_ID"
    : info.source === "profile"
    ? `from profile "${info.profile}" in ${info.file}`
    : info.source === "web-identity"
    ? "from AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN"
    : "from the container credentials endpoint";
  return {
    name: "credentials",
    ok: info.problem ? false : true,
    detail: info.problem
      ? `${key} ${from}, but ${info.problem}`
      : `${key} ${from}`,
    durationMs: ms,
    data: {
      present: true,
      source: info.source,
      access_key_id: info.keyIdMasked,
      profile: info.profile ?? null,
      file: info.file ?? null,
    },
  };
}

function lastPushProbe(facts: StoreFacts): ProbeResult {
  if (facts.lastPushError) {
    return {
      name: "last_push",
      ok: false,
      detail: `Cannot read the last push: ${facts.lastPushError}`,
      durationMs: 0,
      data: { at: null, seq: null },
    };
  }
  const lp = facts.lastPush;
  if (lp === null) {
    const nothing = facts.unpushed === 0;
    return {
      name: "last_push",
      ok: nothing,
      detail: nothing
        ? "never (nothing to push yet)"
        : "never: this host has not pushed yet (run a task or stint sync push)",
      durationMs: 0,
      data: { at: null, seq: null, age_ms: null },
    };
  }
  const age = Math.max(0, Date.now() - lp.at);
  return {
    name: "last_push",
    ok: true,
    detail: `${ago(lp.at)} (${
      new Date(lp.at).toISOString()
    }, up to change ${lp.seq})`,
    durationMs: 0,
    data: { at: new Date(lp.at).toISOString(), seq: lp.seq, age_ms: age },
  };
}

function unpushedProbe(facts: StoreFacts): ProbeResult {
  if (facts.unpushed === null) {
    return {
      name: "unpushed",
      ok: false,
      detail: `Cannot count unpushed changes: ${
        facts.unpushedError ?? "unknown"
      }`,
      durationMs: 0,
      data: { count: null },
    };
  }
  const n = facts.unpushed;
  return {
    name: "unpushed",
    ok: n === 0,
    detail: n === 0
      ? "0 changes: the bucket has everything from this host"
      : `${n} change${
        n === 1 ? "" : "s"
      } not in the bucket yet (the next run or stint sync push sends them)`,
    durationMs: 0,
    data: { count: n },
  };
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
  try {
    const answer = await Promise.race([
      fetch(url, {
        method: "HEAD",
        signal: controller.signal,
        redirect: "manual",
      }),
      timeout,
    ]);
    const ms = elapsed(started);
    if (answer === "timeout") {
      return {
        name: "endpoint",
        ok: false,
        detail: `${shown} did not answer within ${seconds(timeoutMs)}`,
        durationMs: ms,
        data: { url: shown, error: "Timeout" },
      };
    }
    await answer.body?.cancel();
    return {
      name: "endpoint",
      ok: true,
      detail: `${shown} answered (HTTP ${answer.status}) in ${
        Math.round(ms)
      }ms`,
      durationMs: ms,
      data: { url: shown, http_status: answer.status },
    };
  } catch (err) {
    const ms = elapsed(started);
    const code = netCode(err);
    return {
      name: "endpoint",
      ok: false,
      detail:
        `Cannot reach ${shown} (${code}); check STINT_S3_ENDPOINT and that the server is up`,
      durationMs: ms,
      data: { url: shown, error: code },
    };
  } finally {
    clearTimeout(timer);
  }
}

async function probeBucket(
  config: SyncConfig,
  options: { timeoutMs: number; selfHost: string | null },
): Promise<[ProbeResult, ProbeResult]> {
  const { timeoutMs, selfHost } = options;
  // Load the SDK before the clock starts: its load time is not the server's.
  try {
    await loadS3Sdk();
  } catch (err) {
    const detail = firstLine(err);
    return [
      { name: "bucket", ok: false, detail, durationMs: 0, data: {} },
      skipped("hosts", "not attempted: the bucket could not be probed"),
    ];
  }
  const bucket = openBucket(config, {
    requestTimeoutMs: timeoutMs,
    totalTimeoutMs: timeoutMs,
    maxAttempts: 1,
  });
  const started = performance.now();
  let firstPageMs: number | null = null;
  let listError: unknown = null;
  let timedOut = false;
  const seen = new Map<string, HostSeen>();
  const hostsPrefix = "hosts/";
  const listing = (async () => {
    try {
      let first = true;
      for await (const obj of bucket.list(hostsPrefix)) {
        if (first) {
          firstPageMs = elapsed(started);
          first = false;
        }
        if (timedOut) return;
        const rest = obj.key.slice(hostsPrefix.length);
        const host = rest.split("/")[0];
        // Only folders named like a host id (as sync reads them): a key
        // is anyone's text, and a control character in it would reach the
        // terminal.
        if (!HOST_ID.test(host)) continue;
        const h = seen.get(host) ??
          {
            hostId: host,
            lastPushAt: null,
            objects: 0,
            self: host === selfHost,
          };
        h.objects++;
        const t = obj.lastModified?.getTime();
        if (t !== undefined && (h.lastPushAt === null || t > h.lastPushAt)) {
          h.lastPushAt = t;
        }
        seen.set(host, h);
      }
      if (firstPageMs === null) firstPageMs = elapsed(started);
    } catch (err) {
      listError = err;
    }
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    listing,
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve();
      }, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  const ms = elapsed(started);
  // Closing releases sockets; a request still in flight is abandoned.
  bucket.close().catch(() => {});
  const name = config.bucket;
  if (listError !== null) {
    const be = listError instanceof BucketError ? listError : null;
    const code = be?.code ?? "UnknownError";
    const detail = be?.kind === "no-bucket"
      ? `Bucket "${name}" does not exist${
        config.endpoint ? ` at ${displayEndpoint(config.endpoint)}` : ""
      } (${code}); create it or fix STINT_BUCKET`
      : be?.kind === "credentials"
      ? `The server rejected the credentials for bucket "${name}" (${code}${
        be.status ? `, HTTP ${be.status}` : ""
      }); check AWS_SECRET_ACCESS_KEY / AWS_PROFILE`
      : be?.kind === "access-denied"
      ? `Access to bucket "${name}" was denied (${code}${
        be.status ? `, HTTP ${be.status}` : ""
      }); check the bucket policy for these credentials`
      : be?.kind === "unreachable" || be?.kind === "timeout"
      ? `Cannot reach bucket "${name}" (${code})`
      : `Cannot list bucket "${name}": ${firstLine(listError)}`;
    return [
      {
        name: "bucket",
        ok: false,
        detail,
        durationMs: ms,
        data: {
          bucket: name,
          exists: be?.kind === "no-bucket" ? false : null,
          error: code,
          error_kind: be?.kind ?? "other",
          http_status: be?.status ?? null,
        },
      },
      skipped("hosts", "not attempted: the bucket cannot be listed"),
    ];
  }
  if (firstPageMs === null) {
    return [
      {
        name: "bucket",
        ok: false,
        detail: `Bucket "${name}" did not answer within ${seconds(timeoutMs)}`,
        durationMs: ms,
        data: { bucket: name, exists: null, error: "Timeout" },
      },
      skipped("hosts", "not attempted: the bucket did not answer"),
    ];
  }
  const bucketResult: ProbeResult = {
    name: "bucket",
    ok: true,
    detail: `"${name}" exists and can be listed (${Math.round(firstPageMs)}ms)`,
    durationMs: firstPageMs,
    data: { bucket: name, exists: true },
  };
  const hosts = [...seen.values()].sort((a, b) =>
    (b.lastPushAt ?? 0) - (a.lastPushAt ?? 0) ||
    a.hostId.localeCompare(b.hostId)
  );
  const hostData = hosts.map((h) => ({
    host_id: h.hostId,
    last_push: h.lastPushAt === null
      ? null
      : new Date(h.lastPushAt).toISOString(),
    objects: h.objects,
    self: h.self,
  }));
  if (timedOut) {
    return [bucketResult, {
      name: "hosts",
      ok: false,
      detail: `Listing ${config.prefix}${hostsPrefix} did not finish within ${
        seconds(timeoutMs)
      } (${hosts.length} host(s) seen so far)`,
      durationMs: ms,
      data: { count: hosts.length, hosts: hostData, complete: false },
    }];
  }
  const shown = hosts.slice(0, 5).map((h) =>
    `${h.hostId} (${h.self ? "this host, " : ""}${
      h.lastPushAt === null ? "no date" : `pushed ${ago(h.lastPushAt)}`
    })`
  );
  if (hosts.length > 5) shown.push(`+${hosts.length - 5} more`);
  return [bucketResult, {
    name: "hosts",
    ok: true,
    detail: hosts.length === 0
      ? `none yet under ${config.prefix}${hostsPrefix}`
      : `${hosts.length}: ${shown.join(", ")}`,
    durationMs: ms,
    data: { count: hosts.length, hosts: hostData, complete: true },
  }];
}

function finish(
  results: Map<ProbeName, ProbeResult>,
  warnings: string[],
  timeoutMs: number,
  checkedAt: number,
): StatusReport {
  const probes = PROBE_NAMES.map((n) =>
    results.get(n) ?? skipped(n, "not attempted")
  );
  return {
    ok: probes.every((p) => p.ok !== false),
    probes,
    warnings,
    timeoutMs,
    checkedAt,
  };
}

function skipped(name: ProbeName, why: string): ProbeResult {
  return { name, ok: null, detail: why, durationMs: 0, data: {} };
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const started = performance.now();
  const value = fn();
  return { value, ms: elapsed(started) };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function ago(at: number): string {
  const d = Date.now() - at;
  // Servers round Last-Modified up to the second (Swift) and clocks drift a
  // little; only a real skew is worth a word.
  if (d < -60_000) {
    return `${Math.round(-d / 60_000)}m ahead of this clock (check the clock)`;
  }
  if (d < 10_000) return "just now";
  if (d < 60_000) return `${Math.floor(d / 1000)}s ago`;
  if (d < 3_600_000) return `${Math.floor(d / 60_000)}m ago`;
  if (d < 86_400_000) return `${Math.floor(d / 3_600_000)}h ago`;
  return `${Math.floor(d / 86_400_000)}d ago`;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
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
  return firstLine(err);
}

function firstLine(err: unknown): string {
  const msg = err instanceof StintError || err instanceof Error
    ? err.message
    : String(err);
  return msg.split("\n")[0];
}

function safeGet(env: EnvLike, key: string): string | undefined {
  try {
    return env.get(key);
  } catch {
    return undefined;
  }
}

/** Read one `[section]` of an INI file as lower-cased keys; null if absent. */
function readIniSection(
  path: string,
  section: string,
): Record<string, string> | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return null;
  }
  let current: string | null = null;
  let found: Record<string, string> | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = line.match(/^\[\s*(.+?)\s*\]$/);
    if (header) {
      current = header[1];
      if (current === section) found ??= {};
      continue;
    }
    if (current !== section || found === null) continue;
    const eq = line.indexOf("=");
    if (eq > 0) {
      found[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
    }
  }
  return found;
}
