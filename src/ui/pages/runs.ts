/**
 * The runs page: history newest first with the filters of `stint history`
 * (ref, status, since/until, host) plus text, keyset-paged.
 * @module
 */
import { describeOutcome, parseSince, shortIds } from "../../cli/history.ts";
import { formatDuration } from "../../cli/output.ts";
import { UsageError } from "../../errors.ts";
import {
  type Execution,
  executionToJson,
  reconcileExecutions,
} from "../../store/executions.ts";
import {
  type HistoryCursor,
  type HistoryPage,
  type HistoryPageQuery,
  queryHistory,
} from "../../store/history_page.ts";
import { parseStatus, STATUSES } from "../../store/history_query.ts";
import { hostId } from "../../store/meta.ts";
import { type Html, html, queryString } from "../html.ts";
import { badge, duration, empty, page, time } from "../layout.ts";
import {
  BadRequest,
  htmlResponse,
  jsonResponse,
  readUiStore,
  shellFor,
  type UiRequest,
} from "../request.ts";

/** The filters as typed (kept for the form and the paging links). */
export interface RunsForm {
  ref: string;
  status: string;
  since: string;
  until: string;
  host: string;
  q: string;
}

/** Everything the runs page shows. */
export interface RunsView {
  form: RunsForm;
  page: HistoryPage;
  ids: Map<string, string>;
  here: string | null;
  /** The filters' problem, shown above the table (the query ran without it). */
  error: string | null;
}

/** A cursor in a URL: `<started_at>_<rowid>`. */
export function encodeCursor(c: HistoryCursor): string {
  return `${c.startedAt}_${c.rowid}`;
}

/** Parse {@linkcode encodeCursor}; a bad one is a 400. */
export function decodeCursor(raw: string | null): HistoryCursor | undefined {
  if (raw === null || raw === "") return undefined;
  const m = raw.match(/^(\d{1,16})_(\d{1,16})$/);
  if (!m) throw new BadRequest(`Invalid page cursor "${raw.slice(0, 40)}"`);
  return { startedAt: Number(m[1]), rowid: Number(m[2]) };
}

/** The filters as typed in the URL. */
export function readRunsForm(url: URL): RunsForm {
  const p = url.searchParams;
  return {
    ref: p.get("ref")?.trim() ?? "",
    status: p.get("status")?.trim().toLowerCase() ?? "",
    since: p.get("since")?.trim() ?? "",
    until: p.get("until")?.trim() ?? "",
    host: p.get("host")?.trim() ?? "",
    q: p.get("q")?.trim() ?? "",
  };
}

/**
 * Run one of history's checks for the field `field`; its UsageError
 * becomes a BadRequest naming the field (`Status must be ...`), not the
 * CLI's flag (`--status must be ...`).
 */
function asField<T>(field: string, check: () => T, flag = `--${field}`): T {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const msg = err.message.replace(flag, field);
    throw new BadRequest(msg.charAt(0).toUpperCase() + msg.slice(1));
  }
}

/** Build the query from the URL (a bad filter is a BadRequest). */
export function parseRunsQuery(url: URL): HistoryPageQuery {
  const form = readRunsForm(url);
  const p = url.searchParams;
  // history's own checks (completed means succeeded, the same durations),
  // their messages naming the field instead of the flag.
  const status = asField(
    "status",
    () => parseStatus(form.status || undefined),
  );
  const limitRaw = p.get("limit");
  const limit = limitRaw === null ? 50 : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new BadRequest("Limit must be a whole number from 1 to 500");
  }
  const when = (raw: string, name: string) =>
    asField(name, () => parseSince(raw || undefined), "--since");
  return {
    ref: form.ref || undefined,
    status,
    host: form.host || undefined,
    since: when(form.since, "since"),
    until: when(form.until, "until"),
    text: form.q || undefined,
    limit,
    before: decodeCursor(p.get("before")),
    after: decodeCursor(p.get("after")),
  };
}

/** Gather the runs page (a bad filter is shown, and the newest runs listed). */
export function runsView(dbPath: string, url: URL): RunsView {
  const form = readRunsForm(url);
  let query: HistoryPageQuery = {};
  let error: string | null = null;
  try {
    query = parseRunsQuery(url);
  } catch (err) {
    if (!(err instanceof BadRequest)) throw err;
    error = err.message;
  }
  return readUiStore<RunsView>(dbPath, (db) => {
    reconcileExecutions(db);
    const page = queryHistory(db, query);
    return {
      form,
      page,
      ids: shortIds(db, page.runs),
      here: hostId(db),
      error,
    };
  }, () => ({
    form,
    page: { runs: [], older: null, newer: null, partial: false, scanned: 0 },
    ids: new Map(),
    here: null,
    error,
  }));
}

/** `GET /api/runs`: the page as JSON (runs use `stint history --json` fields). */
export function runsApi(r: UiRequest): Response {
  parseRunsQuery(r.url); // a bad filter is a 400 here, not a note
  const v = runsView(r.dbPath, r.url);
  return jsonResponse({
    runs: v.page.runs.map(executionToJson),
    older: v.page.older ? encodeCursor(v.page.older) : null,
    newer: v.page.newer ? encodeCursor(v.page.newer) : null,
    partial: v.page.partial,
    scanned: v.page.scanned,
  });
}

/** `GET /runs`. */
export function runsPage(r: UiRequest): Response {
  const v = runsView(r.dbPath, r.url);
  return htmlResponse(
    page(shellFor(r, "Runs", "runs", v.here), renderRuns(v)),
    v.error ? 400 : 200,
  );
}

function filterForm(f: RunsForm): Html {
  const option = (value: string, label: string) =>
    html`
      <option value="${value}" ${f.status === value
        ? html`
          selected
        `
        : ""}>${label}</option>
    `;
  return html`
    <form class="filters" method="get" action="/runs" id="filters">
      <label>ref <input name="ref" value="${f
        .ref}" placeholder="myapp:test" size="18" spellcheck="false"></label>
      <label>status <select name="status" data-autosubmit>${option(
        "",
        "any",
      )}${STATUSES.map((s) => option(s, s))}</select></label>
      <label>since <input name="since" value="${f
        .since}" placeholder="7d or 2026-11-01" size="12"></label>
      <label>until <input name="until" value="${f
        .until}" placeholder="1h" size="10"></label>
      <label>host <input name="host" value="${f
        .host}" placeholder="host id" size="14" spellcheck="false"></label>
      <label
        class="grow">text <input name="q" type="search" value="${f
          .q}" placeholder="ref, command, error or id" spellcheck="false"></label>
      <button type="submit">Filter</button>
      <a class="button quiet" href="/runs">Clear</a>
    </form>
  `;
}

/** The runs table (also used by the task page). */
export function runsTable(
  runs: Execution[],
  ids: Map<string, string>,
  options: { showRef?: boolean } = {},
): Html {
  const showRef = options.showRef ?? true;
  const hosts = new Set(runs.map((e) => e.hostId));
  const now = Date.now();
  return html`
    <table class="runs" id="runs-table">
      <thead>
        <tr><th>id</th>${showRef
          ? html`<th>ref</th>`
          : ""}<th>command</th><th>started</th><th class="num">duration</th><th>status</th>${hosts
            .size > 1
          ? html`<th>host</th>`
          : ""}</tr>
      </thead>
      <tbody>${runs.map((e) =>
        html`<tr class="row-${e.status}" data-id="${e.id}" data-status="${e.status}">
<td class="mono"><a href="/runs/${e.id}">${ids.get(e.id) ?? e.id}</a></td>${
          showRef
            ? html`<td class="mono"><a href="/tasks/${
              encodeURIComponent(e.ref)
            }">${e.ref}</a></td>`
            : ""
        }<td class="mono cmd" title="${e.command}">${e.command}</td>
<td class="when">${time(e.startedAt, now)}</td>
<td class="num">${
          e.status === "running"
            ? duration(null, { runningSince: e.startedAt })
            : duration(e.durationMs)
        }</td>
<td>${badge(e.status, outcomeDetail(e))}</td>${
          hosts.size > 1 ? html`<td class="mono">${e.hostId}</td>` : ""
        }</tr>`
      )}</tbody>
    </table>
  `;
}

/** `exit 1`, `SIGINT`, or null: what `describeOutcome` adds to the status word. */
export function outcomeDetail(e: Execution): string | null {
  const m = describeOutcome(e, false).match(/\((.*)\)$/);
  return m ? m[1] : null;
}

function pager(v: RunsView): Html {
  const base = { ...v.form } as Record<string, string>;
  const newer = v.page.newer
    ? html`<a class="button" rel="prev" href="/runs${
      queryString({ ...base, after: encodeCursor(v.page.newer) })
    }">← newer</a>`
    : html`<span class="button disabled">← newer</span>`;
  const older = v.page.older
    ? html`<a class="button" rel="next" id="older" href="/runs${
      queryString({ ...base, before: encodeCursor(v.page.older) })
    }">${v.page.partial ? "search older →" : "older →"}</a>`
    : html`<span class="button disabled">older →</span>`;
  const note = v.page.partial
    ? html`
      <span
        class="dim">Looked through ${v.page.scanned.toLocaleString(
          "en",
        )} runs, back to ${time(
          v.page.older!.startedAt,
        )}: text and combined filters check that many runs per page; search older for more.</span>
    `
    : "";
  return html`<div class="pager">${newer}${older}${note}</div>`;
}

/** The body of the runs page. */
export function renderRuns(v: RunsView): Html {
  const filtered = Object.values(v.form).some((x) => x !== "");
  const running = v.page.runs.filter((e) => e.status === "running").length;
  return html`<section>
<h1>Runs ${
    running > 0
      ? html`<span class="pill st-running">${running} running</span>`
      : ""
  }</h1>
${filterForm(v.form)}
${v.error ? html`<p class="error">${v.error}</p>` : ""}
${
    v.page.runs.length === 0
      ? empty(
        filtered
          ? v.page.partial
            ? "No match among the runs looked at so far."
            : "No runs match these filters."
          : html`No runs recorded yet: <code>stint run &lt;task&gt;</code> or <code>stint exec -- &lt;cmd&gt;</code> records one.`,
      )
      : runsTable(v.page.runs, v.ids)
  }
${pager(v)}
</section>${
    running > 0 && !v.page.newer
      ? html`<div hidden data-refresh-while-running></div>`
      : ""
  }`;
}

/** One-line summary used in titles: `myapp:test failed (exit 1) in 4.21s`. */
export function runSummary(e: Execution): string {
  return `${e.ref} ${describeOutcome(e, false)}${
    e.durationMs !== null ? ` in ${formatDuration(e.durationMs)}` : ""
  }`;
}
