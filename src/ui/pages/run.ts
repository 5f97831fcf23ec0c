/**
 * One run: its record, its log (the end of it, ANSI colours rendered,
 * escaped), search in the log, live following while it runs, and the kill
 * and rerun buttons for this host's runs.
 * @module
 */
import { formatBytes } from "../../format.ts";
import { NotFoundError } from "../../errors.ts";
import {
  type BackgroundRun,
  backgroundRunToJson,
  getBackgroundRunExact,
  reconcileBackgroundRuns,
} from "../../store/background.ts";
import {
  type Execution,
  executionToJson,
  getExecution,
  reconcileExecutions,
} from "../../store/executions.ts";
import { backgroundOfExecution } from "../../store/history_page.ts";
import { hostId } from "../../store/meta.ts";
// raw(): markup from the ANSI renderer, which escaped all text itself.
import { type Html, html, raw } from "../html.ts";
import { badge, duration, page, timeFull } from "../layout.ts";
import {
  DEFAULT_TAIL_BYTES,
  logFile,
  type LogSearch,
  type LogTail,
  readLogTail,
  searchLog,
} from "../log_view.ts";
import { followRun, streamStart } from "../live.ts";
import {
  BadRequest,
  htmlResponse,
  jsonResponse,
  readUiStore,
  shellFor,
  type UiRequest,
} from "../request.ts";
import { outcomeDetail, runSummary } from "./runs.ts";

/** A run as the page sees it. */
interface RunFacts {
  execution: Execution;
  background: BackgroundRun | null;
  here: string;
}

/** Find a run by id or unique prefix; null when only its background run exists yet. */
function findRun(
  dbPath: string,
  id: string,
): RunFacts | { pending: BackgroundRun } {
  const found = readUiStore(dbPath, (db) => {
    reconcileBackgroundRuns(db);
    reconcileExecutions(db);
    const here = hostId(db);
    try {
      const execution = getExecution(db, id);
      const background = execution.backgroundId
        ? getBackgroundRunExact(db, execution.backgroundId) ?? null
        : null;
      return { execution, background, here };
    } catch (err) {
      // A background run whose supervisor has not recorded its execution yet.
      const bg = /^[0-9a-f-]{36}$/.test(id)
        ? backgroundOfExecution(db, id)
        : undefined;
      if (err instanceof NotFoundError && bg) return { pending: bg };
      throw err;
    }
  }, () => null);
  if (found === null) throw new NotFoundError(`No run with id "${id}"`);
  return found;
}

/** What the page offers for a run. */
function abilities(f: RunFacts): { kill: boolean; rerun: boolean } {
  const local = f.execution.hostId === f.here;
  return {
    kill: local && f.execution.status === "running",
    rerun: local && f.execution.projectDir !== null,
  };
}

/** `GET /api/runs/:id`: the record (`stint history --json` fields) and its log facts. */
export async function runApi(r: UiRequest, id: string): Promise<Response> {
  const f = findRun(r.dbPath, id);
  if ("pending" in f) {
    return jsonResponse({
      pending: true,
      background: backgroundRunToJson(f.pending),
    });
  }
  const path = logFile(r.dbPath, f.execution.logId);
  let size: number | null = null;
  if (path) {
    try {
      size = (await Deno.stat(path)).size;
    } catch {
      size = null;
    }
  }
  return jsonResponse({
    ...executionToJson(f.execution),
    background: f.background ? backgroundRunToJson(f.background) : null,
    log_size: size,
    can_kill: abilities(f).kill,
    can_rerun: abilities(f).rerun,
  });
}

/** `GET /api/runs/:id/log`: the raw log (`?q=`: matching lines as JSON). */
export async function runLogApi(r: UiRequest, id: string): Promise<Response> {
  const f = findRun(r.dbPath, id);
  if ("pending" in f) throw new NotFoundError(`Run ${id} has not started yet`);
  const path = logFile(r.dbPath, f.execution.logId);
  if (path === null) throw new NotFoundError(`Run ${id} has no log`);
  const q = r.url.searchParams.get("q");
  if (q !== null) {
    if (q.trim() === "") throw new BadRequest("Search for what? q is empty");
    const found = await searchLog(path, q);
    if (found === null) {
      throw new NotFoundError(`The log of run ${id} is not on this machine`);
    }
    return jsonResponse({
      q,
      lines: found.lines,
      truncated: found.truncated,
      matches: found.matches.map((m) => ({ line: m.line, text: m.text })),
    });
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    throw new NotFoundError(`The log of run ${id} is not on this machine`);
  }
  return new Response(file.readable, {
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "content-disposition": `inline; filename="${f.execution.id}.log"`,
    },
  });
}

/** `GET /api/runs/:id/events`: live log (SSE) until the run ends. */
export function runEvents(r: UiRequest, id: string): Response {
  const f = findRun(r.dbPath, id);
  if ("pending" in f) throw new NotFoundError(`Run ${id} has not started yet`);
  return followRun(
    r.dbPath,
    f.execution,
    streamStart(r.req, r.url),
    r.signal,
  );
}

/** `GET /runs/:id`. */
export async function runPage(r: UiRequest, id: string): Promise<Response> {
  const f = findRun(r.dbPath, id);
  if ("pending" in f) {
    return htmlResponse(
      page(
        shellFor(r, "Starting", "runs"),
        html`
          <section>
            <h1>Starting background run <code>${f.pending.id}</code></h1>
            <p>${f.pending
              .ref}: the supervisor has not recorded the run yet. This page reloads until it has.</p>
            <div hidden data-reload-ms="400"></div>
          </section>
        `,
      ),
    );
  }
  const q = r.url.searchParams.get("q")?.trim() ?? "";
  const full = r.url.searchParams.get("full") === "1";
  const path = logFile(r.dbPath, f.execution.logId);
  const tail = path && !q
    ? await readLogTail(path, full ? 16 * 1024 * 1024 : DEFAULT_TAIL_BYTES)
    : null;
  const search = path && q ? await searchLog(path, q) : null;
  return htmlResponse(
    page(
      shellFor(r, runSummary(f.execution), "runs", f.here),
      renderRun(f, { tail, search, q, hasLog: path !== null, r }),
    ),
  );
}

function recordTable(f: RunFacts): Html {
  const e = f.execution;
  const rows: [string, Html | string | null][] = [
    ["id", html`<code>${e.id}</code>`],
    [
      "ref",
      html`<a class="mono" href="/tasks/${
        encodeURIComponent(e.ref)
      }">${e.ref}</a>`,
    ],
    ["command", html`<code class="cmd-full">${e.command}</code>`],
    [
      "arguments",
      e.args.length ? html`<code>${JSON.stringify(e.args)}</code>` : null,
    ],
    ["task", e.task],
    ["directory", e.projectDir ? html`<code>${e.projectDir}</code>` : null],
    ["status", badge(e.status, outcomeDetail(e))],
    ["exit code", e.exitCode === null ? null : String(e.exitCode)],
    ["signal", e.signal],
    ["error", e.error ? html`<span class="err">${e.error}</span>` : null],
    ["started", timeFull(e.startedAt)],
    ["completed", e.completedAt === null ? null : timeFull(e.completedAt)],
    [
      "duration",
      e.status === "running"
        ? duration(null, { runningSince: e.startedAt })
        : duration(e.durationMs),
    ],
    ["pid", e.pid === null ? null : String(e.pid)],
    [
      "host",
      html`<code>${e.hostId}</code>${
        e.hostId === f.here
          ? html`
            <span class="dim">(this host)</span>
          `
          : ""
      }`,
    ],
    [
      "background",
      f.background
        ? html`<a class="mono" href="/background#bg-${f.background.id}">${f.background.id}</a> ${
          badge(f.background.status)
        }`
        : null,
    ],
    [
      "parent run",
      e.parentId
        ? html`<a class="mono" href="/runs/${e.parentId}">${e.parentId}</a>`
        : null,
    ],
  ];
  return html`<table class="record" id="record">${
    rows.filter(([, v]) => v !== null && v !== "").map(([k, v]) =>
      html`
        <tr>
          <th>${k}</th>
          <td data-field="${k}">${v}</td>
        </tr>
      `
    )
  }</table>`;
}

function actionsBar(f: RunFacts, actionToken: string): Html {
  const can = abilities(f);
  const e = f.execution;
  const form = (action: string, label: string, cls: string, confirm: string) =>
    html`
      <form method="post" action="/api/runs/${e.id}/${action}" class="inline"
        data-confirm="${confirm}">
      <input type="hidden" name="action_token" value="${actionToken}">
      <button type="submit" class="${cls}" id="${action}-button">${label}</button></form>
    `;
  return html`<div class="actions">${
    can.kill
      ? form(
        "kill",
        "Kill",
        "danger",
        `Kill ${e.ref}? Its process group gets SIGTERM, then SIGKILL after 10 s.`,
      )
      : ""
  }${
    can.rerun
      ? form("rerun", "Rerun", "", `Run ${e.ref} again in the background?`)
      : ""
  }</div>`;
}

/** What the log part of a run page shows. */
interface LogShown {
  tail: LogTail | null;
  search: LogSearch | null;
  q: string;
  hasLog: boolean;
}

function logSection(f: RunFacts, o: LogShown): Html {
  const e = f.execution;
  const live = e.status === "running" && e.hostId === f.here;
  const toolbar = html`<form class="logbar" method="get" action="/runs/${e.id}">
<input type="search" name="q" id="log-search" value="${o.q}" placeholder="search the log" spellcheck="false" autocomplete="off">
<span class="dim" id="log-search-count"></span>
<button type="submit" title="Search the whole log on the server">whole log</button>
${o.q ? html`<a class="button quiet" href="/runs/${e.id}">clear</a>` : ""}
<a class="button quiet" href="/api/runs/${e.id}/log" target="_blank" rel="noopener">raw</a>
${live ? html`<span class="live" id="live-indicator">● live</span>` : ""}
</form>`;
  if (!o.hasLog) {
    return html`
      <h2>Log</h2>
      <p class="empty">This run has no log.</p>
    `;
  }
  if (o.search) {
    const s = o.search;
    return html`
      <h2>Log</h2>${toolbar}
      <p
        class="dim">${s.matches.length} matching line${s.matches.length === 1
          ? ""
          : "s"} of ${s.lines.toLocaleString("en")}${s.truncated
          ? " (stopped early: the first 1,000 matches or 5 s of searching)"
          : ""}</p>
      <pre class="log matches">${s.matches.map((m) =>
        html`<span class="ln">${m.line}</span>${raw(m.html)}\n`
      )}</pre>
    `;
  }
  const t = o.tail;
  if (t === null) {
    return html`
      <h2>Log</h2>
      <p class="empty">${e.hostId === f.here
        ? "The log file is gone (cleaned?)."
        : html`This run was recorded on host <code>${e.hostId}</code> and its log is not on this machine; <code>stint logs ${e.id}</code> fetches it from the bucket.`}</p>
    `;
  }
  const cut = t.from > 0
    ? html`
      <p
        class="dim">Showing the last ${formatBytes(
          t.size - t.from,
        )} of ${formatBytes(t.size)}. <a href="/runs/${e
          .id}?full=1">Show up to 16 MiB</a> or open the <a href="/api/runs/${e
          .id}/log">raw log</a>.</p>
    `
    : "";
  const stream = live
    ? `/api/runs/${e.id}/events?offset=${t.resume}&state=${
      encodeURIComponent(t.state)
    }`
    : "";
  return html`
    <h2>Log <span class="dim small">${formatBytes(
      t.size,
    )}</span></h2>${toolbar}${cut}
    <pre class="log" id="log"
      ${stream
        ? html`
          data-stream="${stream}"
        `
        : ""}>${raw(t.html)}<span id="log-partial">${raw(
          t.partial,
        )}</span></pre>${t.size === 0 && !live
        ? html`<p class="empty">The run printed nothing.</p>`
        : ""}
  `;
}

function renderRun(f: RunFacts, o: LogShown & { r: UiRequest }): Html {
  const e = f.execution;
  return html`<section class="run" data-run="${e.id}" data-status="${e.status}">
<h1><a class="mono" href="/tasks/${encodeURIComponent(e.ref)}">${e.ref}</a> ${
    badge(e.status, outcomeDetail(e))
  } <span class="dim mono small">${e.id}</span></h1>
${actionsBar(f, o.r.guard.actionToken)}
${recordTable(f)}
${logSection(f, o)}
</section>`;
}
