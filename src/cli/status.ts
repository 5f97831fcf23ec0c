/**
 * `stint status [--json]`: probe the store and the bucket without changing
 * anything (safe from cron, works on a read-only store). The probes return
 * facts (`src/sync/probes.ts`); the words for people are made here.
 * @module
 */
import type { ProbeResult, StatusReport } from "../sync/probes.ts";
import { boolFlag, parseFlags } from "./args.ts";
import type { Context } from "./context.ts";
import { eprintln, paint, printJson, println, printTable } from "./output.ts";

/** Help for `stint status`. */
export const help = `Usage: stint status [--json]

Probe the store and the bucket. Nothing is restored, pulled, pushed or
written, so it is safe from cron and works on a read-only store.

Probes (each passes, fails, is skipped when a prerequisite is missing, or
is "info" when there is nothing to judge yet: no store, no bucket, never
pushed):
  store        the store file is readable; its schema version and host id
  sync         the bucket configured (STINT_BUCKET or the config file), if any
  credentials  AWS credentials are present (key id shown as ****1234)
  endpoint     the S3 endpoint answers HTTP
  bucket       the bucket can be listed, and holds nothing corrupt, foreign
               or missing
  last push    when this host last pushed, and whether its last push failed
  unpushed     changes of this host not in the bucket yet (fails past an hour)
  hosts        hosts seen in the bucket and their last push

The network probes run at the same time, each with a timeout
(STINT_PROBE_TIMEOUT, seconds or a duration like 500ms; default 2s).

Options:
  --json       print the report as JSON

Exit codes: 0 nothing is wrong (a local-only setup or a new one is fine),
1 a probe failed, 2 usage error.

Examples:
  stint status
  stint status --json | jq '.probes[] | select(.ok == false)'
  STINT_PROBE_TIMEOUT=5 stint status`;

const LABELS: Record<ProbeResult["name"], string> = {
  store: "store",
  sync: "sync",
  credentials: "credentials",
  endpoint: "endpoint",
  bucket: "bucket",
  last_push: "last push",
  unpushed: "unpushed",
  hosts: "hosts",
};

/** Run `stint status`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, { json: { type: "boolean" } }, {
    command: "status",
    max: 0,
  });
  const { runProbes } = await import("../sync/probes.ts");
  const report = await runProbes(ctx.dbPath);
  for (const w of report.warnings) eprintln(`stint: warning: ${w}`);
  if (boolFlag(p, "json")) {
    printJson(statusToJson(report));
  } else {
    await printTable(
      ctx,
      ["PROBE", "RESULT", "DETAIL"],
      report.probes.map((r) => [
        LABELS[r.name],
        resultWord(r, ctx.color),
        detail(r, report),
      ]),
    );
    println(summary(report));
  }
  return report.ok ? 0 : 1;
}

/** The `--json` shape: stable snake_case fields, ISO-8601 times. */
export function statusToJson(report: StatusReport): Record<string, unknown> {
  return {
    ok: report.ok,
    checked_at: new Date(report.checkedAt).toISOString(),
    probe_timeout_ms: report.timeoutMs,
    probes: report.probes.map((r) => ({
      name: r.name,
      ok: r.ok,
      detail: detail(r, report),
      duration_ms: r.durationMs,
      ...(r.skipped ? { skipped: r.skipped } : {}),
      ...(r.info ? { info: true } : {}),
      ...r.data,
    })),
    warnings: report.warnings,
  };
}

/** One line for people about what probe `r` found. */
export function detail(r: ProbeResult, report: StatusReport): string {
  if (r.ok === null && r.skipped) return SKIPPED[r.skipped];
  const d = r.data;
  switch (r.name) {
    case "store":
      return storeDetail(d);
    case "sync":
      return syncDetail(d);
    case "credentials":
      return credentialsDetail(d);
    case "endpoint":
      return d.http_status !== undefined
        ? `${d.url} answered (HTTP ${d.http_status}) in ${
          Math.round(r.durationMs)
        }ms`
        : d.error === "Timeout"
        ? `${d.url} did not answer within ${seconds(report.timeoutMs)}`
        : `Cannot reach ${d.url} (${d.error}); check STINT_S3_ENDPOINT and that the server is up`;
    case "bucket":
      return bucketDetail(r, report);
    case "last_push":
      return lastPushDetail(d);
    case "unpushed":
      return unpushedDetail(d, r.ok);
    case "hosts":
      return hostsDetail(d, report);
  }
}

const SKIPPED: Record<NonNullable<ProbeResult["skipped"]>, string> = {
  "no-sync": "not attempted: sync is not configured",
  "no-store": "not attempted: the store cannot be read",
  "no-credentials": "not attempted: no usable credentials",
  "bucket-failed": "not attempted: the bucket cannot be listed",
  "bucket-silent": "not attempted: the bucket did not answer",
  "sdk-failed": "not attempted: the bucket could not be probed",
};

function storeDetail(d: Record<string, unknown>): string {
  if (!d.exists) {
    return `No store at ${d.path} yet: it is created by the first command that writes (or restored from the bucket when sync is configured)`;
  }
  if (d.error) return String(d.error);
  if (d.schema_version === 0) {
    return `${d.path} is not a stint store (schema version 0); check --db / STINT_DB`;
  }
  const behind = Number(d.schema_version) < Number(d.current_schema_version)
    ? ` (this stint writes v${d.current_schema_version}; it migrates on the next write)`
    : "";
  const ro = d.read_only_dir
    ? Number(d.unread_wal_bytes) > 0
      ? `; read-only directory, read without its ${d.unread_wal_bytes}-byte -wal file`
      : "; read-only directory"
    : "";
  return `${d.path}, schema v${d.schema_version}${behind}${
    d.host_id ? `, host ${d.host_id}` : ""
  }${ro}`;
}

function syncDetail(d: Record<string, unknown>): string {
  if (!d.configured) {
    return d.bad_setting
      ? "Sync is off because of a bad setting (see the warning above)"
      : 'Off: no bucket configured (everything works locally; set STINT_BUCKET or "bucket" in the config file to sync)';
  }
  const where = d.endpoint ? `at ${d.endpoint}` : "on AWS S3";
  const offset = Number(d.clock_offset_ms ?? 0);
  const clock = Math.abs(offset) > 60_000
    ? `; this machine's clock is ${Math.round(Math.abs(offset) / 60_000)}m ${
      offset > 0 ? "behind" : "ahead of"
    } the bucket's (stamps use bucket time; fix the clock)`
    : "";
  return `s3://${d.bucket}/${d.prefix} ${where} (${d.region})${clock}`;
}

function credentialsDetail(d: Record<string, unknown>): string {
  if (!d.present) {
    return "No AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials (instance roles are not probed)";
  }
  const key = d.access_key_id ? `key ${d.access_key_id}` : "no static key";
  const from = d.source === "env"
    ? "from AWS_ACCESS_KEY_ID"
    : d.source === "profile"
    ? `from profile "${d.profile}" in ${d.file}`
    : d.source === "web-identity"
    ? "from AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN"
    : "from the container credentials endpoint";
  return d.problem ? `${key} ${from}, but ${d.problem}` : `${key} ${from}`;
}

function bucketDetail(r: ProbeResult, report: StatusReport): string {
  const d = r.data;
  const name = d.bucket;
  if (d.exists === true) {
    const listed = `"${name}" can be listed (${
      Math.round(r.durationMs)
    }ms, ${d.objects} object(s)${d.complete ? "" : " before the timeout"})`;
    if (r.ok) return `${listed}; nothing corrupt, foreign or missing`;
    const parts: string[] = [];
    const add = (n: unknown, what: string, first: unknown) => {
      if (Number(n) > 0) {
        parts.push(`${n} ${what} (first: ${JSON.stringify(String(first))})`);
      }
    };
    add(d.corrupt, "corrupt", d.first_corrupt);
    add(d.foreign, "foreign", d.first_foreign);
    add(d.missing, "missing", d.first_missing);
    return `${listed}, but ${
      parts.join(", ")
    }; stint skips them, see stint sync status`;
  }

  const code = String(d.error ?? "UnknownError");
  const status = d.http_status ? `, HTTP ${d.http_status}` : "";
  switch (d.error_kind) {
    case "no-bucket":
      return `Bucket "${name}" does not exist${
        endpointOf(report) ? ` at ${endpointOf(report)}` : ""
      } (${code}); create it or fix STINT_BUCKET`;
    case "credentials":
      return `The server rejected the credentials for bucket "${name}" (${code}${status}); check AWS_SECRET_ACCESS_KEY / AWS_PROFILE`;
    case "access-denied":
      return `Access to bucket "${name}" was denied (${code}${status}); check the bucket policy for these credentials`;
    case "unreachable":
    case "timeout":
      return `Cannot reach bucket "${name}" (${code})`;
    case "clock":
      return `The server refused the request because this machine's clock is too far from its own (${code}${status}); fix the clock (NTP)`;
  }
  if (d.error === "Timeout") {
    return `Bucket "${name}" did not answer within ${
      seconds(report.timeoutMs)
    }`;
  }
  return `Cannot list bucket "${name}": ${d.message ?? code}`;
}

function lastPushDetail(d: Record<string, unknown>): string {
  const e = d.last_error as { at: string; message: string } | undefined;
  const failed = e
    ? `; the last push failed ${ago(Date.parse(e.at))}: ${e.message}`
    : "";
  if (d.at === null) {
    return `never${
      d.nothing_to_push ? ": nothing to push yet" : ": nothing pushed yet"
    }${failed}`;
  }
  const at = Date.parse(String(d.at));
  return `${ago(at)} (${d.at}, up to change ${d.seq})${failed}`;
}

function unpushedDetail(
  d: Record<string, unknown>,
  ok: boolean | null,
): string {
  if (d.count === null) return `Cannot count unpushed changes: ${d.error}`;
  const n = Number(d.count);
  const changes = `${n} change${n === 1 ? "" : "s"}`;
  if (n === 0) return "0 changes: the bucket has everything from this host";
  if (ok) {
    return `${changes} not in the bucket yet (the next run or stint sync push sends them)`;
  }
  return `${changes} not in the bucket, the oldest for ${
    Math.round(Number(d.oldest_age_ms) / 60_000)
  }m: pushes are not getting through (see last push; try stint sync push)`;
}

function hostsDetail(d: Record<string, unknown>, report: StatusReport): string {
  const hosts = d.hosts as {
    host_id: string;
    last_push: string | null;
    self: boolean;
  }[];
  if (!d.complete) {
    return `Listing ${d.prefix} did not finish within ${
      seconds(report.timeoutMs)
    } (${hosts.length} host(s) seen so far)`;
  }
  if (hosts.length === 0) return `none yet under ${d.prefix}`;
  const shown = hosts.slice(0, 5).map((h) =>
    `${h.host_id} (${h.self ? "this host, " : ""}${
      h.last_push === null
        ? "no date"
        : `pushed ${ago(Date.parse(h.last_push))}`
    })`
  );
  if (hosts.length > 5) shown.push(`+${hosts.length - 5} more`);
  return `${hosts.length}: ${shown.join(", ")}`;
}

function endpointOf(report: StatusReport): string | null {
  const sync = report.probes.find((p) => p.name === "sync");
  return (sync?.data.endpoint as string | null | undefined) ?? null;
}

function resultWord(r: ProbeResult, color: boolean): string {
  if (r.ok === true) return paint("ok", "green", color);
  if (r.ok === false) return paint("FAIL", "red", color);
  return paint(r.info ? "info" : "skipped", "gray", color);
}

function summary(report: StatusReport): string {
  const count = (f: (r: ProbeResult) => boolean) =>
    report.probes.filter(f).length;
  const failed = count((r) => r.ok === false);
  const passed = count((r) => r.ok === true);
  const info = count((r) => r.ok === null && !!r.info);
  const skipped = count((r) => r.ok === null && !r.info);
  const tail = [
    info ? `${info} for information` : "",
    skipped ? `${skipped} not attempted` : "",
  ].filter(Boolean).join(", ");
  const head = failed === 0
    ? `Healthy: ${passed} probe${passed === 1 ? "" : "s"} passed`
    : `${failed} of ${failed + passed} probes failed`;
  return tail ? `${head}; ${tail}` : head;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** "just now", "5m ago"; a time ahead of this clock says so. */
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
