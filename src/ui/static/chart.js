// A ref's durations over time (uPlot, served by stint ui itself): succeeded
// runs as a line with points, failed runs as red points, killed and lost
// runs as grey points. Click a point to open its run.
"use strict";

(() => {
  const el = document.getElementById("chart");
  if (!el || typeof uPlot === "undefined") return;
  const data = JSON.parse(
    document.getElementById(el.dataset.chart).textContent,
  );
  if (data.t.length === 0) {
    el.textContent = "No runs to draw.";
    return;
  }
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const pick = (want) =>
    data.ms.map((v, i) =>
      want.includes(data.status[i]) && v !== null ? v / 1000 : null
    );
  const fmt = (s) =>
    s === null || s === undefined
      ? "-"
      : s < 1
      ? `${Math.round(s * 1000)}ms`
      : s < 60
      ? `${s.toFixed(s < 10 ? 2 : 1)}s`
      : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  const dots = (fill, size) => ({ show: true, size, fill, stroke: fill });
  const opts = {
    width: Math.max(320, el.clientWidth - 12),
    height: 280,
    cursor: { points: { size: 8 } },
    scales: { x: { time: true } },
    axes: [
      {
        stroke: color("--muted"),
        grid: { stroke: color("--line") },
        ticks: { stroke: color("--line") },
      },
      {
        stroke: color("--muted"),
        grid: { stroke: color("--line") },
        ticks: { stroke: color("--line") },
        values: (_u, vals) => vals.map(fmt),
        size: 60,
      },
    ],
    series: [
      {},
      {
        label: "succeeded",
        stroke: color("--ok"),
        width: 1.5,
        spanGaps: true,
        points: dots(color("--ok"), 4),
        value: (_u, v) => fmt(v),
      },
      {
        label: "failed",
        stroke: color("--bad"),
        paths: () => null,
        points: dots(color("--bad"), 8),
        value: (_u, v) => fmt(v),
      },
      {
        label: "killed / lost",
        stroke: color("--muted"),
        paths: () => null,
        points: dots(color("--muted"), 6),
        value: (_u, v) => fmt(v),
      },
    ],
  };
  const plot = new uPlot(
    opts,
    [data.t, pick(["succeeded"]), pick(["failed"]), pick(["killed", "lost"])],
    el,
  );
  el.dataset.ready = "1";
  plot.over.addEventListener("click", () => {
    const i = plot.cursor.idx;
    if (i !== null && i !== undefined) location.href = `/runs/${data.id[i]}`;
  });
  addEventListener("resize", () => {
    plot.setSize({ width: Math.max(320, el.clientWidth - 12), height: 280 });
  });
})();
