/**
 * Tasks (refs): per ref the figures of `stint stats` (success rate, p50/p95
 * over the newest 1,000 runs), recent durations, the flaky verdict and the
 * last run; one ref's page adds a duration chart over time with failures
 * marked and its recent runs.
 * @module
 */
import { shortIds } from "../../cli/history.ts";
import { formatDuration } from "../../cli/output.ts";
import { NotFoundError } from "../../errors.ts";
import {
  type Execution,
  listExecutions,
  reconcileExecutions,
} from "../../store/executions.ts";
import {
  type Flakiness,
  flakiness,
  flakinessToJson,
  FLAKY_MIN_FLIPS,
  FLAKY_WINDOW,
} from "../../store/flaky.ts";
import { refsByLastRun } from "../../store/history_page.ts";
import { hostId } from "../../store/meta.ts";
import { type RefStats, refStats, refStatsToJson } from "../../store/stats.ts";
import { type Html, html, jsonBlock, queryString } from "../html.ts";
import { badge, empty, page, rate, time } from "../layout.ts";
import {
  BadRequest,
  htmlResponse,
  jsonResponse,
  readUiStore,
  shellFor,
  type UiRequest,
} from "../request.ts";
import { runsTable } from "./runs.ts";

/** Refs per page of the tasks list. */
export const REFS_PER_PAGE = 15;
/**
 * How many of each ref's newest runs the list's rates and percentiles
 * cover: 15 refs x 1,000 runs is 15,000 rows read at random, too slow for
 * a page; a ref's own page uses the 1,000 of `stint stats`.
 */
export const LIST_WINDOW = 200;
/** Runs drawn in a ref's duration chart (its newest). */
export const CHART_RUNS = 500;

/** One ref in the list. */
interface RefRow {
  stats: RefStats;
  flaky: Flakiness;
}

interface TasksView {
  rows: RefRow[];
  total: number;
  pageNo: number;
  q: string;
  here: string | null;
}

function tasksView(dbPath: string, url: URL): TasksView {
  const q = url.searchParams.get("q")?.trim() ?? "";
  const pageNo = Number(url.searchParams.get("page") ?? "1");
  if (!Number.isInteger(pageNo) || pageNo < 1) {
    throw new BadRequest("Page must be a whole number of at least 1");
  }
  return readUiStore<TasksView>(dbPath, (db) => {
    reconcileExecutions(db);
    const refs = refsByLastRun(db, { text: q });
    const slice = refs.slice(
      (pageNo - 1) * REFS_PER_PAGE,
      pageNo * REFS_PER_PAGE,
    );
    const rows = slice.map((r) => ({
      stats: refStats(db, { ref: r.ref, recent: 40, window: LIST_WINDOW })[0],
      flaky: flakiness(db, r.ref),
    })).filter((r) => r.stats !== undefined);
    return { rows, total: refs.length, pageNo, q, here: hostId(db) };
  }, () => ({ rows: [], total: 0, pageNo, q, here: null }));
}

function rowJson(r: RefRow): Record<string, unknown> {
  return { ...refStatsToJson(r.stats), ...flakinessToJson(r.flaky) };
}

/** `GET /api/tasks`: `stint stats --json` fields plus the flaky verdict, per ref. */
export function tasksApi(r: UiRequest): Response {
  const v = tasksView(r.dbPath, r.url);
  return jsonResponse({
    refs: v.rows.map(rowJson),
    total: v.total,
    page: v.pageNo,
    per_page: REFS_PER_PAGE,
  });
}

/** `GET /tasks`. */
export function tasksPage(r: UiRequest): Response {
  const v = tasksView(r.dbPath, r.url);
  return htmlResponse(
    page(shellFor(r, "Tasks", "tasks", v.here), renderTasks(v)),
  );
}

/** Recent durations as a small bar chart (SVG; classes only, no inline style). */
function sparkBars(values: number[]): Html {
  if (values.length === 0) return html`<span class="dim">-</span>`;
  const max = Math.max(...values);
  const w = 3;
  return html`
    <svg class="spark" viewBox="0 0 ${values.length *
      w} 16" width="${values.length * w}" height="16"
      aria-hidden="true">${values.map((v, i) => {
        const h = max > 0 ? Math.max(1, Math.round((v / max) * 16)) : 1;
        return html`
          <rect x="${i * w}" y="${16 - h}" width="${w - 1}"
            height="${h}"></rect>
        `;
      })}</svg>
  `;
}

function flakyBadge(f: Flakiness): Html {
  if (!f.flaky) return html`<span class="dim">-</span>`;
  return html`
    <span class="pill flaky"
      title="${f.flips} outcome changes among ${f
        .runs} runs with arguments ${JSON.stringify(f.args)} in the newest ${f
        .window} runs">flaky · ${f.flips} flips</span>
  `;
}

function renderTasks(v: TasksView): Html {
  const pages = Math.max(1, Math.ceil(v.total / REFS_PER_PAGE));
  const link = (n: number, label: string) =>
    html`<a class="button" href="/tasks${
      queryString({ q: v.q, page: n === 1 ? null : n })
    }">${label}</a>`;
  return html`<section>
<h1>Tasks <span class="dim small">${v.total} ref${
    v.total === 1 ? "" : "s"
  }</span></h1>
<form class="filters" method="get" action="/tasks">
<label class="grow">ref <input type="search" name="q" value="${v.q}" placeholder="part of a ref" spellcheck="false"></label>
<button type="submit">Filter</button>
</form>
${
    v.rows.length === 0
      ? empty(v.q ? "No ref matches." : "No runs recorded yet.")
      : html`
        <table class="tasks" id="tasks-table">
          <thead>
            <tr>
              <th>ref</th>
              <th class="num">runs</th>
              <th class="num">success</th>
              <th class="num">p50</th>
              <th class="num">p95</th>
              <th>recent</th>
              <th>flaky</th>
              <th>last run</th>
            </tr>
          </thead>
          <tbody>${v.rows.map(({ stats: s, flaky }) =>
            html`
              <tr data-ref="${s.ref}" ${flaky.flaky
                ? html`
                  class="is-flaky"
                `
                : ""}>
                <td class="mono"><a href="/tasks/${encodeURIComponent(
                  s.ref,
                )}">${s.ref}</a></td>
                <td class="num">${s.runs.toLocaleString("en")}</td>
                <td class="num">${rate(s.successRate)}</td>
                <td class="num">${formatDuration(s.p50Ms)}</td>
                <td class="num">${formatDuration(s.p95Ms)}</td>
                <td>${sparkBars(s.recentMs)}</td>
                <td>${flakyBadge(flaky)}</td>
                <td>${badge(s.lastStatus)} ${time(s.lastStartedAt)}</td>
              </tr>
            `
          )}</tbody>
        </table>
      `
  }
<div class="pager">${v.pageNo > 1 ? link(v.pageNo - 1, "← previous") : ""}${
    v.pageNo < pages ? link(v.pageNo + 1, "next →") : ""
  }<span class="dim">page ${v.pageNo} of ${pages} · success and percentiles cover each ref's newest ${LIST_WINDOW} runs (<code>stint stats --window ${LIST_WINDOW}</code>; a ref's page covers 1,000) · flaky: ≥ ${FLAKY_MIN_FLIPS} outcome changes with the same arguments in the newest ${FLAKY_WINDOW} runs</span></div>
</section>`;
}

interface TaskView {
  stats: RefStats;
  flaky: Flakiness;
  chart: Execution[];
  ids: Map<string, string>;
  here: string | null;
}

function taskView(dbPath: string, ref: string): TaskView {
  const v = readUiStore<TaskView | null>(dbPath, (db) => {
    reconcileExecutions(db);
    const stats = refStats(db, { ref, recent: 40 })[0];
    if (!stats) return null;
    const chart = listExecutions(db, { ref, limit: CHART_RUNS });
    return {
      stats,
      flaky: flakiness(db, ref),
      chart,
      ids: shortIds(db, chart.slice(0, 20)),
      here: hostId(db),
    };
  }, () => null);
  if (v === null) throw new NotFoundError(`No runs recorded for "${ref}"`);
  return v;
}

function chartPoints(runs: Execution[]): Record<string, unknown> {
  const pts = [...runs].reverse();
  return {
    t: pts.map((e) => Math.round(e.startedAt / 1000)),
    ms: pts.map((e) => e.durationMs),
    status: pts.map((e) => e.status),
    id: pts.map((e) => e.id),
  };
}

/** `GET /api/tasks/:ref`: stats, flaky verdict and the chart's runs. */
export function taskApi(r: UiRequest, ref: string): Response {
  const v = taskView(r.dbPath, ref);
  return jsonResponse({
    ...refStatsToJson(v.stats),
    ...flakinessToJson(v.flaky),
    durations: v.chart.map((e) => ({
      id: e.id,
      started_at: new Date(e.startedAt).toISOString(),
      duration_ms: e.durationMs,
      status: e.status,
    })),
  });
}

/** `GET /tasks/:ref`. */
export function taskPage(r: UiRequest, ref: string): Response {
  const v = taskView(r.dbPath, ref);
  const s = v.stats;
  const f = v.flaky;
  const card = (label: string, value: Html | string, text = false) =>
    html`
      <div class="card">
        <div class="label">${label}</div>
        <div class="value${text ? " text" : ""}">${value}</div>
      </div>
    `;
  const body = html`<section>
<h1 class="mono">${s.ref}</h1>
<div class="cards">
${card("runs", s.runs.toLocaleString("en"))}
${card("success", rate(s.successRate))}
${card("p50", formatDuration(s.p50Ms))}
${card("p95", formatDuration(s.p95Ms))}
${
    card(
      "in window",
      html`
        <span class="good">${s.succeeded} ok</span> · <span
          class="bad">${s.failed} failed</span>${s.killed
            ? html`
              · ${s.killed} killed
            `
            : ""}${s.lost
            ? html`
              · ${s.lost} lost
            `
            : ""}${s.running
            ? html`
              · ${s.running} running
            `
            : ""}
      `,
      true,
    )
  }
${card("last run", html`${badge(s.lastStatus)} ${time(s.lastStartedAt)}`, true)}
${
    card(
      "flaky",
      f.flaky
        ? html`
          <span class="pill flaky">yes</span> <span
            class="small">${f.flips} outcome changes in ${f.runs} runs (${f
              .failures} failed) with arguments <code>${JSON.stringify(
                f.args,
              )}</code>; last change ${time(f.lastFlipAt)}</span>
        `
        : html`
          no <span
            class="dim small">(${f.flips} outcome change${f.flips === 1
              ? ""
              : "s"} with the same arguments in the newest ${f
              .window} runs)</span>
        `,
      true,
    )
  }
</div>
<h2>Duration over time <span class="dim small">newest ${v.chart.length} runs · failures in red</span></h2>
<div id="chart" class="chart" data-chart="chart-data"></div>
${jsonBlock("chart-data", chartPoints(v.chart))}
<h2>Recent runs <a class="small" href="/runs${
    queryString({ ref: s.ref })
  }">all runs of this ref →</a></h2>
${runsTable(v.chart.slice(0, 20), v.ids, { showRef: false })}
</section>`;
  const shell = {
    ...shellFor(r, s.ref, "tasks", v.here),
    head: html`<link rel="stylesheet" href="/assets/uplot.css">
<script src="/assets/uplot.js" defer></script>
<script src="/assets/chart.js" defer></script>`,
  };
  return htmlResponse(page(shell, body));
}
