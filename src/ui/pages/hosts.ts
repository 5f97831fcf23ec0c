/**
 * Hosts: every host with runs in this store (runs, running, last run), and
 * with sync configured this host's push state (last push, unpushed changes,
 * other hosts' changes applied here) and the `stint status` probes, which
 * the page loads after it is shown (they may take a probe timeout).
 * @module
 */
import { reconcileExecutions } from "../../store/executions.ts";
import { type HostRuns, hostRuns } from "../../store/history_page.ts";
import { hostId } from "../../store/meta.ts";
import { probeReport, type SyncFacts, syncFacts } from "../hosts.ts";
import { type Html, html } from "../html.ts";
import { empty, page, time } from "../layout.ts";
import {
  htmlResponse,
  jsonResponse,
  readUiStore,
  shellFor,
  type UiRequest,
} from "../request.ts";

interface HostsView {
  hosts: HostRuns[];
  here: string | null;
  sync: SyncFacts;
}

async function hostsView(dbPath: string): Promise<HostsView> {
  const local = readUiStore<{ hosts: HostRuns[]; here: string | null }>(
    dbPath,
    (db) => {
      reconcileExecutions(db);
      const here = hostId(db);
      return { hosts: hostRuns(db, here), here };
    },
    () => ({ hosts: [], here: null }),
  );
  return { ...local, sync: await syncFacts(dbPath) };
}

function hostsJson(v: HostsView): Record<string, unknown> {
  return {
    sync: v.sync,
    hosts: v.hosts.map((h) => ({
      host_id: h.hostId,
      self: h.hostId === v.here,
      runs: h.runs,
      running: h.running,
      last_started_at: h.lastStartedAt === null
        ? null
        : new Date(h.lastStartedAt).toISOString(),
      applied_seq: v.sync.cursors.find((c) => c.host === h.hostId)?.seq ??
        null,
    })),
  };
}

/** `GET /api/hosts`: hosts with their runs, and this host's sync facts (`stint sync status --json` fields). */
export async function hostsApi(r: UiRequest): Promise<Response> {
  return jsonResponse(hostsJson(await hostsView(r.dbPath)));
}

/** `GET /api/hosts/probes`: `stint status --json`. */
export async function probesApi(r: UiRequest): Promise<Response> {
  return jsonResponse(await probeReport(r.dbPath));
}

/** `GET /hosts` (`?probes=1` runs the probes before answering, for pages without scripts). */
export async function hostsPage(r: UiRequest): Promise<Response> {
  const v = await hostsView(r.dbPath);
  const probes = r.url.searchParams.get("probes") === "1"
    ? await probeReport(r.dbPath)
    : null;
  return htmlResponse(
    page(shellFor(r, "Hosts", "hosts", v.here), renderHosts(v, probes)),
  );
}

function syncSection(s: SyncFacts): Html {
  if (!s.configured) {
    return html`
      <div class="notice"
        id="sync-off"><strong>Sync is not configured.</strong> Set <code>STINT_BUCKET</code> (and <code>STINT_S3_ENDPOINT</code> for a server other than AWS) to share history between machines; see <code>stint sync --help</code>. The hosts below are the ones whose runs are in this store.</div>
    `;
  }
  const rows: [string, Html | string][] = [
    [
      "bucket",
      html`<code>s3://${s.bucket}/${s.prefix ?? ""}</code>${
        s.endpoint
          ? html`
            at <code>${s.endpoint}</code>
          `
          : ""
      }`,
    ],
    ["this host", html`<code>${s.host_id ?? "-"}</code>`],
    ["last push", s.last_push_at ? time(Date.parse(s.last_push_at)) : "never"],
    [
      "unpushed",
      html`<span class="${
        s.unpushed > 0 ? "warn" : "good"
      }">${s.unpushed} change${s.unpushed === 1 ? "" : "s"}</span>`,
    ],
    ["last pull", s.last_pull_at ? time(Date.parse(s.last_pull_at)) : "never"],
    [
      "flush every",
      s.flush_interval_s === null ? "-" : `${s.flush_interval_s} s`,
    ],
  ];
  if (s.last_error) {
    rows.push([
      "last error",
      html`<span class="err">${s.last_error.message}</span> ${
        s.last_error.at ? time(Date.parse(s.last_error.at)) : ""
      }`,
    ]);
  }
  return html`<table class="record" id="sync">${
    rows.map(([k, v]) =>
      html`
        <tr>
          <th>${k}</th>
          <td>${v}</td>
        </tr>
      `
    )
  }</table>`;
}

function probesSection(
  s: SyncFacts,
  probes: Record<string, unknown> | null,
): Html {
  if (!s.configured) return html``;
  const rows = probes
    ? (probes.probes as {
      name: string;
      ok: boolean | null;
      info?: boolean;
      detail: string;
    }[])
      .map((p) =>
        html`
          <tr>
            <td class="mono">${p.name}</td>
            <td>${p.ok === true
              ? html`<span class="st st-succeeded">ok</span>`
              : p.ok === false
              ? html`<span class="st st-failed">FAIL</span>`
              : p.info
              ? html`<span class="st st-running">info</span>`
              : html`<span class="st st-skipped">skipped</span>`}</td>
            <td>${p.detail}</td>
          </tr>
        `
      )
    : html`
      <tr>
        <td colspan="3"
          class="dim">Probing… (<a href="/hosts?probes=1">run them in the page</a> without scripts)</td>
      </tr>
    `;
  return html`
    <h2>Probes <span class="dim small">as <code>stint status</code></span></h2>
    <table class="probes" id="probes" ${probes ? "" : html`
      data-probes="/api/hosts/probes"
    `}>
      <thead>
        <tr>
          <th>probe</th>
          <th>result</th>
          <th>detail</th>
        </tr>
      </thead>
      <tbody>${rows}</tbody>
    </table>
  `;
}

/**
 * The last write the last pull saw of a host (its heartbeat while it runs
 * something), marked when the host is silent for longer than it may be.
 */
function heartbeatCell(b: SyncFacts["heartbeats"][number] | undefined): Html {
  if (!b) return html`<td class="dim">-</td>`;
  return b.silent_since
    ? html`<td><span class="err">silent</span> since ${
      time(Date.parse(b.silent_since))
    }</td>`
    : html`<td>${time(Date.parse(b.at))}</td>`;
}

function renderHosts(
  v: HostsView,
  probes: Record<string, unknown> | null,
): Html {
  const applied = new Map(v.sync.cursors.map((c) => [c.host, c.seq]));
  const beats = new Map(v.sync.heartbeats.map((b) => [b.host, b]));
  return html`<section>
<h1>Hosts</h1>
${syncSection(v.sync)}
<h2>Hosts with runs in this store</h2>
${
    v.hosts.length === 0 ? empty("No runs recorded yet.") : html`
      <table class="runs" id="hosts-table">
        <thead>
          <tr><th>host</th><th class="num">runs</th><th class="num">running</th><th>last run</th>${v
              .sync.configured
            ? html`
              <th class="num">changes applied here</th>
              <th>last push (bucket)</th>
              <th>heartbeat</th>
            `
            : ""}</tr>
        </thead>
        <tbody>${v.hosts.map((h) =>
          html`
            <tr
              data-host="${h
                .hostId}"><td class="mono"><a href="/runs?host=${encodeURIComponent(
                  h.hostId,
                )}">${h.hostId}</a>${h.hostId === v.here
                ? html`
                  <span class="dim">(this host)</span>
                `
                : ""}</td>
            <td class="num">${h.runs.toLocaleString("en")}</td>
            <td class="num">${h.running}</td>
            <td>${time(h.lastStartedAt)}</td>${v.sync.configured
              ? html`
                <td class="num">${h.hostId === v.here
                  ? "-"
                  : applied.get(h.hostId) ?? "none"}</td>
                <td data-last-push="${h.hostId}" class="dim">-</td>
                ${heartbeatCell(
                  h.hostId === v.here ? undefined : beats.get(h.hostId),
                )}
              `
              : ""}</tr>
          `
        )}</tbody>
      </table>
    `
  }
${probesSection(v.sync, probes)}
</section>`;
}
