/**
 * `stint vars` end to end: real stint processes on a real SQLite file. Run
 * scopes are made with the store API where a test needs a run that is not a
 * real `stint run` (the run-based tests are at the end of the file).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { withStore } from "../src/store/open.ts";
import { processStartTime } from "../src/store/process.ts";
import { startExecution } from "../src/store/executions.ts";
import { createScope, ROOT_SCOPE } from "../src/store/vars.ts";
import { uuidv7 } from "../src/store/ids.ts";
import { type CliResult, stint, tempState } from "./support/cli.ts";

function cleanup(dir: string): void {
  Deno.removeSync(dir, { recursive: true });
}

/** Assert a one-line error on stderr (no stack trace) with `code`. */
function assertFails(r: CliResult, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit ${r.code}, stderr: ${r.stderr}`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line expected: ${r.stderr}`);
  assert.match(lines[0], /^stint: (?:[A-Z"]|stint |--)/);
  assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/);
  assert.match(lines[0], pattern);
}

/**
 * A running execution owned by this test process (so it stays `running`)
 * with its own scope under `parent`; returns the scope id.
 */
function fakeRun(
  db: string,
  options: { ref: string; parent?: string; pid?: number },
): { runId: string; scope: string } {
  return withStore(db, (conn) => {
    const runId = uuidv7();
    const pid = options.pid ?? Deno.pid;
    startExecution(conn, {
      id: runId,
      ref: options.ref,
      command: "deno task x",
      pid,
      pidStart: processStartTime(pid),
    });
    const scope = createScope(conn, {
      parent: options.parent ?? ROOT_SCOPE,
      runId,
    });
    conn.prepare("UPDATE executions SET scope_id = ? WHERE id = ?").run(
      scope,
      runId,
    );
    return { runId, scope };
  });
}

function countRows(db: string, sql: string, ...params: string[]): number {
  return withStore(db, (c) => Number(c.prepare(sql).get(...params)?.n));
}

Deno.test("vars: set, get, list and unset in the root scope", async () => {
  const t = tempState();
  try {
    const env = t.env;
    assert.equal(
      (await stint(["vars", "set", "region", "eu"], { env })).code,
      0,
    );
    let r = await stint(["vars", "get", "region"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "eu\n");
    assert.equal(r.stderr, "");
    r = await stint(["vars", "get", "-n", "region"], { env });
    assert.equal(r.stdout, "eu");
    // Overwrite, and a value that looks like a flag goes after --.
    assert.equal(
      (await stint(["vars", "set", "region", "us east"], { env })).code,
      0,
    );
    assert.equal(
      (await stint(["vars", "set", "delta", "--", "-5"], { env })).code,
      0,
    );
    r = await stint(["vars", "list"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stdout.trimEnd().split("\n").map((l) => l.split(/\s{2,}/)),
      [["KEY", "VALUE", "FROM"], ["delta", "-5", "root"], [
        "region",
        "us east",
        "root",
      ]],
    );
    r = await stint(["vars", "list", "--json"], { env });
    const json = JSON.parse(r.stdout);
    assert.equal(json.length, 2);
    assert.deepEqual(
      { ...json[1], updated_at: undefined },
      {
        key: "region",
        value: "us east",
        scope: "root",
        scope_id: "root",
        run_id: null,
        ref: null,
        updated_at: undefined,
      },
    );
    assert.match(
      json[1].updated_at,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    );
    assert.equal((await stint(["vars", "unset", "delta"], { env })).code, 0);
    assertFails(
      await stint(["vars", "get", "delta"], { env }),
      1,
      /No var "delta" in the root scope/,
    );
    assertFails(
      await stint(["vars", "unset", "delta"], { env }),
      1,
      /No var "delta"/,
    );
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("vars: a missing key exits 1 and reading never creates the store", async () => {
  const t = tempState();
  try {
    assertFails(
      await stint(["vars", "get", "nope"], { env: t.env }),
      1,
      /^stint: No var "nope" in the root scope; set it with stint vars set$/,
    );
    const r = await stint(["vars", "list", "--json"], { env: t.env });
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), []);
    assert.equal(existsSync(t.db), false);
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("vars: lookups walk this run, the outer runs, then root", async () => {
  const t = tempState();
  try {
    const outer = fakeRun(t.db, { ref: "proj:outer" });
    const inner = fakeRun(t.db, { ref: "proj:inner", parent: outer.scope });
    const at = (scope: string) => ({ env: { ...t.env, STINT_SCOPE: scope } });
    for (
      const [scope, k, v] of [
        [undefined, "who", "root"],
        [undefined, "region", "eu"],
        [outer.scope, "who", "outer"],
        [outer.scope, "depth", "1"],
        [inner.scope, "depth", "2"],
        [inner.scope, "mine", "inner only"],
      ] as const
    ) {
      const r = await stint(
        ["vars", "set", k, v],
        scope ? at(scope) : { env: t.env },
      );
      assert.equal(r.code, 0, r.stderr);
    }
    const get = async (k: string, scope?: string) =>
      (await stint(["vars", "get", k], scope ? at(scope) : { env: t.env }))
        .stdout;
    assert.equal(await get("who", inner.scope), "outer\n");
    assert.equal(await get("depth", inner.scope), "2\n");
    assert.equal(await get("depth", outer.scope), "1\n");
    assert.equal(await get("region", inner.scope), "eu\n");
    assert.equal(await get("who"), "root\n");
    // Outer runs and root never see what a nested run set.
    assert.equal(
      (await stint(["vars", "get", "mine"], at(outer.scope))).code,
      1,
    );
    assert.equal(
      (await stint(["vars", "get", "mine"], { env: t.env })).code,
      1,
    );
    // --global reads root only.
    let r = await stint(["vars", "get", "--global", "who"], at(inner.scope));
    assert.equal(r.stdout, "root\n");

    r = await stint(["vars", "list", "--json"], at(inner.scope));
    assert.equal(r.code, 0, r.stderr);
    const byKey = Object.fromEntries(
      JSON.parse(r.stdout).map((
        v: { key: string },
      ) => [v.key, v]),
    );
    assert.deepEqual(Object.keys(byKey), ["depth", "mine", "region", "who"]);
    assert.equal(byKey.depth.scope, "this_run");
    assert.equal(byKey.depth.run_id, inner.runId);
    assert.equal(byKey.who.scope, "outer_run");
    assert.equal(byKey.who.value, "outer");
    assert.equal(byKey.who.ref, "proj:outer");
    assert.equal(byKey.who.run_id, outer.runId);
    assert.equal(byKey.region.scope, "root");
    r = await stint(["vars", "list"], at(inner.scope));
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[1], /^depth\s+2\s+this run$/);
    assert.match(lines[2], /^mine\s+inner only\s+this run$/);
    assert.match(
      lines[4],
      new RegExp(
        `^who\\s+outer\\s+the outer run proj:outer \\(${
          outer.runId.slice(0, 8)
        }\\)$`,
      ),
    );
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("vars: --global writes root from inside a run", async () => {
  const t = tempState();
  try {
    const run = fakeRun(t.db, { ref: "proj:t" });
    const env = { ...t.env, STINT_SCOPE: run.scope };
    assert.equal(
      (await stint(["vars", "set", "--global", "shared", "1"], { env })).code,
      0,
    );
    assert.equal((await stint(["vars", "set", "local", "2"], { env })).code, 0);
    assert.equal(
      (await stint(["vars", "get", "shared"], { env: t.env })).stdout,
      "1\n",
    );
    assert.equal(
      (await stint(["vars", "get", "local"], { env: t.env })).code,
      1,
    );
    assert.equal(
      countRows(
        t.db,
        "SELECT COUNT(*) AS n FROM vars WHERE scope_id = ? AND key = 'local'",
        run.scope,
      ),
      1,
    );
    assert.equal(
      (await stint(["vars", "unset", "--global", "shared"], { env })).code,
      0,
    );
    assert.equal((await stint(["vars", "get", "shared"], { env })).code, 1);
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("vars: unset of a key from an outer scope says where it lives", async () => {
  const t = tempState();
  try {
    const outer = fakeRun(t.db, { ref: "proj:outer" });
    const inner = fakeRun(t.db, { ref: "proj:inner", parent: outer.scope });
    const env = { ...t.env, STINT_SCOPE: inner.scope };
    await stint(["vars", "set", "r", "root"], { env: t.env });
    await stint(["vars", "set", "o", "outer"], {
      env: { ...t.env, STINT_SCOPE: outer.scope },
    });
    await stint(["vars", "set", "mine", "x"], { env });

    assertFails(
      await stint(["vars", "unset", "o"], { env }),
      1,
      new RegExp(
        `"o" is not set in this run; it comes from the outer run proj:outer \\(${
          outer.runId.slice(0, 8)
        }\\) and is removed when that run ends`,
      ),
    );
    assertFails(
      await stint(["vars", "unset", "r"], { env }),
      1,
      /"r" is not set in this run; it comes from the root scope, so use stint vars unset --global r/,
    );
    assertFails(
      await stint(["vars", "unset", "--global", "mine"], { env }),
      1,
      /No var "mine" in the root scope; it is set in this run, so drop --global/,
    );
    assertFails(
      await stint(["vars", "unset", "ghost"], { env }),
      1,
      /No var "ghost" in this run, the runs that started it or root/,
    );
    // Nothing was removed by the refused unsets.
    assert.equal(countRows(t.db, "SELECT COUNT(*) AS n FROM vars"), 3);
    // Unsetting this run's own value uncovers the outer one.
    await stint(["vars", "set", "o", "shadow"], { env });
    assert.equal(
      (await stint(["vars", "get", "o"], { env })).stdout,
      "shadow\n",
    );
    assert.equal((await stint(["vars", "unset", "o"], { env })).code, 0);
    assert.equal(
      (await stint(["vars", "get", "o"], { env })).stdout,
      "outer\n",
    );
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("vars: a scope whose run has ended refuses writes and reads fall back to root", async () => {
  const t = tempState();
  try {
    await stint(["vars", "set", "k", "root value"], { env: t.env });
    const env = { ...t.env, STINT_SCOPE: "0190aaaa-gone" };
    assertFails(
      await stint(["vars", "set", "k", "v"], { env }),
      1,
      /The scope of this run \(0190aaaa-gone\) no longer exists because its run has ended; use --global/,
    );
    assertFails(
      await stint(["vars", "unset", "k"], { env }),
      1,
      /no longer exists/,
    );
    let r = await stint(["vars", "get", "k"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "root value\n");
    r = await stint(["vars", "list", "--json"], { env });
    assert.equal(r.code, 0);
    assert.equal(JSON.parse(r.stdout)[0].scope, "root");
    assert.match(
      r.stderr,
      /warning: the scope of this run .* no longer exists/,
    );
    assert.equal(countRows(t.db, "SELECT COUNT(*) AS n FROM vars"), 1);
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("vars: values from stdin are kept exactly", async () => {
  const t = tempState();
  try {
    const text = "line one\nline two — ünïcödé ✓\n\n";
    let r = await stint(["vars", "set", "msg", "-"], {
      env: t.env,
      stdin: text,
    });
    assert.equal(r.code, 0, r.stderr);
    r = await stint(["vars", "get", "-n", "msg"], { env: t.env });
    assert.equal(r.stdout, text);
    r = await stint(["vars", "list"], { env: t.env });
    assert.match(
      r.stdout,
      /msg\s+line one\\nline two — ünïcödé ✓\\n\\n\s+root/,
    );
    // Empty stdin is an empty value, which is still a value.
    r = await stint(["vars", "set", "empty", "-"], { env: t.env, stdin: "" });
    assert.equal(r.code, 0);
    r = await stint(["vars", "get", "empty"], { env: t.env });
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "\n");
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("vars: every validation error exits 2 and writes nothing", async () => {
  const t = tempState();
  try {
    const env = t.env;
    const cases: [string[], RegExp, (string | Uint8Array)?][] = [
      [["vars", "set", "", "v"], /The key is empty/],
      [["vars", "set", "k".repeat(257), "v"], /longer than 256 bytes/],
      // 129 two-byte characters: 258 bytes although only 129 characters.
      [["vars", "set", "é".repeat(129), "v"], /longer than 256 bytes/],
      [["vars", "set", "a\x01b", "v"], /contains a control character/],
      [["vars", "set", "a\nb", "v"], /contains a control character/],
      [["vars", "set", "a\x7fb", "v"], /contains a control character/],
      [["vars", "set", "k", "-"], /NUL character/, "a\0b"],
      [
        ["vars", "set", "k", "-"],
        /over the limit of 1048576 bytes \(1 MiB\)/,
        "x".repeat(1024 * 1024 + 1),
      ],
      [
        ["vars", "set", "k", "-"],
        /not valid UTF-8/,
        new Uint8Array([0x61, 0xff, 0xfe, 0x62]),
      ],
      [["vars", "get", ""], /The key is empty/],
      [["vars", "unset", "a\tb"], /control character/],
      [["vars", "set", "k"], /needs <value>/],
      [["vars", "set", "k", "v", "extra"], /Unexpected argument "extra"/],
      [["vars", "get"], /needs <key>/],
      [["vars", "list", "--bogus"], /Unknown option --bogus/],
      [["vars"], /needs a subcommand/],
      [["vars", "frob"], /Unknown subcommand "vars frob"/],
    ];
    for (const [args, pattern, stdin] of cases) {
      assertFails(await stint(args, { env, stdin }), 2, pattern);
    }
    // Validation happens before the store is even opened.
    assert.equal(existsSync(t.db), false);
    // The limits themselves are allowed.
    let r = await stint(["vars", "set", "k".repeat(256), "-"], {
      env,
      stdin: "v".repeat(1024 * 1024),
    });
    assert.equal(r.code, 0, r.stderr);
    r = await stint(["vars", "get", "-n", "k".repeat(256)], { env });
    assert.equal(r.stdout.length, 1024 * 1024);
    assertFails(
      await stint(["vars", "set", "k".repeat(256), "-"], {
        env,
        stdin: "w".repeat(1024 * 1024 + 1),
      }),
      2,
      /over the limit/,
    );
    r = await stint(["vars", "get", "-n", "k".repeat(256)], { env });
    assert.equal(r.stdout, "v".repeat(1024 * 1024));
    assert.equal(countRows(t.db, "SELECT COUNT(*) AS n FROM vars"), 1);
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("vars: listing reclaims the scope of a run whose process is gone", async () => {
  const t = tempState();
  try {
    // A run recorded by a process that died without cleaning up (SIGKILL).
    const dead = new Deno.Command("true").spawn();
    await dead.status;
    const gone = fakeRun(t.db, { ref: "proj:killed", pid: dead.pid });
    const alive = fakeRun(t.db, { ref: "proj:alive" });
    await stint(["vars", "set", "a", "1"], {
      env: { ...t.env, STINT_SCOPE: gone.scope },
    });
    await stint(["vars", "set", "b", "2"], {
      env: { ...t.env, STINT_SCOPE: alive.scope },
    });
    const r = await stint(["vars", "list"], { env: t.env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      countRows(
        t.db,
        "SELECT COUNT(*) AS n FROM scopes WHERE id = ?",
        gone.scope,
      ),
      0,
    );
    assert.equal(
      countRows(
        t.db,
        "SELECT COUNT(*) AS n FROM vars WHERE scope_id = ?",
        gone.scope,
      ),
      0,
    );
    assert.equal(
      countRows(
        t.db,
        "SELECT COUNT(*) AS n FROM executions WHERE id = ? AND status = 'lost'",
        gone.runId,
      ),
      1,
    );
    // The live run keeps its scope and vars.
    assert.equal(
      countRows(
        t.db,
        "SELECT COUNT(*) AS n FROM vars WHERE scope_id = ?",
        alive.scope,
      ),
      1,
    );
  } finally {
    cleanup(t.dir);
  }
});
