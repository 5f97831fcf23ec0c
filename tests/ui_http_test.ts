/**
 * `stint ui` over HTTP, the real CLI spawned on a temp store: every page and
 * endpoint answers 200 with the token, 401 without, 403 with a wrong one,
 * 421 for a foreign Host (DNS rebinding) and 400 without one; the first
 * visit turns the token into an HttpOnly SameSite=Strict cookie; actions
 * need POST, the same origin and the action token; logs are escaped;
 * browsing writes nothing; kill and rerun act on real processes; a live
 * log streams until the run ends.
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  type BackgroundRun,
  type Execution,
  getBackgroundRun,
  getExecution,
  listExecutions,
  withStore,
} from "../src/store/mod.ts";
import {
  spawnStint,
  stint,
  type TempState,
  tempState,
  waitFor,
} from "./support/cli.ts";
import { seedRuns } from "./support/history_seed.ts";
import { startS3 } from "./support/s3.ts";
import { okStint, syncHost } from "./support/sync_host.ts";
import {
  get,
  rawStatus,
  startBackgroundRun,
  startUi,
  type UiProcess,
} from "./support/ui.ts";

const T0 = Date.now() - 3_600_000;

function seed(s: TempState): Execution[] {
  return seedRuns(s.db, [
    { ref: "app:test", startedAt: T0, status: "succeeded", log: "ok\n" },
    {
      ref: "app:test",
      startedAt: T0 + 60_000,
      status: "failed",
      log:
        "\x1b[1;31merror:\x1b[0m <script>alert(1)</script> & \x1b]0;title\x07done\n",
    },
    {
      ref: "app:build",
      startedAt: T0 + 120_000,
      status: "succeeded",
      log: "built\n",
    },
  ]);
}

async function withUi(
  fn: (ui: UiProcess, s: TempState, runs: Execution[]) => Promise<void>,
): Promise<void> {
  const s = tempState("stint-ui-http-");
  const runs = seed(s);
  const ui = await startUi(s);
  try {
    await fn(ui, s, runs);
  } finally {
    await ui.stop();
    Deno.removeSync(s.dir, { recursive: true });
  }
}

function endpoints(runs: Execution[]): string[] {
  const failed = runs[1].id;
  return [
    "/runs",
    "/runs?status=failed",
    "/runs?q=build&since=7d",
    "/api/runs",
    "/api/runs?status=failed&ref=app:test",
    `/runs/${failed}`,
    `/runs/${failed}?q=error`,
    `/api/runs/${failed}`,
    `/api/runs/${failed}/log`,
    `/api/runs/${failed}/log?q=error`,
    `/api/runs/${failed}/events`,
    "/tasks",
    "/api/tasks",
    "/tasks/app%3Atest",
    "/api/tasks/app%3Atest",
    "/background",
    "/api/background",
    "/hosts",
    "/api/hosts",
    "/api/hosts/probes",
    "/assets/app.css",
    "/assets/app.js",
    "/assets/chart.js",
    "/assets/uplot.js",
    "/assets/uplot.css",
    "/assets/icon.svg",
  ];
}

Deno.test("stint ui: every page and endpoint needs the token and its own Host", async () => {
  await withUi(async (ui, _s, runs) => {
    for (const path of endpoints(runs)) {
      const ok = await get(ui, path);
      assert.equal(
        ok.status,
        200,
        `${path} with the token: ${ok.text.slice(0, 200)}`,
      );
      const none = await get(ui, path, { auth: false });
      assert.equal(none.status, 401, `${path} without a token`);
      const wrong = await get(ui, path, {
        auth: false,
        headers: { cookie: `stint_ui_${ui.port}=not-the-token` },
      });
      assert.equal(wrong.status, 403, `${path} with a wrong token`);
      const bearer = await get(ui, path, {
        auth: false,
        headers: { authorization: `Bearer ${ui.token}` },
      });
      assert.equal(bearer.status, 200, `${path} with a bearer token`);
      const rebinding = await rawStatus(
        ui.port,
        `GET ${path} HTTP/1.1\r\nHost: evil.example:${ui.port}\r\nCookie: ${ui.cookie}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(rebinding, 421, `${path} with a foreign Host`);
      const otherPort = await rawStatus(
        ui.port,
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${
          ui.port + 1
        }\r\nCookie: ${ui.cookie}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(otherPort, 421, `${path} with another port in Host`);
    }
    const noHost = await rawStatus(
      ui.port,
      `GET /runs HTTP/1.0\r\nCookie: ${ui.cookie}\r\n\r\n`,
    );
    assert.equal(noHost, 400);
    const localhost = await rawStatus(
      ui.port,
      `GET /runs HTTP/1.1\r\nHost: localhost:${ui.port}\r\nCookie: ${ui.cookie}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(localhost, 200);
  });
});

Deno.test("stint ui: a Host header that is no address at all is 400, not a 500", async () => {
  await withUi(async (ui) => {
    for (
      const host of [
        "a b",
        "127.0.0.1:99999",
        "127.0.0.1:abc",
        `127.0.0.1:${ui.port}.`,
      ]
    ) {
      const status = await rawStatus(
        ui.port,
        `GET /api/runs HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${ui.token}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(status, 400, `Host: ${host}`);
    }
  });
});

Deno.test("stint ui: an ambiguous id prefix is the client's mistake (400 naming the candidates), not a 500", async () => {
  await withUi(async (ui, _s, runs) => {
    let common = 0;
    while (runs[0].id[common] === runs[1].id[common]) common++;
    const prefix = runs[0].id.slice(0, common);
    assert.ok(prefix.length >= 4, prefix);
    for (const path of [`/api/runs/${prefix}`, `/runs/${prefix}`]) {
      const r = await get(ui, path);
      assert.equal(r.status, 400, `${path}: ${r.text.slice(0, 200)}`);
      assert.match(r.text, /is ambiguous/);
    }
  });
});

Deno.test("stint ui: everything it prints on stderr is its own (no Deno.serve warnings)", async () => {
  const s = tempState("stint-ui-quiet-");
  const runs = seed(s);
  const ui = await startUi(s);
  try {
    for (const path of endpoints(runs)) await get(ui, path);
  } finally {
    assert.equal(await ui.stop(), 0);
  }
  const lines = ui.stderr().trim().split("\n");
  for (const line of lines) {
    assert.match(line, /^stint( ui)?: /, `not stint's: ${ui.stderr()}`);
  }
  Deno.removeSync(s.dir, { recursive: true });
});

Deno.test("stint ui: a store stint refuses is refused at start, in one line (exit 1)", async () => {
  const s = tempState("stint-ui-foreign-");
  Deno.mkdirSync(s.dir + "/state");
  const app = new DatabaseSync(s.db);
  app.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)");
  app.close();
  const before = Deno.readFileSync(s.db);
  const child = spawnStint(["ui", "--port", "0", "--no-open"], {
    env: s.env,
  });
  child.stdin.close();
  // It must exit on its own; one that serves anyway is stopped and fails.
  const timer = setTimeout(() => child.kill("SIGTERM"), 15_000);
  const r = await child.output();
  clearTimeout(timer);
  const stdout = new TextDecoder().decode(r.stdout);
  const stderr = new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 1, stdout + stderr);
  assert.equal(stdout, "");
  const lines = stderr.trim().split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], /^stint: .*another program, not a stint store/);
  assert.deepEqual(Deno.readFileSync(s.db), before);
  Deno.removeSync(s.dir, { recursive: true });
});

Deno.test("stint ui: the first visit turns the token into an HttpOnly SameSite=Strict cookie", async () => {
  await withUi(async (ui) => {
    const first = await get(ui, `/runs?status=failed&token=${ui.token}`, {
      auth: false,
    });
    assert.equal(first.status, 303);
    assert.equal(first.headers.get("location"), "/runs?status=failed");
    const cookie = first.headers.get("set-cookie") ?? "";
    assert.match(cookie, new RegExp(`^stint_ui_${ui.port}=${ui.token};`));
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\//);
    const page = await get(ui, "/runs");
    assert.equal(page.status, 200);
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    assert.equal(page.headers.get("cache-control"), "no-store");
    assert.match(page.headers.get("server-timing") ?? "", /^app;dur=\d/);
    assert.equal((await get(ui, "/")).headers.get("location"), "/runs");
  });
});

Deno.test("stint ui: the runs page filters in the store; the JSON uses history --json's fields", async () => {
  await withUi(async (ui, s, runs) => {
    const cli = JSON.parse(
      (await stint(["history", "--json"], { env: s.env })).stdout,
    );
    const api = JSON.parse((await get(ui, "/api/runs")).text);
    assert.deepEqual(api.runs, cli);
    assert.equal(api.older, null);
    const failed = JSON.parse((await get(ui, "/api/runs?status=failed")).text);
    assert.deepEqual(failed.runs.map((r: { id: string }) => r.id), [
      runs[1].id,
    ]);
    const text = JSON.parse((await get(ui, "/api/runs?q=BUILD")).text);
    assert.deepEqual(text.runs.map((r: { id: string }) => r.id), [runs[2].id]);
    const until = JSON.parse(
      (await get(ui, `/api/runs?until=${new Date(T0 + 30_000).toISOString()}`))
        .text,
    );
    assert.deepEqual(until.runs.map((r: { id: string }) => r.id), [runs[0].id]);
    const paged = JSON.parse((await get(ui, "/api/runs?limit=2")).text);
    assert.equal(paged.runs.length, 2);
    assert.notEqual(paged.older, null);
    const rest = JSON.parse(
      (await get(ui, `/api/runs?limit=2&before=${paged.older}`)).text,
    );
    assert.deepEqual(rest.runs.map((r: { id: string }) => r.id), [runs[0].id]);
    const back = JSON.parse(
      (await get(ui, `/api/runs?limit=2&after=${rest.newer}`)).text,
    );
    assert.deepEqual(
      back.runs.map((r: { id: string }) => r.id),
      paged.runs.map((r: { id: string }) => r.id),
    );
    const page = await get(ui, "/runs?status=failed");
    assert.match(page.text, new RegExp(`href="/runs/${runs[1].id}"`));
    assert.doesNotMatch(page.text, new RegExp(`href="/runs/${runs[0].id}"`));
    assert.equal((await get(ui, "/api/runs?status=bogus")).status, 400);
    assert.equal((await get(ui, "/api/runs?since=yesterday-ish")).status, 400);
    assert.equal((await get(ui, "/api/runs?before=zzz")).status, 400);
    const bad = await get(ui, "/runs?status=bogus", {
      headers: { accept: "text/html" },
    });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /Status must be one of/);
    // The filters are history's: completed means succeeded, as for the CLI.
    const completed = JSON.parse(
      (await get(ui, "/api/runs?status=completed")).text,
    );
    const succeeded = JSON.parse(
      (await get(ui, "/api/runs?status=succeeded")).text,
    );
    assert.equal(succeeded.runs.length, 2);
    assert.deepEqual(completed.runs, succeeded.runs);
    const badSince = JSON.parse(
      (await get(ui, "/api/runs?since=yesterday-ish")).text,
    );
    assert.match(badSince.error, /^Since must be a duration/);
    const tasks = JSON.parse((await get(ui, "/api/tasks")).text);
    const stats = JSON.parse(
      (await stint(["stats", "--window", "200", "--json"], { env: s.env }))
        .stdout,
    );
    for (const ref of tasks.refs) {
      const cliRef = stats.find((x: { ref: string }) => x.ref === ref.ref);
      for (const [k, v] of Object.entries(cliRef)) {
        assert.deepEqual(ref[k], v, k);
      }
      assert.equal(typeof ref.flaky, "boolean");
    }
    const bg = JSON.parse((await get(ui, "/api/background")).text);
    assert.deepEqual(bg, { running: [], recent: [], older: null });
  });
});

Deno.test("stint ui: a run's log is escaped, its colours rendered, other escapes dropped", async () => {
  await withUi(async (ui, _s, runs) => {
    const page = await get(ui, `/runs/${runs[1].id}`);
    assert.equal(page.status, 200);
    assert.match(
      page.text,
      /<span class="f1 b">error:<\/span> &lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; done/,
    );
    assert.doesNotMatch(page.text, /<script>alert/);
    assert.ok(!page.text.includes("\x1b") && !page.text.includes("title\x07"));
    const search = await get(ui, `/runs/${runs[1].id}?q=ALERT`);
    assert.match(search.text, /1 matching line of 1/);
    const found = JSON.parse(
      (await get(ui, `/api/runs/${runs[1].id}/log?q=alert`)).text,
    );
    assert.deepEqual(found.matches.map((m: { line: number }) => m.line), [1]);
    const raw = await get(ui, `/api/runs/${runs[1].id}/log`);
    assert.equal(raw.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.ok(raw.text.startsWith("\x1b[1;31merror:"));
    const prefix = await get(ui, `/api/runs/${runs[1].id.slice(0, 13)}`);
    assert.equal(JSON.parse(prefix.text).id, runs[1].id);
    assert.equal((await get(ui, "/runs/0000dead")).status, 404);
    assert.equal((await get(ui, "/api/tasks/no%3Asuch")).status, 404);
    assert.equal((await get(ui, "/assets/nope.js")).status, 404);
    assert.equal((await get(ui, "/nowhere")).status, 404);
  });
});

Deno.test("stint ui: actions need POST, the same origin and the action token", async () => {
  await withUi(async (ui, _s, runs) => {
    const id = runs[1].id;
    const kill = `/api/runs/${id}/kill`;
    assert.equal((await get(ui, kill)).status, 405);
    assert.equal(
      (await get(ui, kill, { method: "POST", auth: false })).status,
      401,
    );
    // A cookie alone: no Origin, no Sec-Fetch-Site (not a page of ours).
    assert.equal((await get(ui, kill, { method: "POST" })).status, 403);
    const page = (await get(ui, `/runs/${id}`)).text;
    const action = page.match(/name="action_token" value="([0-9a-f]{64})"/)
      ?.[1];
    assert.ok(action, "the run page embeds the action token");
    const form = (token: string) =>
      new URLSearchParams({ action_token: token }).toString();
    const formHeaders = { "content-type": "application/x-www-form-urlencoded" };
    const cross = await get(ui, kill, {
      method: "POST",
      headers: {
        ...formHeaders,
        origin: "http://evil.example",
        "sec-fetch-site": "cross-site",
      },
      body: form(action),
    });
    assert.equal(cross.status, 403);
    const otherOrigin = await get(ui, kill, {
      method: "POST",
      headers: { ...formHeaders, origin: "http://evil.example" },
      body: form(action),
    });
    assert.equal(otherOrigin.status, 403);
    const noActionToken = await get(ui, kill, {
      method: "POST",
      headers: {
        ...formHeaders,
        origin: ui.origin,
        "sec-fetch-site": "same-origin",
      },
      body: form("0".repeat(64)),
    });
    assert.equal(noActionToken.status, 403);
    // Past the checks: the run already ended, so there is nothing to kill (409).
    const ended = await get(ui, kill, {
      method: "POST",
      headers: {
        ...formHeaders,
        origin: ui.origin,
        "sec-fetch-site": "same-origin",
      },
      body: form(action),
    });
    assert.equal(ended.status, 409, ended.text);
    assert.match(JSON.parse(ended.text).error, /already ended/);
    const script = await get(ui, kill, {
      method: "POST",
      auth: false,
      headers: { authorization: `Bearer ${ui.token}` },
    });
    assert.equal(script.status, 409);
    const scriptCrossSite = await get(ui, kill, {
      method: "POST",
      auth: false,
      headers: {
        authorization: `Bearer ${ui.token}`,
        origin: "http://evil.example",
      },
    });
    assert.equal(scriptCrossSite.status, 403);
  });
});

function fingerprint(s: TempState): string {
  return withStore(s.db, (db) =>
    JSON.stringify([
      db.prepare("SELECT * FROM executions ORDER BY id").all(),
      db.prepare("SELECT * FROM background_runs ORDER BY id").all(),
      db.prepare("SELECT * FROM meta ORDER BY key").all(),
      db.prepare("SELECT * FROM tombstones ORDER BY kind, key").all(),
    ]));
}

Deno.test("stint ui: browsing every page writes nothing to the store", async () => {
  await withUi(async (ui, s, runs) => {
    await get(ui, "/runs"); // the first open of a fresh store may migrate it
    const before = fingerprint(s);
    for (const path of endpoints(runs)) {
      assert.equal((await get(ui, path)).status, 200, path);
    }
    assert.equal(fingerprint(s), before);
  });
});

function bg(s: TempState, id: string): BackgroundRun {
  return withStore(s.db, (db) => getBackgroundRun(db, id));
}

Deno.test("stint ui: kill stops a background run; the live log streams until the end", async () => {
  await withUi(async (ui, s) => {
    const { execution: e } = await startBackgroundRun(
      s,
      "echo first; i=0; while [ ! -e gate ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; echo second; sleep 0.3; echo third",
      "ui:follow",
    );
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 30_000);
    try {
      const res = await fetch(`${ui.origin}/api/runs/${e.id}/events`, {
        headers: { cookie: ui.cookie },
        signal: ctl.signal,
      });
      assert.equal(
        res.headers.get("content-type"),
        "text/event-stream; charset=utf-8",
      );
      let text = "";
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      const until = async (pattern: RegExp) => {
        while (!pattern.test(text)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
          text += value;
        }
      };
      await until(/first/);
      Deno.writeTextFileSync(`${s.dir}/gate`, "");
      await until(/event: end/);
      await reader.cancel();
      assert.match(text, /second\\n/);
      assert.match(text, /third\\n/);
      assert.match(text, /id: \d+:\.\.0\n/);
      const end = JSON.parse(
        text.split("event: end\ndata: ")[1].split("\n")[0],
      );
      assert.equal(end.status, "succeeded");
    } finally {
      clearTimeout(timer);
    }

    const { bg: victim, execution: ve } = await startBackgroundRun(
      s,
      "echo waiting; sleep 60",
      "ui:victim",
    );
    const killed = await get(ui, `/api/background/${victim}/kill`, {
      method: "POST",
      auth: false,
      headers: { authorization: `Bearer ${ui.token}` },
    });
    assert.equal(killed.status, 200, killed.text);
    assert.equal(JSON.parse(killed.text).background_id, victim);
    const done = await waitFor(
      () => bg(s, victim).status !== "running" ? bg(s, victim) : null,
      {
        timeoutMs: 20_000,
        what: "the killed run to end",
      },
    );
    assert.equal(done!.status, "killed");
    const after = withStore(s.db, (db) => getExecution(db, ve.id));
    assert.equal(after.status, "killed");
    const again = await get(ui, `/api/background/${victim}/kill`, {
      method: "POST",
      auth: false,
      headers: { authorization: `Bearer ${ui.token}` },
    });
    assert.equal(again.status, 409);
  });
});

Deno.test("stint ui: rerun starts the same command and arguments as a new background run", async () => {
  await withUi(async (ui, s) => {
    const r = await stint(
      [
        "exec",
        "--name",
        "ui:again",
        "--",
        "sh",
        "-c",
        'echo "args: $0 $1"',
        "it's",
        "two words",
      ],
      { env: s.env, cwd: s.dir },
    );
    assert.equal(r.code, 0, r.stderr);
    const first = withStore(s.db, (db) =>
      listExecutions(db, { ref: "ui:again" }))[0];
    const res = await get(ui, `/api/runs/${first.id}/rerun`, {
      method: "POST",
      auth: false,
      headers: { authorization: `Bearer ${ui.token}` },
    });
    assert.equal(res.status, 200, res.text);
    const out = JSON.parse(res.text);
    assert.match(out.background_id, /^[0-9a-z]{8}$/);
    const second = await waitFor(() => {
      const runs = withStore(
        s.db,
        (db) => listExecutions(db, { ref: "ui:again" }),
      );
      return runs.length === 2 && runs[0].status !== "running" ? runs[0] : null;
    }, { timeoutMs: 20_000, what: "the rerun to finish" });
    assert.equal(second!.id, out.execution_id);
    assert.equal(second!.command, first.command);
    assert.deepEqual(second!.args, first.args);
    assert.equal(second!.projectDir, first.projectDir);
    assert.equal(second!.status, "succeeded");
    const log = await get(ui, `/api/runs/${second!.id}/log`);
    assert.equal(log.text, "args: it's two words\n");
  });
});

Deno.test("stint ui: bad usage, a busy port and a non-loopback address", async () => {
  const s = tempState("stint-ui-usage-");
  try {
    for (
      const args of [["ui", "--port", "70000"], ["ui", "extra"], [
        "ui",
        "--bogus",
      ], ["ui", "--host", "a b"]]
    ) {
      const r = await stint(args, { env: s.env });
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    const ui = await startUi(s);
    try {
      const busy = await stint(["ui", "--port", String(ui.port), "--no-open"], {
        env: s.env,
      });
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, /Port \d+ is in use/);
    } finally {
      assert.equal(await ui.stop(), 0);
    }
    // TEST-NET-1 is no address of this machine: warned about, then refused.
    const far = await stint(["ui", "--host", "192.0.2.1", "--no-open"], {
      env: s.env,
    });
    assert.equal(far.code, 1);
    assert.match(
      far.stderr,
      /warning: listening on 192\.0\.2\.1, not a loopback address/,
    );
    assert.match(far.stderr, /Cannot listen on 192\.0\.2\.1/);
    const help = await stint(["ui", "--help"], { env: s.env });
    assert.match(help.stdout, /Usage: stint ui/);
    // No store yet: the pages say so, and nothing is created.
    const fresh = tempState("stint-ui-empty-");
    const ui2 = await startUi(fresh);
    try {
      const page = await get(ui2, "/runs");
      assert.equal(page.status, 200);
      assert.match(page.text, /No runs recorded yet/);
      assert.equal((await get(ui2, "/hosts")).status, 200);
      assert.throws(() => Deno.statSync(fresh.db));
    } finally {
      await ui2.stop();
      Deno.removeSync(fresh.dir, { recursive: true });
    }
  } finally {
    Deno.removeSync(s.dir, { recursive: true });
  }
});

Deno.test("stint ui: the hosts page with sync: two hosts, last push, unpushed, probes", async () => {
  const s3 = await startS3();
  const a = syncHost(s3, s3.bucket);
  const b = syncHost(s3, s3.bucket);
  try {
    await okStint(b, ["exec", "--name", "remote:job", "--", "true"]);
    await okStint(a, ["exec", "--name", "local:job", "--", "true"]);
    await okStint(a, ["sync", "pull"]);
    // Recorded without a sync session: not pushed yet.
    seedRuns(a.db, [{ ref: "local:unpushed", startedAt: Date.now() }]);
    const ui = await startUi(a);
    try {
      const api = JSON.parse((await get(ui, "/api/hosts")).text);
      assert.equal(api.sync.configured, true);
      assert.equal(api.sync.bucket, s3.bucket);
      assert.notEqual(api.sync.last_push_at, null);
      assert.ok(api.sync.unpushed >= 1, "the run recorded after the push");
      assert.equal(api.hosts.length, 2);
      const self = api.hosts.find((h: { self: boolean }) => h.self);
      const other = api.hosts.find((h: { self: boolean }) => !h.self);
      assert.equal(self.runs, 2);
      assert.equal(other.runs, 1);
      assert.ok(other.applied_seq > 0);
      const sync = JSON.parse(
        (await stint(["sync", "status", "--json"], { env: a.env })).stdout,
      );
      for (
        const k of [
          "host_id",
          "last_push_at",
          "pushed_seq",
          "unpushed",
          "cursors",
        ]
      ) {
        assert.deepEqual(api.sync[k], sync[k], k);
      }
      const probes = JSON.parse((await get(ui, "/api/hosts/probes")).text);
      const status = JSON.parse(
        (await stint(["status", "--json"], { env: a.env })).stdout,
      );
      assert.deepEqual(
        probes.probes.map((p: { name: string; ok: boolean }) => [p.name, p.ok]),
        status.probes.map((p: { name: string; ok: boolean }) => [p.name, p.ok]),
      );
      const hosts = probes.probes.find((p: { name: string }) =>
        p.name === "hosts"
      );
      assert.equal(hosts.hosts.length, 2);
      const page = await get(ui, "/hosts");
      assert.doesNotMatch(page.text, /Sync is not configured/);
      assert.match(page.text, new RegExp(other.host_id));
      assert.match(page.text, /data-probes="\/api\/hosts\/probes"/);
      const inline = await get(ui, "/hosts?probes=1");
      assert.match(inline.text, /<td class="mono">bucket<\/td>/);
    } finally {
      await ui.stop();
    }
  } finally {
    await s3.stop();
    for (const st of [a, b]) Deno.removeSync(st.dir, { recursive: true });
  }
});

Deno.test("stint ui: kill ends a foreground run through its task's process group", async () => {
  await withUi(async (ui, s) => {
    const child = spawnStint(
      ["exec", "--name", "ui:fg", "--", "sh", "-c", "echo up; sleep 60 & wait"],
      { env: s.env, cwd: s.dir },
    );
    child.stdin.close();
    const out = child.output();
    try {
      const e = await waitFor(() => {
        const runs = withStore(
          s.db,
          (db) => listExecutions(db, { ref: "ui:fg" }),
        );
        const r = runs[0];
        return r && r.pid !== null && r.status === "running" &&
            r.pid !== child.pid
          ? r
          : null;
      }, { timeoutMs: 20_000, what: "the foreground run to start its task" });
      const res = await get(ui, `/api/runs/${e!.id}/kill`, {
        method: "POST",
        auth: false,
        headers: { authorization: `Bearer ${ui.token}` },
      });
      assert.equal(res.status, 200, res.text);
      const done = await out;
      assert.equal(done.code, 143, "stint exits 128+15 for its task's SIGTERM");
      const after = withStore(s.db, (db) => getExecution(db, e!.id));
      assert.equal(after.status, "killed");
      assert.equal(after.signal, "SIGTERM");
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await out;
    }
  });
});

Deno.test("stint ui: stopping it ends the live streams it serves", async () => {
  const s = tempState("stint-ui-stop-");
  const ui = await startUi(s);
  const { bg: id, execution } = await startBackgroundRun(
    s,
    "echo still going; sleep 60",
    "ui:long",
  );
  try {
    const res = await fetch(`${ui.origin}/api/runs/${execution.id}/events`, {
      headers: { cookie: ui.cookie },
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("still going")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    assert.match(text, /still going/);
    const t0 = Date.now();
    assert.equal(await ui.stop(), 0);
    assert.ok(Date.now() - t0 < 5_000, `stopped in ${Date.now() - t0} ms`);
    await reader.cancel().catch(() => {});
  } finally {
    await ui.stop();
    await stint(["bg", "kill", id, "--grace", "1s"], { env: s.env });
    Deno.removeSync(s.dir, { recursive: true });
  }
});
