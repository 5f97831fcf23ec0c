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
import { join } from "node:path";
import {
  assertFails,
  cleanup,
  MAIN,
  makeProject,
  spawnStint,
  stint,
  tempState,
  waitFor,
} from "./support/cli.ts";

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

// ---- With real `stint run`: scopes made by the runner, used by real tasks.

const RENDEZVOUS = new URL("./fixtures/rendezvous.ts", import.meta.url)
  .pathname;
/** How a task invokes stint (paths quoted for the task shell). */
const S = `deno run -A --quiet '${MAIN}'`;

function scopesLeft(db: string): string[] {
  return withStore(
    db,
    (c) =>
      c.prepare("SELECT id FROM scopes ORDER BY id").all().map((r) =>
        String(r.id)
      ),
  );
}

function scopedVarsLeft(db: string): number {
  return countRows(
    db,
    "SELECT COUNT(*) AS n FROM vars WHERE scope_id != 'root'",
  );
}

Deno.test("vars in runs: later steps see what earlier steps set; the scope goes with the run", async () => {
  const t = tempState();
  try {
    const dir = makeProject(t.dir, {
      steps:
        `${S} vars set greeting 'hello there' && ${S} vars set n 1 && ${S} vars set n 2 && ${S} vars get greeting && ${S} vars get n`,
      first: `${S} vars set from_first yes`,
      second: {
        command: `${S} vars get from_first`,
        dependencies: ["first"],
      },
      fails: `${S} vars set doomed 1 && exit 3`,
    });
    let r = await stint(["run", "steps"], { env: t.env, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "hello there\n2\n");
    // The run's vars went with its scope; root never saw them.
    assert.equal((await stint(["vars", "get", "n"], { env: t.env })).code, 1);
    assert.deepEqual(scopesLeft(t.db), ["root"]);
    assert.equal(scopedVarsLeft(t.db), 0);

    // A task and its dependency run in one run, so they share its scope.
    r = await stint(["run", "second"], { env: t.env, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^yes$/m);
    assert.deepEqual(scopesLeft(t.db), ["root"]);

    // A failing run is cleaned up too.
    r = await stint(["run", "fails"], { env: t.env, cwd: dir });
    assert.equal(r.code, 3);
    assert.deepEqual(scopesLeft(t.db), ["root"]);
    assert.equal(scopedVarsLeft(t.db), 0);
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("vars in runs: root fallback, --global, and nested runs see their caller's vars", async () => {
  const t = tempState();
  try {
    await stint(["vars", "set", "region", "eu"], { env: t.env });
    const dir = makeProject(t.dir, {
      outer:
        `${S} vars set who outer && ${S} vars set --global last outer && ${S} run inner && ${S} vars get mine || echo inner-var-gone`,
      inner:
        `${S} vars get who && ${S} vars get region && ${S} vars set mine x && ${S} vars list --json`,
    }, { name: "nest" });
    const r = await stint(["run", "outer"], { env: t.env, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const [who, region, ...rest] = r.stdout.split("\n");
    assert.equal(who, "outer");
    assert.equal(region, "eu");
    const text = rest.join("\n");
    const json = JSON.parse(text.slice(0, text.lastIndexOf("]") + 1));
    const byKey = Object.fromEntries(
      json.map((v: { key: string }) => [v.key, v]),
    );
    assert.equal(byKey.who.scope, "outer_run");
    assert.equal(byKey.who.ref, "nest:outer");
    assert.equal(byKey.mine.scope, "this_run");
    assert.equal(byKey.mine.ref, "nest:inner");
    assert.equal(byKey.region.scope, "root");
    // Once the nested run ended its var was gone for the caller.
    assert.match(r.stdout, /inner-var-gone\n$/);
    // --global wrote through to root and outlives the runs.
    assert.equal(
      (await stint(["vars", "get", "last"], { env: t.env })).stdout,
      "outer\n",
    );
    assert.deepEqual(scopesLeft(t.db), ["root"]);
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("vars in runs: two concurrent runs of one task never see each other's values", async () => {
  const t = tempState();
  try {
    const meet = join(t.dir, "meet");
    Deno.mkdirSync(meet);
    const dir = makeProject(t.dir, {
      // Both runs set v, then wait for each other, then read v back.
      race:
        `${S} vars set v $VAL && deno run -A --quiet '${RENDEZVOUS}' '${meet}' $VAL a b && ${S} vars get v && ${S} vars list --json`,
    });
    const [a, b] = await Promise.all(
      ["a", "b"].map((val) =>
        stint(["run", "race"], { env: { ...t.env, VAL: val }, cwd: dir })
      ),
    );
    for (const [r, val] of [[a, "a"], [b, "b"]] as const) {
      assert.equal(r.code, 0, r.stderr);
      const [got, ...rest] = r.stdout.split("\n");
      assert.equal(got, val);
      const listed = JSON.parse(rest.join("\n"));
      assert.deepEqual(
        listed.map((v: { key: string; value: string; scope: string }) => [
          v.key,
          v.value,
          v.scope,
        ]),
        [["v", val, "this_run"]],
      );
    }
    assert.deepEqual(scopesLeft(t.db), ["root"]);
  } finally {
    cleanup(t.dir);
  }
});

/** Start `stint run hold` (sets a var, then sleeps) and wait until the var is there. */
async function startHolding(
  t: { dir: string; db: string; env: Record<string, string> },
): Promise<{ child: Deno.ChildProcess; runId: string; scope: string }> {
  const dir = makeProject(t.dir, {
    hold: `${S} vars set held yes && sleep 60`,
  });
  const child = spawnStint(["run", "hold"], { env: t.env, cwd: dir });
  child.stdin.close();
  const row = await waitFor(
    () => {
      if (!existsSync(t.db)) return undefined;
      return withStore(t.db, (c) =>
        c.prepare(
          `SELECT e.id, e.scope_id, e.pid FROM executions e JOIN vars v ON v.scope_id = e.scope_id
           WHERE v.key = 'held' AND e.status = 'running'`,
        ).get());
    },
    { timeoutMs: 20_000, what: "the run to set its var" },
  );
  return { child, runId: String(row!.id), scope: String(row!.scope_id) };
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`vars in runs: ${signal} to stint removes the run's scope`, async () => {
    const t = tempState();
    try {
      const { child, runId, scope } = await startHolding(t);
      assert.notEqual(scope, ROOT_SCOPE);
      child.kill(signal);
      const out = await child.output();
      assert.notEqual(out.code, 0);
      assert.deepEqual(scopesLeft(t.db), ["root"]);
      assert.equal(scopedVarsLeft(t.db), 0);
      assert.equal(
        countRows(
          t.db,
          "SELECT COUNT(*) AS n FROM executions WHERE id = ? AND status = 'killed'",
          runId,
        ),
        1,
      );
    } finally {
      cleanup(t.dir);
    }
  });
}

Deno.test("vars in runs: a SIGKILLed run's scope is reclaimed once it is seen lost", async () => {
  const t = tempState();
  try {
    const { child, runId, scope } = await startHolding(t);
    // The record carries the task's pid (its process group) once it started.
    const pid = await waitFor(() => {
      const p = withStore(t.db, (c) =>
        Number(
          c.prepare("SELECT pid FROM executions WHERE id = ?").get(runId)?.pid,
        ));
      return p && p !== child.pid ? p : 0;
    }, { timeoutMs: 20_000, what: "the task's pid to be recorded" });
    child.kill("SIGKILL");
    await child.status;
    // Nothing cleaned up: stint had no chance. The task lives on until we
    // end it, as it would after `kill -9 stint`.
    assert.deepEqual(scopesLeft(t.db).includes(scope), true);
    try {
      Deno.kill(-pid, "SIGKILL");
    } catch {
      Deno.kill(pid, "SIGKILL");
    }
    await waitFor(() => !existsSync(`/proc/${pid}`), {
      timeoutMs: 20_000,
      what: "the task to die",
    });
    await child.output().catch(() => undefined);
    assert.equal(scopedVarsLeft(t.db), 1);
    // The next listing notices the run is gone, marks it lost and reclaims.
    const r = await stint(["vars", "list", "--json"], { env: t.env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
    assert.deepEqual(scopesLeft(t.db), ["root"]);
    assert.equal(scopedVarsLeft(t.db), 0);
    assert.equal(
      countRows(
        t.db,
        "SELECT COUNT(*) AS n FROM executions WHERE id = ? AND status = 'lost'",
        runId,
      ),
      1,
    );
  } finally {
    cleanup(t.dir);
  }
});
