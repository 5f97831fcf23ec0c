/**
 * The page shell and the small pieces every page uses: status badges, times
 * (relative, with the absolute time beside or on hover), durations.
 * @module
 */
import { formatDuration, relativeTime } from "../cli/output.ts";
import { type Html, html, type Part } from "./html.ts";

/** What the shell shows besides the page itself. */
export interface Shell {
  /** The page title (after "stint · "). */
  title: string;
  /** Which nav entry is current. */
  nav: "runs" | "tasks" | "background" | "hosts";
  /** The store file and this host, shown in the header. */
  dbPath: string;
  hostId: string | null;
  /** Extra stylesheets and scripts (from /assets) for this page. */
  head?: Part;
}

const NAV: [Shell["nav"], string, string][] = [
  ["runs", "/runs", "Runs"],
  ["tasks", "/tasks", "Tasks"],
  ["background", "/background", "Background"],
  ["hosts", "/hosts", "Hosts"],
];

/** A whole page. */
export function page(shell: Shell, body: Part): Html {
  return html`
    <!doctype html>
    <html lang="en">
      <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>stint · ${shell.title}</title>
    <link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
    <link rel="stylesheet" href="/assets/app.css">
    <script src="/assets/app.js" defer></script>
    ${shell.head}
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/runs">stint</a>
          <nav>${NAV.map(([key, href, label]) =>
            html`
              <a href="${href}" ${key === shell.nav
                ? html`
                  class="current" aria-current="page"
                `
                : ""}>${label}</a>
            `
          )}</nav>
          <span class="where"
            title="${shell.dbPath}">${shell.hostId
              ? html`
                host <code>${shell.hostId}</code> ·
              `
              : ""}<code>${shell.dbPath}</code></span>
        </header>
        <main>
    ${body}
        </main>
      </body>
    </html>
  `;
}

/** A status word as a coloured badge. */
export function badge(status: string, detail?: string | null): Html {
  return html`
    <span class="st st-${status}"
      data-status="${status}">${status}${detail
        ? html`<small>${detail}</small>`
        : ""}</span>
  `;
}

/**
 * A time: relative text ("5m ago") and, dimmer, the absolute time (the
 * page script keeps both current, in the browser's time zone).
 */
export function time(at: number | null, now: number = Date.now()): Html {
  if (at === null) return html`<span class="dim">-</span>`;
  const iso = new Date(at).toISOString();
  const abs = localTime(at);
  return html`
    <time datetime="${iso}" title="${abs}"
      data-rel>${relativeTime(
        at,
        now,
      )}</time> <time class="abs" datetime="${iso}"
      data-short>${abs.slice(5, 16)}</time>
  `;
}

/** A time as absolute text, the relative time beside it. */
export function timeFull(at: number | null, now: number = Date.now()): Html {
  if (at === null) return html`<span class="dim">-</span>`;
  const iso = new Date(at).toISOString();
  return html`
    <time datetime="${iso}" data-abs>${localTime(at)}</time> <span
      class="dim">(<time datetime="${iso}" data-rel>${relativeTime(
        at,
        now,
      )}</time>)</span>
  `;
}

/** `2026-11-23 15:28:31` in the server's time zone (the page script switches to the browser's). */
export function localTime(at: number): string {
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${
    p(d.getHours())
  }:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A duration; a running one ticks in the page (`data-since`). */
export function duration(
  ms: number | null,
  options: { runningSince?: number } = {},
): Html {
  if (options.runningSince !== undefined) {
    return html`<span class="dur" data-since="${options.runningSince}">${
      formatDuration(Date.now() - options.runningSince)
    }…</span>`;
  }
  return html`<span class="dur">${formatDuration(ms)}</span>`;
}

/** A success rate as a whole percentage rounded down ("100%" means no failure). */
export function rate(value: number | null): Html {
  if (value === null) return html`<span class="dim">-</span>`;
  const pct = Math.floor(value * 100 + 1e-9);
  const cls = pct === 100 ? "good" : pct >= 90 ? "warn" : "bad";
  return html`<span class="rate ${cls}">${pct}%</span>`;
}

/** An empty-state line. */
export function empty(text: Part): Html {
  return html`<p class="empty">${text}</p>`;
}
