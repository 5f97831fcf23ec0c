/**
 * `stint status [--json]`: probe the store and the bucket without changing
 * anything (safe from cron, works on a read-only store).
 * @module
 */
import {
  type ProbeName,
  type ProbeResult,
  runProbes,
  type StatusReport,
} from "../sync/probes.ts";
import { boolFlag, parseFlags } from "./args.ts";
import type { Context } from "./context.ts";
import { eprintln, paint, printJson, println, printTable } from "./output.ts";

/** Help for `stint status`. */
export const help = `Usage: stint status [--json]

Probe the store and the bucket. Nothing is restored, pulled, pushed or
written, so it is safe from cron and works on a read-only store.

Probes (each passes, fails, or is skipped when a prerequisite failed):
  store        the store file is readable; its schema version and host id
  sync         a bucket is configured (STINT_BUCKET or the config file)
  credentials  AWS credentials are present (key id shown as ****1234)
  endpoint     the S3 endpoint answers HTTP
  bucket       the bucket exists and these credentials can list it
  last push    when this host last pushed
  unpushed     changes of this host not in the bucket yet
  hosts        hosts seen in the bucket and their last push

The network probes run at the same time, each with a timeout
(STINT_PROBE_TIMEOUT, seconds or a duration like 500ms; default 2s).

Options:
  --json       print the report as JSON

Exit codes: 0 every attempted probe passed, 1 a probe failed, 2 usage error.

Examples:
  stint status
  stint status --json | jq '.probes[] | select(.ok == false)'
  STINT_PROBE_TIMEOUT=5 stint status`;

const LABELS: Record<ProbeName, string> = {
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
        r.detail,
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
      detail: r.detail,
      duration_ms: r.durationMs,
      ...r.data,
    })),
    warnings: report.warnings,
  };
}

function resultWord(r: ProbeResult, color: boolean): string {
  if (r.ok === true) return paint("ok", "green", color);
  if (r.ok === false) return paint("FAIL", "red", color);
  return paint("skipped", "gray", color);
}

function summary(report: StatusReport): string {
  const failed = report.probes.filter((r) => r.ok === false).length;
  const skipped = report.probes.filter((r) => r.ok === null).length;
  const total = report.probes.length;
  const tail = skipped ? `; ${skipped} not attempted` : "";
  return failed === 0
    ? `All ${total - skipped} attempted probes passed${tail}`
    : `${failed} of ${total - skipped} attempted probes failed${tail}`;
}
