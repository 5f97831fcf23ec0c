/**
 * The typed API (mod.ts) against the CLI on one store: a value written by
 * one is read by the other, outside runs and inside real `stint run`s (scope
 * chain, root fallback), cache bytes / text / TTL, history filters, the same
 * typed errors with the same messages, and what importing mod.ts loads.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cache as processCache,
  createStint,
  NotFoundError,
  type Stint,
  type StintError,
  UsageError,
} from "../mod.ts";
import { startExecution } from "../src/store/executions.ts";
import { withStore } from "../src/store/open.ts";
import { processStartTime } from "../src/store/process.ts";
import { uuidv7 } from "../src/store/ids.ts";
import { createScope, deleteScope, ROOT_SCOPE } from "../src/store/vars.ts";
import {
  type CliResult,
  MAIN,
  makeProject,
  stint,
  type TempState,
  tempState,
} from "./support/cli.ts";
import { moduleGraph } from "./support/graph.ts";
import { seedRuns } from "./support/history_seed.ts";
import { startS3 } from "./support/s3.ts";
import { bucketAt, okStint, syncHost } from "./support/sync_host.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;
const ROOT = new URL("..", import.meta.url).pathname;
const S = `deno run -A --quiet '${MAIN}'`;

/** The API bound to `t`'s store, with `extra` as the rest of its environment. */
function api(t: TempState, extra: Record<string, string> = {}): Stint {
  const env: Record<string, string> = { ...t.env, ...extra };
  return createStint({ env: { get: (k) => env[k] } });
}

/** A running execution owned by this test process, with a scope under `parent`. */
function fakeRun(
  db: string,
  options: { ref: string; parent?: string },
): { runId: string; scope: string } {
  return withStore(db, (conn) => {
    const runId = uuidv7();
    startExecution(conn, {
      id: runId,
      ref: options.ref,
      command: "deno task x",
      pid: Deno.pid,
      pidStart: processStartTime(Deno.pid),
    });
    const scope = createScope(conn, {
      parent: options.parent ?? ROOT_SCOPE,
      runId,
    });
    return { runId, scope };
  });
}

function ok(r: CliResult): string {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** The error `fn` throws (it must throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected an error");
}

/** `fn` throws `cls` with exactly the message the CLI printed for `r`. */
function assertSameError(
  fn: () => unknown,
  cls: typeof StintError,
  r: CliResult,
): void {
  const err = thrown(fn);
  assert.ok(err instanceof cls, `${err.name}: ${err.message}`);
  assert.equal(r.stderr, `stint: ${err.message}\n`);
  assert.equal(r.code, (err as StintError).exitCode);
}

Deno.test("importing mod.ts loads the store only: no AWS SDK, table library, sync, CLI or runner", async () => {
  const { specifiers, local } = await moduleGraph("mod.ts");
  assert.ok(local.includes("src/store/vars.ts"), local.join(", "));
  for (const s of specifiers) {
    assert.doesNotMatch(s, /aws-sdk|cli-table3|^npm:|^jsr:|^https?:/, s);
  }
  for (const path of local) {
    assert.match(
      path,
      /^(mod\.ts|src\/errors\.ts|src\/store\/(replication\/)?[a-z_]+\.ts)$/,
    );
  }
  assert.deepEqual(
    specifiers.filter((s) => s.startsWith("node:")),
    ["node:sqlite"],
  );
  // The graph above is everything that runs: no module in it imports
  // anything at run time that `deno info` could not see.
  for (const path of local) {
    const source = Deno.readTextFileSync(join(ROOT, path));
    assert.doesNotMatch(source, /\bimport\s*\(/, `${path} imports lazily`);
  }
});

Deno.test("deno doc --lint mod.ts is clean (JSDoc on every export)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", "mod.ts"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(
    out.code,
    0,
    new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
  );
});

Deno.test("API and CLI outside a run: root vars written by one are read by the other", async () => {
  const t = tempState();
  try {
    const a = api(t);
    // Nothing there yet, and reading created nothing.
    assert.equal(a.vars.get("region"), undefined);
    assert.deepEqual(a.vars.list(), []);
    assert.throws(() => Deno.statSync(t.db), Deno.errors.NotFound);

    ok(await stint(["vars", "set", "region", "eu-west-1"], { env: t.env }));
    assert.equal(a.vars.get("region"), "eu-west-1");
    a.vars.set("build", "42 with spaces\nand a newline");
    assert.equal(
      ok(await stint(["vars", "get", "-n", "build"], { env: t.env })),
      "42 with spaces\nand a newline",
    );
    // Both list the same thing.
    const cli = JSON.parse(
      ok(await stint(["vars", "list", "--json"], { env: t.env })),
    );
    assert.deepEqual(
      a.vars.list().map((v) => ({
        key: v.key,
        value: v.value,
        scope: v.scope,
        scope_id: v.scopeId,
        run_id: v.runId,
        ref: v.ref,
        updated_at: v.updatedAt.toISOString(),
      })),
      cli,
    );
    // An unset by the API is seen by the CLI, and the other way round.
    a.vars.unset("build");
    assert.equal(
      (await stint(["vars", "get", "build"], { env: t.env })).code,
      1,
    );
    ok(await stint(["vars", "unset", "region"], { env: t.env }));
    assert.equal(a.vars.get("region"), undefined);
    // A missing key: the API's unset throws what the CLI prints.
    assertSameError(
      () => a.vars.unset("region"),
      NotFoundError,
      await stint(["vars", "unset", "region"], { env: t.env }),
    );
    // currentRun outside a run.
    assert.equal(a.currentRun(), undefined);
  } finally {
    Deno.removeSync(t.dir, { recursive: true });
  }
});

Deno.test("API and CLI in a run's scope: the chain, then root; global; an ended scope", async () => {
  const t = tempState();
  try {
    ok(await stint(["vars", "set", "g", "root-g"], { env: t.env }));
    ok(await stint(["vars", "set", "shadow", "root-shadow"], { env: t.env }));
    const outer = fakeRun(t.db, { ref: "p:outer" });
    const inner = fakeRun(t.db, { ref: "p:inner", parent: outer.scope });
    const outerEnv = { ...t.env, STINT_SCOPE: outer.scope };
    const innerEnv = { ...t.env, STINT_SCOPE: inner.scope };
    const aOuter = api(t, { STINT_SCOPE: outer.scope });
    const aInner = api(t, { STINT_SCOPE: inner.scope });

    // The CLI writes into the outer run's scope, the API reads from inside.
    ok(
      await stint(["vars", "set", "shadow", "outer-shadow"], { env: outerEnv }),
    );
    aOuter.vars.set("o", "outer-o");
    assert.equal(aInner.vars.get("shadow"), "outer-shadow");
    assert.equal(aInner.vars.get("g"), "root-g");
    assert.equal(
      ok(await stint(["vars", "get", "o"], { env: innerEnv })),
      "outer-o\n",
    );
    // global reads and writes root only.
    assert.equal(aInner.vars.get("shadow", { global: true }), "root-shadow");
    aInner.vars.set("from_api", "root-api", { global: true });
    assert.equal(
      ok(await stint(["vars", "get", "from_api"], { env: t.env })),
      "root-api\n",
    );
    // Where each visible var comes from, as the CLI says it.
    aInner.vars.set("mine", "inner");
    const listed = Object.fromEntries(
      aInner.vars.list().map((v) => [v.key, v]),
    );
    assert.equal(listed.mine.scope, "this_run");
    assert.equal(listed.mine.runId, inner.runId);
    assert.equal(listed.o.scope, "outer_run");
    assert.equal(listed.o.ref, "p:outer");
    assert.equal(listed.g.scope, "root");
    const cli = JSON.parse(
      ok(await stint(["vars", "list", "--json"], { env: innerEnv })),
    );
    assert.deepEqual(
      cli.map((v: { key: string; scope: string }) => [v.key, v.scope]),
      aInner.vars.list().map((v) => [v.key, v.scope]),
    );
    // unset only touches the run's own scope; both refuse the same way.
    for (const key of ["o", "g"]) {
      assertSameError(
        () => aInner.vars.unset(key),
        NotFoundError,
        await stint(["vars", "unset", key], { env: innerEnv }),
      );
    }
    assertSameError(
      () => aInner.vars.unset("mine", { global: true }),
      NotFoundError,
      await stint(["vars", "unset", "--global", "mine"], { env: innerEnv }),
    );
    aInner.vars.unset("mine");
    assert.equal(
      (await stint(["vars", "get", "mine"], { env: innerEnv })).code,
      1,
    );
    // The inner run ends: reads fall back to root, writes are refused.
    withStore(t.db, (conn) => deleteScope(conn, inner.scope));
    assert.equal(aInner.vars.get("o"), undefined);
    assert.equal(aInner.vars.get("g"), "root-g");
    assertSameError(
      () => aInner.vars.set("late", "x"),
      NotFoundError,
      await stint(["vars", "set", "late", "x"], { env: innerEnv }),
    );
  } finally {
    Deno.removeSync(t.dir, { recursive: true });
  }
});

Deno.test("API and CLI: bad keys and values are the same typed errors with the same messages", async () => {
  const t = tempState();
  try {
    const a = api(t);
    ok(await stint(["vars", "set", "seed", "x"], { env: t.env }));
    const badKeys = ["", "k".repeat(257), "tab\there", "é".repeat(129)];
    for (const key of badKeys) {
      assertSameError(
        () => a.vars.get(key),
        UsageError,
        await stint(["vars", "get", "--", key], { env: t.env }),
      );
      assertSameError(
        () => a.vars.set(key, "v"),
        UsageError,
        await stint(["vars", "set", "--", key, "v"], { env: t.env }),
      );
      assertSameError(
        () => a.cache.get(key),
        UsageError,
        await stint(["cache", "get", "--", key], { env: t.env }),
      );
      assertSameError(
        () => a.cache.set(key, "v"),
        UsageError,
        await stint(["cache", "set", "--", key, "v"], { env: t.env }),
      );
    }
    // A NUL in a var value (the CLI reads it from stdin).
    assertSameError(
      () => a.vars.set("k", "a\0b"),
      UsageError,
      await stint(["vars", "set", "k", "-"], { env: t.env, stdin: "a\0b" }),
    );
    // Bad cache expiries.
    for (const ttl of ["0s", "soon", "200000d"]) {
      assertSameError(
        () => a.cache.set("k", "v", { ttl }),
        UsageError,
        await stint(["cache", "set", "k", "v", "--ttl", ttl], { env: t.env }),
      );
    }
    // Bad history filters.
    assertSameError(
      () => a.history({ status: "bogus" }),
      UsageError,
      await stint(["history", "--status", "bogus"], { env: t.env }),
    );
    assertSameError(
      () => a.history({ since: "soon" }),
      UsageError,
      await stint(["history", "--since", "soon"], { env: t.env }),
    );
    assertSameError(
      () => a.history({ limit: 5, all: true }),
      UsageError,
      await stint(["history", "--limit", "5", "--all"], { env: t.env }),
    );
    assert.throws(() => a.history({ limit: 0 }), UsageError);
    // Nothing was written by any of it.
    assert.deepEqual(a.vars.list().map((v) => v.key), ["seed"]);
    assert.deepEqual(a.cache.list(), []);
  } finally {
    Deno.removeSync(t.dir, { recursive: true });
  }
});

Deno.test("API from JavaScript: a key or value of the wrong type is a UsageError and writes nothing", () => {
  const t = tempState();
  try {
    const a = api(t);
    a.vars.set("seed", "x");
    const wrong = [5, null, undefined, {}, ["k"], true] as unknown[];
    for (const w of wrong) {
      const v = w as string;
      const calls: [string, () => unknown][] = [
        ["vars.get key", () => a.vars.get(v)],
        ["vars.set key", () => a.vars.set(v, "v")],
        ["vars.set value", () => a.vars.set("k", v)],
        ["vars.unset key", () => a.vars.unset(v)],
        ["cache.get key", () => a.cache.get(v)],
        ["cache.set key", () => a.cache.set(v, "v")],
        ["cache.set value", () => a.cache.set("k", v)],
        ["cache.delete key", () => a.cache.delete(v)],
      ];
      for (const [what, call] of calls) {
        assert.throws(
          call,
          (e: unknown) =>
            e instanceof UsageError && / must be (a string|text or bytes)/.test(
              (e as Error).message,
            ),
          `${what} with ${JSON.stringify(w) ?? String(w)}`,
        );
      }
    }
    assert.deepEqual(a.vars.list().map((x) => x.key), ["seed"]);
    assert.deepEqual(a.cache.list(), []);
  } finally {
    Deno.removeSync(t.dir, { recursive: true });
  }
});

Deno.test("API and CLI: cache bytes and text round-trip both ways; TTL expiry", async () => {
  const t = tempState();
  try {
    const a = api(t);
    assert.equal(a.cache.get("none"), undefined);
    assert.equal(a.cache.delete("none"), false);
    const bytes = new Uint8Array(256).map((_, i) => i);
    ok(await stint(["cache", "set", "bin"], { env: t.env, stdin: bytes }));
    assert.deepEqual(a.cache.get("bin"), bytes);
    a.cache.set("bin2", bytes);
    assert.deepEqual(
      (await stint(["cache", "get", "bin2"], { env: t.env })).stdoutBytes,
      bytes,
    );
    a.cache.set("text", "héllo\n");
    assert.equal(
      ok(await stint(["cache", "get", "text"], { env: t.env })),
      "héllo\n",
    );
    ok(
      await stint(["cache", "set", "cli-text", "from the cli"], { env: t.env }),
    );
    assert.equal(a.cache.getText("cli-text"), "from the cli");
    // A TTL as a duration or in ms; the CLI sees the same expiry.
    const before = Date.now();
    a.cache.set("hour", "x", { ttl: "1h" });
    const listed = JSON.parse(
      ok(await stint(["cache", "list", "--json"], { env: t.env })),
    );
    const hour = listed.find((e: { key: string }) => e.key === "hour");
    const expires = Date.parse(hour.expires_at);
    assert.ok(
      expires >= before + 3_600_000 && expires <= Date.now() + 3_600_000,
    );
    assert.deepEqual(
      a.cache.list().map((e) => [e.key, e.size, e.expiresAt?.toISOString()]),
      listed.map((e: { key: string; size: number; expires_at: string }) => [
        e.key,
        e.size,
        e.expires_at ?? undefined,
      ]),
    );
    a.cache.set("brief", "x", { ttl: 300 });
    ok(
      await stint(["cache", "set", "brief-cli", "x", "--ttl", "300ms"], {
        env: t.env,
      }),
    );
    assert.equal(a.cache.getText("brief-cli"), "x");
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(a.cache.get("brief"), undefined);
    assert.equal(a.cache.get("brief-cli"), undefined);
    assert.equal(
      (await stint(["cache", "get", "brief"], { env: t.env })).code,
      1,
    );
    // delete and clear, seen by the other side.
    assert.equal(a.cache.delete("text"), true);
    assert.equal(
      (await stint(["cache", "get", "text"], { env: t.env })).code,
      1,
    );
    ok(await stint(["cache", "delete", "bin"], { env: t.env }));
    assert.equal(a.cache.get("bin"), undefined);
    assert.equal(a.cache.clear(), 3);
    assert.equal(
      ok(await stint(["cache", "list", "--json"], { env: t.env })).trim(),
      "[]",
    );
  } finally {
    Deno.removeSync(t.dir, { recursive: true });
  }
});

Deno.test("API history: the same filters and order as stint history --json", async () => {
  const t = tempState();
  try {
    const now = Date.now();
    const DAY = 86_400_000;
    seedRuns(t.db, [
      { ref: "app:test", startedAt: now - 10 * DAY, status: "failed" },
      { ref: "app:test", startedAt: now - 3 * DAY },
      { ref: "app:build", startedAt: now - 2 * DAY, status: "killed" },
      { ref: "app:test", startedAt: now - DAY, status: "failed" },
      { ref: "app:build", startedAt: now - 60_000 },
      ...Array.from({ length: 25 }, (_, i) => ({
        ref: "app:lint",
        startedAt: now - 5 * DAY + i * 1000,
      })),
    ]);
    const a = api(t);
    const cases: [Parameters<Stint["history"]>[0], string[]][] = [
      [{}, []],
      [{ ref: "app:test" }, ["app:test"]],
      [{ status: "failed" }, ["--status", "failed"]],
      [{ status: "FAILED", ref: "app:test" }, [
        "app:test",
        "--status",
        "FAILED",
      ]],
      [{ since: "4d" }, ["--since", "4d"]],
      [{ limit: 3 }, ["--limit", "3"]],
      [{ all: true }, ["--all"]],
      [{ host: "nobody" }, ["--host", "nobody"]],
    ];
    for (const [filters, args] of cases) {
      const cli = JSON.parse(
        ok(await stint(["history", "--json", ...args], { env: t.env })),
      );
      const got = a.history(filters);
      assert.deepEqual(
        got.map((r) => r.id),
        cli.map((r: { id: string }) => r.id),
        JSON.stringify(filters),
      );
      for (const [i, r] of got.entries()) {
        assert.equal(r.status, cli[i].status);
        assert.equal(r.startedAt.toISOString(), cli[i].started_at);
        assert.equal(r.durationMs, cli[i].duration_ms);
        assert.equal(r.exitCode, cli[i].exit_code);
      }
    }
    assert.equal(a.history().length, 20);
    assert.equal(a.history({ all: true }).length, 30);
    // since as a Date or ms.
    assert.equal(a.history({ since: new Date(now - 4 * DAY) }).length, 4);
    assert.equal(a.history({ since: now - 4 * DAY }).length, 4);
    const hostId = a.history({ limit: 1 })[0].hostId;
    assert.equal(a.history({ host: hostId, all: true }).length, 30);
    assert.deepEqual(
      a.refs().map((r) => [r.ref, r.runs]),
      [["app:build", 2], ["app:test", 3], ["app:lint", 25]],
    );
  } finally {
    Deno.removeSync(t.dir, { recursive: true });
  }
});

/** A TypeScript task step using the API the way a user's script would. */
const STEP = `
import { cache, currentRun, vars } from "${MOD}";
const [role] = Deno.args;
const run = currentRun();
const out = (line) => console.log(role + " " + line);
out("run " + (run ? run.ref + " " + run.status + " " + (run.id === Deno.env.get("STINT_RUN_ID")) : "none"));
if (role === "outer") {
  out("o=" + vars.get("o") + " g=" + vars.get("g"));
  vars.set("from_outer_api", "oa");
  cache.set("from-task", "cached in " + run.ref);
} else {
  out("o=" + vars.get("o") + " oa=" + vars.get("from_outer_api") + " g=" + vars.get("g"));
  out("where " + vars.list().map((v) => v.key + ":" + v.scope).join(","));
  vars.set("from_inner_api", "ia");
  vars.set("g_from_inner", "root via api", { global: true });
}
`;

Deno.test("API inside real stint runs: nested scopes, root fallback, current run, CLI steps around it", async () => {
  const t = tempState();
  try {
    ok(await stint(["vars", "set", "g", "root-g"], { env: t.env }));
    const dir = makeProject(t.dir, {
      outer:
        `${S} vars set o outer-o && deno run -A --quiet step.ts outer && echo "cli sees $(${S} vars get from_outer_api)" && ${S} run inner && (${S} vars get from_inner_api || echo inner-vars-gone)`,
      inner:
        `deno run -A --quiet step.ts inner && echo "inner cli sees $(${S} vars get from_inner_api)"`,
    }, { name: "apiproj" });
    Deno.writeTextFileSync(join(dir, "step.ts"), STEP);
    const r = await stint(["run", "outer"], { env: t.env, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split("\n"), [
      "outer run apiproj:outer running true",
      "outer o=outer-o g=root-g",
      "cli sees oa",
      "inner run apiproj:inner running true",
      "inner o=outer-o oa=oa g=root-g",
      "inner where from_outer_api:outer_run,g:root,o:outer_run",
      "inner cli sees ia",
      "inner-vars-gone",
    ]);
    // After the runs: their scopes are gone, root writes and the cache stay.
    const a = api(t);
    assert.deepEqual(
      a.vars.list().map((v) => [v.key, v.value]),
      [["g", "root-g"], ["g_from_inner", "root via api"]],
    );
    assert.equal(a.cache.getText("from-task"), "cached in apiproj:outer");
    const [inner, outer] = a.history({ ref: undefined, limit: 2 });
    assert.equal(inner.ref, "apiproj:inner");
    assert.equal(inner.parentId, outer.id);
    assert.equal(outer.status, "succeeded");
  } finally {
    Deno.removeSync(t.dir, { recursive: true });
  }
});

Deno.test({
  name:
    "API writes inside a run are pushed by the outer stint run; outside a run, by the next stint that syncs",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const s3 = await startS3();
    // For reading the bucket directly (the SDK's default chain).
    const saved = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].map((k) =>
      [k, Deno.env.get(k)] as const
    );
    Deno.env.set("AWS_ACCESS_KEY_ID", s3.accessKeyId);
    Deno.env.set("AWS_SECRET_ACCESS_KEY", s3.secretAccessKey);
    try {
      const bucket = await s3.newBucket();
      const a = syncHost(s3, bucket);
      const dir = makeProject(a.dir, {
        write: `deno run -A --quiet step.ts`,
      }, { name: "pushproj" });
      Deno.writeTextFileSync(
        join(dir, "step.ts"),
        `import { cache, vars } from "${MOD}";
vars.set("pushed", "from a task", { global: true });
cache.set("pushed", "cache from a task");`,
      );
      const r = await stint(["run", "write"], { env: a.env, cwd: dir });
      assert.equal(r.code, 0, r.stderr);
      // A second machine restores the bucket and sees both.
      const b = syncHost(s3, bucket);
      assert.equal(
        await okStint(b, ["vars", "get", "pushed"]),
        "from a task\n",
      );
      assert.equal(
        await okStint(b, ["cache", "get", "pushed"]),
        "cache from a task",
      );

      // Outside a run the API writes locally only (it never loads sync)...
      const seen = async () => {
        const keys: string[] = [];
        for await (const o of bucketAt(s3, bucket).list("")) keys.push(o.key);
        return keys.sort().join(",");
      };
      const objects = await seen();
      const envA = { ...a.env };
      createStint({ env: { get: (k) => envA[k] } }).vars.set("later", "1", {
        global: true,
      });
      assert.equal(await seen(), objects, "the API itself sent nothing");
      // ...and the next stint that syncs pushes it.
      await okStint(a, ["sync", "push"]);
      await okStint(b, ["sync", "pull"]);
      assert.equal(await okStint(b, ["vars", "get", "later"]), "1\n");
      Deno.removeSync(a.dir, { recursive: true });
      Deno.removeSync(b.dir, { recursive: true });
    } finally {
      for (const [k, v] of saved) {
        if (v === undefined) Deno.env.delete(k);
        else Deno.env.set(k, v);
      }
      await s3.stop();
    }
  },
});

Deno.test("the module-level API follows this process's environment at each call", () => {
  const t = tempState();
  const saved = Deno.env.get("STINT_DB");
  try {
    Deno.env.set("STINT_DB", t.db);
    processCache.set("k", "v");
    assert.equal(
      withStore(t.db, (c) =>
        new TextDecoder().decode(
          c.prepare("SELECT value FROM cache WHERE key = 'k'").get()!
            .value as Uint8Array,
        )),
      "v",
    );
  } finally {
    if (saved === undefined) Deno.env.delete("STINT_DB");
    else Deno.env.set("STINT_DB", saved);
    Deno.removeSync(t.dir, { recursive: true });
  }
});
