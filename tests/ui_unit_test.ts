/**
 * The dashboard's pure parts: ANSI to HTML (escaping, SGR, 256 and 24-bit
 * colours, carriage returns, dropped escapes, resumable state), the log
 * chunker's byte offsets, the request checks (Host, token, cookie, actions)
 * and the rerun spec built from a recorded execution.
 * @module
 */
import assert from "node:assert/strict";
import { rerunSpec } from "../src/runner/rerun.ts";
import type { Execution } from "../src/store/executions.ts";
import {
  decodeState,
  encodeState,
  initialState,
  nearest256,
  renderAnsi,
  stripAnsi,
} from "../src/ui/ansi.ts";
import { html, jsonBlock, raw } from "../src/ui/html.ts";
import { LogChunker } from "../src/ui/log_view.ts";
import {
  checkAction,
  checkHost,
  checkToken,
  isLoopback,
  makeGuard,
  parseHostHeader,
  readCookie,
} from "../src/ui/security.ts";

Deno.test("ansi: text is escaped; SGR becomes classes; other escapes are dropped", () => {
  const r = (s: string) => renderAnsi(s).html;
  assert.equal(r("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
  assert.equal(
    r("\x1b[31mred\x1b[0m plain"),
    '<span class="f1">red</span> plain',
  );
  assert.equal(
    r("\x1b[1;4;92mx\x1b[22my"),
    '<span class="f10 b u">x</span><span class="f10 u">y</span>',
  );
  assert.equal(
    r("\x1b[38;5;208mo\x1b[48;5;17mb"),
    '<span class="f208">o</span><span class="f208 g17">b</span>',
  );
  assert.equal(r("\x1b[38;2;255;0;0mt"), '<span class="f196">t</span>');
  assert.equal(r("\x1b[7mi"), '<span class="fr gr">i</span>');
  assert.equal(
    r("\x1b[2K\x1b[1Gclear\x1b]0;title\x07\x1b]8;;http://x\x1b\\link\x1b(B\x07\b"),
    "clearlink",
  );
  assert.equal(r("10%\r50%\r100%\r\ndone"), "100%\ndone");
  assert.equal(
    r("\x1b[32m50%\r\x1b[0m100%"),
    "100%",
    "colours of overwritten parts still apply",
  );
  assert.equal(r("a\tb"), "a\tb");
  assert.equal(stripAnsi("\x1b[1;31merror\x1b[0m: x\x1b]0;t\x07"), "error: x");
});

Deno.test("ansi: the state carries across chunks and round-trips through a string", () => {
  const first = renderAnsi("\x1b[1;33mwarn");
  assert.deepEqual(first.state, { fg: 3, bg: null, flags: 1 });
  const code = encodeState(first.state);
  assert.equal(code, "3..1");
  assert.deepEqual(decodeState(code), first.state);
  assert.equal(
    renderAnsi("ing", decodeState(code)).html,
    '<span class="f3 b">ing</span>',
  );
  assert.deepEqual(decodeState("garbage"), initialState());
  assert.deepEqual(decodeState("999.1.7"), { fg: null, bg: 1, flags: 7 });
  assert.equal(nearest256(128, 128, 128), 244);
  assert.equal(nearest256(0, 0, 0), 16);
});

Deno.test("log chunker: complete lines, a partial line, and exact resume offsets across UTF-8", () => {
  const enc = new TextEncoder();
  const c = new LogChunker(100, initialState());
  const bytes = enc.encode("héllo\n\x1b[32mwor");
  // Split inside the two-byte "é".
  let out = c.push(bytes.subarray(0, 2));
  assert.deepEqual(out, { html: "", partial: "h\ufffd" });
  out = c.push(bytes.subarray(2));
  assert.equal(out.html, "héllo\n");
  assert.equal(out.partial, '<span class="f2">wor</span>');
  assert.equal(c.resume, 100 + enc.encode("héllo\n").length);
  assert.deepEqual(
    c.state,
    initialState(),
    "state at the start of the partial line",
  );
  out = c.push(enc.encode("ld\n"));
  assert.equal(out.html, '<span class="f2">world</span>\n');
  assert.equal(out.partial, "");
  assert.deepEqual(c.state.fg, 2);
  assert.equal(c.resume, 100 + bytes.length + 3);
});

Deno.test("html: values are escaped unless marked; JSON blocks cannot close their element", () => {
  const v = "<img src=x onerror=alert(1)>";
  assert.equal(
    html`<td title="${v}">${v}</td>`.value,
    `<td title="&lt;img src=x onerror=alert(1)&gt;">&lt;img src=x onerror=alert(1)&gt;</td>`,
  );
  assert.equal(
    html`${raw("<b>")}${[1, "&"]}${null}${false}`.value,
    "<b>1&amp;",
  );
  const block =
    jsonBlock("d", { s: "</script><script>alert(1)</script>" }).value;
  assert.ok(!block.slice(0, -"</script>".length).includes("</script>"));
  assert.deepEqual(
    JSON.parse(block.replace(/^<script[^>]*>|<\/script>$/g, "")),
    {
      s: "</script><script>alert(1)</script>",
    },
  );
});

Deno.test("security: Host, token, cookie and action checks", async () => {
  const g = await makeGuard("secret-token", {
    port: 8080,
    hosts: ["127.0.0.1", "localhost", "::1"],
  });
  assert.equal(checkHost(g, "127.0.0.1:8080"), null);
  assert.equal(checkHost(g, "LOCALHOST:8080"), null);
  assert.equal(checkHost(g, "[::1]:8080"), null);
  assert.equal(checkHost(g, "127.0.0.1:8081")?.status, 421);
  assert.equal(checkHost(g, "attacker.example:8080")?.status, 421);
  assert.equal(checkHost(g, "127.0.0.1")?.status, 421, "port 80 is not ours");
  assert.equal(checkHost(g, null)?.status, 400);
  assert.equal(checkHost(g, "a b")?.status, 400);
  assert.deepEqual(parseHostHeader("[::1]:80"), { name: "::1", port: 80 });
  assert.ok(
    isLoopback("127.3.4.5") && isLoopback("[::1]") && isLoopback("localhost"),
  );
  assert.ok(!isLoopback("0.0.0.0") && !isLoopback("192.168.1.2"));
  assert.equal(readCookie("a=1; stint_ui_8080=x; b=2", "stint_ui_8080"), "x");
  assert.equal(readCookie("stint_ui_80800=x", "stint_ui_8080"), null);

  const url = (q = "") => new URL(`http://127.0.0.1:8080/runs${q}`);
  const req = (headers: Record<string, string>) =>
    new Request(url(), { headers });
  assert.deepEqual(checkToken(g, req({}), url("?token=secret-token")), {
    source: "query",
  });
  assert.deepEqual(
    checkToken(g, req({ cookie: "stint_ui_8080=secret-token" }), url()),
    { source: "cookie" },
  );
  assert.deepEqual(
    checkToken(g, req({ authorization: "Bearer secret-token" }), url()),
    { source: "bearer" },
  );
  const none = checkToken(g, req({}), url());
  assert.ok("refusal" in none && none.refusal.status === 401);
  const wrong = checkToken(g, req({ cookie: "stint_ui_8080=nope" }), url());
  assert.ok("refusal" in wrong && wrong.refusal.status === 403);

  const post = (headers: Record<string, string>) =>
    new Request(url(), { method: "POST", headers });
  const act = (
    headers: Record<string, string>,
    source: "cookie" | "bearer",
    token: string | null,
  ) =>
    checkAction(g, post(headers), {
      source,
      host: "127.0.0.1:8080",
      actionToken: token,
    })?.status ?? 200;
  const own = {
    origin: "http://127.0.0.1:8080",
    "sec-fetch-site": "same-origin",
  };
  assert.equal(act(own, "cookie", g.actionToken), 200);
  assert.equal(
    act(
      { "sec-fetch-site": "same-origin", origin: "null" },
      "cookie",
      g.actionToken,
    ),
    200,
  );
  assert.equal(act({ origin: "null" }, "cookie", g.actionToken), 403);
  assert.equal(act(own, "cookie", null), 403);
  assert.equal(act(own, "cookie", "0".repeat(64)), 403);
  assert.equal(
    act({ ...own, "sec-fetch-site": "same-site" }, "cookie", g.actionToken),
    403,
  );
  assert.equal(
    act({ origin: "http://localhost:8080" }, "cookie", g.actionToken),
    403,
  );
  assert.equal(act({}, "cookie", g.actionToken), 403);
  assert.equal(act({}, "bearer", null), 200);
  assert.equal(act({ origin: "http://evil.example" }, "bearer", null), 403);
  assert.match(g.actionToken, /^[0-9a-f]{64}$/);
  assert.notEqual(g.actionToken, g.token);
});

function recorded(over: Partial<Execution>): Execution {
  return {
    id: "01a2094f-3c10-7000-8000-000000000001",
    ref: "r:x",
    projectDir: "/work/p",
    task: null,
    command: "",
    args: [],
    startedAt: 0,
    completedAt: 1,
    durationMs: 1,
    status: "succeeded",
    exitCode: 0,
    signal: null,
    error: null,
    pid: 1,
    pidStart: null,
    logId: null,
    hostId: "h",
    backgroundId: null,
    parentId: null,
    scopeId: null,
    rerunOf: null,
    matchedTasks: null,
    callerCwd: null,
    ...over,
  };
}

Deno.test("rerunSpec as the dashboard uses it: task runs, exec runs (quoted), shell runs", () => {
  const opts = { denoPath: "/usr/bin/deno", callerCwd: "/work/p", env: {} };
  const task = rerunSpec(
    recorded({
      task: "test",
      command: "deno task test --filter 'a b'",
      args: ["--filter", "a b"],
    }),
    opts,
  );
  assert.equal(task.program, "/usr/bin/deno");
  assert.deepEqual(task.programArgs, ["task", "test", "--filter", "a b"]);
  assert.equal(task.command, "deno task test --filter 'a b'");
  assert.equal(task.cwd, "/work/p");
  assert.equal(task.ref, "r:x");
  const exec = rerunSpec(
    recorded({ command: "'/opt/my tool' -v 'it'\\''s'", args: ["-v", "it's"] }),
    opts,
  );
  assert.equal(exec.program, "/opt/my tool");
  assert.deepEqual(exec.programArgs, ["-v", "it's"]);
  assert.equal(exec.task, null);
  const bare = rerunSpec(recorded({ command: "true", args: [] }), opts);
  assert.equal(bare.program, "true");
  const shell = rerunSpec(
    recorded({ command: "sh -c 'du -sh * | sort'", args: ["du -sh * | sort"] }),
    opts,
  );
  assert.equal(shell.program, "/bin/sh");
  assert.deepEqual(shell.programArgs, ["-c", "du -sh * | sort"]);
  // `stint exec -- sh -c x` (no --shell): argv kept as it was.
  const argv = rerunSpec(
    recorded({ command: "sh -c x", args: ["-c", "x"] }),
    opts,
  );
  assert.equal(argv.program, "sh");
  assert.deepEqual(argv.programArgs, ["-c", "x"]);
});
