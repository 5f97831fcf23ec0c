/**
 * Background runs: the running ones (follow, kill) and the recent finished
 * ones, paged, with the fields of `stint bg list --json`.
 * @module
 */
import { formatDuration } from "../../cli/output.ts";
import {
  type BackgroundRun,
  backgroundRunToJson,
  listBackgroundRuns,
  reconcileBackgroundRuns,
} from "../../store/background.ts";
import { reconcileExecutions } from "../../store/executions.ts";
import {
  finishedBackgroundPage,
  type HistoryCursor,
} from "../../store/history_page.ts";
import { hostId } from "../../store/meta.ts";
import { type Html, html, queryString } from "../html.ts";
import { badge, empty, page, time } from "../layout.ts";
import {
  htmlResponse,
  jsonResponse,
  readUiStore,
  shellFor,
  type UiRequest,
} from "../request.ts";
import { decodeCursor, encodeCursor } from "./runs.ts";

interface BackgroundView {
  running: BackgroundRun[];
  recent: BackgroundRun[];
  older: HistoryCursor | null;
  paged: boolean;
  here: string | null;
}

function backgroundView(dbPath: string, url: URL): BackgroundView {
  const before = decodeCursor(url.searchParams.get("before"));
  return readUiStore<BackgroundView>(dbPath, (db) => {
    reconcileBackgroundRuns(db);
    reconcileExecutions(db);
    const recent = finishedBackgroundPage(db, { before, limit: 50 });
    return {
      running: listBackgroundRuns(db, { limit: 500 }),
      recent: recent.runs,
      older: recent.older,
      paged: before !== undefined,
      here: hostId(db),
    };
  }, () => ({
    running: [],
    recent: [],
    older: null,
    paged: false,
    here: null,
  }));
}

/** `GET /api/background`: running and recent runs (`stint bg list --json` fields). */
export function backgroundApi(r: UiRequest): Response {
  const v = backgroundView(r.dbPath, r.url);
  return jsonResponse({
    running: v.running.map(backgroundRunToJson),
    recent: v.recent.map(backgroundRunToJson),
    older: v.older ? encodeCursor(v.older) : null,
  });
}

/** `GET /background`. */
export function backgroundPage(r: UiRequest): Response {
  const v = backgroundView(r.dbPath, r.url);
  return htmlResponse(
    page(
      shellFor(r, "Background", "background", v.here),
      renderBackground(v, r.guard.actionToken),
    ),
  );
}

function table(
  runs: BackgroundRun[],
  options: { here: string | null; actionToken: string; id: string },
): Html {
  const now = Date.now();
  return html`
    <table class="runs" id="${options.id}">
      <thead>
        <tr>
          <th>id</th>
          <th>ref</th>
          <th>command</th>
          <th>status</th>
          <th class="num">pid</th>
          <th>started</th>
          <th class="num">duration</th>
          <th class="num">exit</th>
          <th></th>
        </tr>
      </thead>
      <tbody>${runs.map((b) => {
        const local = b.hostId === options.here;
        const follow = b.executionId
          ? html`<a class="button small" href="/runs/${b.executionId}">${
            b.status === "running" ? "follow" : "log"
          }</a>`
          : "";
        const kill = local && b.status === "running"
          ? html`
            <form method="post" action="/api/background/${b
              .id}/kill" class="inline"
              data-confirm="Kill background run ${b.id} (${b.ref})?">
            <input type="hidden" name="action_token" value="${options
              .actionToken}">
            <button type="submit" class="danger small" data-kill="${b
              .id}">kill</button></form>
          `
          : "";
        return html`
          <tr id="bg-${b.id}" class="row-${b.status}" data-status="${b.status}">
            <td class="mono">${b.id}</td>
            <td class="mono"><a href="/tasks/${encodeURIComponent(b.ref)}">${b
              .ref}</a></td>
            <td class="mono cmd" title="${b.command}">${b.command || "-"}</td>
            <td>${badge(b.status)}${local ? "" : html`
              <span class="dim small">on ${b.hostId}</span>
            `}</td>
            <td class="num mono">${b.pid ?? "-"}</td>
            <td class="when">${time(b.startedAt, now)}</td>
            <td class="num">${b.status === "running"
              ? html`<span class="dur" data-since="${b.startedAt}">${
                formatDuration(now - b.startedAt)
              }…</span>`
              : formatDuration((b.completedAt ?? now) - b.startedAt)}</td>
            <td class="num">${b.exitCode ?? "-"}</td>
            <td class="acts">${follow}${kill}</td>
          </tr>
        `;
      })}</tbody>
    </table>
  `;
}

function renderBackground(v: BackgroundView, actionToken: string): Html {
  const opts = { here: v.here, actionToken };
  return html`<section>
<h1>Background runs</h1>
<h2>Running <span class="dim small">${v.running.length}</span></h2>
${
    v.running.length ? table(v.running, { ...opts, id: "bg-running" }) : empty(
      html`Nothing is running in the background. Start a run with <code>stint run -b &lt;task&gt;</code>.`,
    )
  }
<h2>Recent</h2>
${
    v.recent.length ? table(v.recent, { ...opts, id: "bg-recent" }) : empty(
      v.paged ? "No older background runs." : "No finished background runs.",
    )
  }
<div class="pager">${
    v.paged ? html`<a class="button" href="/background">← newest</a>` : ""
  }${
    v.older
      ? html`<a class="button" href="/background${
        queryString({ before: encodeCursor(v.older) })
      }">older →</a>`
      : ""
  }</div>
${v.running.length ? html`<div hidden data-refresh-while-running></div>` : ""}
</section>`;
}
