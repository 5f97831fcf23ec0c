// stint ui: small progressive enhancements. Every page works without this
// script; with it, times stay current, running runs tick and follow live,
// the log can be searched in place, and actions ask before they act.
"use strict";

(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

  // --- times -------------------------------------------------------------
  function relative(at, now) {
    const d = now - at;
    if (d < 0) return new Date(at).toISOString().slice(0, 16).replace("T", " ");
    if (d < 10_000) return "just now";
    if (d < 60_000) return `${Math.floor(d / 1000)}s ago`;
    if (d < 3_600_000) return `${Math.floor(d / 60_000)}m ago`;
    if (d < 86_400_000) return `${Math.floor(d / 3_600_000)}h ago`;
    if (d < 30 * 86_400_000) return `${Math.floor(d / 86_400_000)}d ago`;
    return new Date(at).toISOString().slice(0, 10);
  }
  function local(at) {
    const d = new Date(at);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${
      p(d.getHours())
    }:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }
  function duration(ms) {
    if (ms < 1000) return `${Math.round(ms)}ms`;
    if (ms < 59_950) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
    const s = Math.round(ms / 1000);
    if (s < 3600) {
      return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
    }
    return `${Math.floor(s / 3600)}h${
      String(Math.floor((s % 3600) / 60)).padStart(2, "0")
    }m`;
  }
  function refreshTimes() {
    const now = Date.now();
    for (const t of $$("time[datetime]")) {
      const at = Date.parse(t.getAttribute("datetime"));
      if (Number.isNaN(at)) continue;
      if (t.hasAttribute("data-rel")) {
        t.textContent = relative(at, now);
        if (!t.closest("[data-abs-parent]")) t.title = local(at);
      } else if (t.hasAttribute("data-abs")) t.textContent = local(at);
      else if (t.hasAttribute("data-short")) {
        t.textContent = local(at).slice(5, 16);
      }
    }
    for (const d of $$("[data-since]")) {
      d.textContent = `${duration(now - Number(d.dataset.since))}…`;
    }
  }
  refreshTimes();
  setInterval(refreshTimes, 1000);

  // --- forms ---------------------------------------------------------------
  for (const sel of $$("select[data-autosubmit]")) {
    sel.addEventListener("change", () => sel.form.requestSubmit());
  }
  for (const form of $$("form[data-confirm]")) {
    form.addEventListener("submit", (ev) => {
      if (!confirm(form.dataset.confirm)) ev.preventDefault();
    });
  }

  // --- pages that change while runs run ------------------------------------
  const pending = $("[data-reload-ms]");
  if (pending) {
    setTimeout(() => location.reload(), Number(pending.dataset.reloadMs));
  }

  const watch = $("[data-refresh-while-running]");
  if (watch) {
    const signature = () =>
      $$("tr[data-status]").map((tr) =>
        `${tr.id || tr.dataset.id}:${tr.dataset.status}`
      ).join(",");
    const before = signature();
    const poll = async () => {
      try {
        const res = await fetch(location.href, {
          headers: { accept: "text/html" },
        });
        if (res.ok) {
          const doc = new DOMParser().parseFromString(
            await res.text(),
            "text/html",
          );
          const now = $$("tr[data-status]", doc).map((tr) =>
            `${tr.id || tr.dataset.id}:${tr.dataset.status}`
          ).join(",");
          if (now !== before) {
            location.reload();
            return;
          }
        }
      } catch {
        // the server went away; try again later
      }
      setTimeout(poll, 2000);
    };
    setTimeout(poll, 2000);
  }

  // --- the log: search in place ------------------------------------------------
  const log = $("#log");
  const search = $("#log-search");
  const count = $("#log-search-count");
  let marks = [];
  let current = -1;
  function clearMarks() {
    for (const m of $$("mark", log)) {
      m.replaceWith(document.createTextNode(m.textContent));
    }
    log.normalize();
    marks = [];
    current = -1;
  }
  function highlight() {
    if (!log || !search) return;
    clearMarks();
    const q = search.value.toLowerCase();
    if (q.length === 0) {
      count.textContent = "";
      return;
    }
    const walker = document.createTreeWalker(log, NodeFilter.SHOW_TEXT);
    const nodes = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n);
    for (const node of nodes) {
      const text = node.nodeValue;
      const lower = text.toLowerCase();
      let at = lower.indexOf(q);
      if (at === -1) continue;
      const frag = document.createDocumentFragment();
      let from = 0;
      while (at !== -1) {
        frag.append(text.slice(from, at));
        const m = document.createElement("mark");
        m.textContent = text.slice(at, at + q.length);
        frag.append(m);
        marks.push(m);
        from = at + q.length;
        at = lower.indexOf(q, from);
      }
      frag.append(text.slice(from));
      node.replaceWith(frag);
    }
    count.textContent = marks.length
      ? `${marks.length} found · Enter: next`
      : "not in the part shown";
    if (marks.length) step(0);
  }
  function step(delta) {
    if (!marks.length) return;
    if (current >= 0) marks[current].classList.remove("current");
    current = (current + delta + marks.length) % marks.length;
    const m = marks[current];
    m.classList.add("current");
    m.scrollIntoView({ block: "center" });
    count.textContent = `${current + 1} of ${marks.length} · Enter: next`;
  }
  if (log && search) {
    let timer;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(highlight, 120);
    });
    search.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter" || ev.altKey) return; // Alt+Enter: search the whole log
      ev.preventDefault();
      if (marks.length === 0) highlight();
      else step(ev.shiftKey ? -1 : 1);
    });
    if (search.value) highlight();
  }

  // --- the log: live --------------------------------------------------------
  function setStatus(run) {
    const detail = run.signal
      ? run.signal
      : run.exit_code !== null && run.status !== "succeeded"
      ? `exit ${run.exit_code}`
      : "";
    for (const b of $$('.run h1 .st, #record td[data-field="status"] .st')) {
      b.className = `st st-${run.status}`;
      b.dataset.status = run.status;
      b.textContent = run.status;
      if (detail) {
        const s = document.createElement("small");
        s.textContent = detail;
        b.append(s);
      }
    }
    const sec = $(".run");
    if (sec) sec.dataset.status = run.status;
    const dur = $('#record td[data-field="duration"] .dur');
    if (dur && run.duration_ms !== null) {
      dur.removeAttribute("data-since");
      dur.textContent = duration(run.duration_ms);
    }
    $("#kill-button")?.closest("form")?.remove();
    const live = $("#live-indicator");
    if (live) {
      live.textContent = `ended: ${run.status}`;
      live.classList.add("ended");
    }
  }
  if (log && log.dataset.stream) {
    const partial = $("#log-partial");
    const es = new EventSource(log.dataset.stream);
    let again;
    es.addEventListener("log", (ev) => {
      const d = JSON.parse(ev.data);
      const atBottom =
        log.scrollTop + log.clientHeight >= log.scrollHeight - 24;
      if (d.html) partial.insertAdjacentHTML("beforebegin", d.html);
      partial.innerHTML = d.partial;
      if (atBottom) log.scrollTop = log.scrollHeight;
      if (search?.value) {
        clearTimeout(again);
        again = setTimeout(highlight, 300);
      }
    });
    es.addEventListener("end", (ev) => {
      es.close();
      const run = JSON.parse(ev.data);
      if (run) setStatus(run);
    });
  }

  // --- hosts: the probes arrive after the page ------------------------------
  const probes = $("[data-probes]");
  if (probes) {
    fetch(probes.dataset.probes).then((r) => r.json()).then((report) => {
      const rows = report.probes.map((p) => {
        const tr = document.createElement("tr");
        const name = document.createElement("td");
        name.className = "mono";
        name.textContent = p.name;
        const res = document.createElement("td");
        const st = document.createElement("span");
        st.className = `st ${
          p.ok === true
            ? "st-succeeded"
            : p.ok === false
            ? "st-failed"
            : "st-skipped"
        }`;
        st.textContent = p.ok === true
          ? "ok"
          : p.ok === false
          ? "FAIL"
          : "skipped";
        res.append(st);
        const detail = document.createElement("td");
        detail.textContent = p.detail;
        tr.append(name, res, detail);
        if (p.name === "hosts" && Array.isArray(p.hosts)) {
          for (const h of p.hosts) {
            const cell = $(`[data-last-push="${CSS.escape(h.host_id)}"]`);
            if (cell && h.last_push) {
              cell.textContent = relative(Date.parse(h.last_push), Date.now());
              cell.title = local(Date.parse(h.last_push));
              cell.classList.remove("dim");
            }
          }
        }
        return tr;
      });
      $("tbody", probes).replaceChildren(...rows);
    }).catch((err) => {
      $("tbody", probes).textContent = `The probes failed: ${err}`;
    });
  }
})();
