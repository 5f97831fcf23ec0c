import assert from "node:assert/strict";
import { join } from "node:path";
import { withStore } from "../src/store/mod.ts";
import { MAIN, stint, tempState } from "./support/cli.ts";
import { holdWriteLock } from "./support/faults.ts";
import { lostWrites } from "./fixtures/heavy_writer.ts";

const WRITER = new URL("./fixtures/writer.ts", import.meta.url).pathname;

Deno.test("16 processes writing to one file: 0 errors, 0 lost rows, unique change numbers", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "stint-conc-" });
  const db = join(dir, "stint.db");
  const processes = 16;
  const writes = 60;
  const children = Array.from(
    { length: processes },
    (_, w) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", WRITER, db, String(w), String(writes)],
        stdout: "piped",
        stderr: "piped",
      }).output(),
  );
  const results = await Promise.all(children);
  let errors = 0;
  for (const r of results) {
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    errors += JSON.parse(new TextDecoder().decode(r.stdout)).errors;
  }
  assert.equal(errors, 0);
  withStore(db, (conn) => {
    const rows = Number(
      conn.prepare("SELECT COUNT(*) AS n FROM executions").get()?.n,
    );
    assert.equal(rows, processes * writes);
    for (let w = 0; w < processes; w++) {
      const n = conn.prepare(
        "SELECT COUNT(*) AS n FROM executions WHERE ref = ?",
      ).get(
        `w${w}:task`,
      )?.n;
      assert.equal(Number(n), writes, `writer ${w}`);
    }
    const dupes = conn.prepare(
      `SELECT COUNT(*) AS n FROM (SELECT seq FROM executions UNION ALL SELECT seq FROM vars)
       GROUP BY seq HAVING COUNT(*) > 1`,
    ).all();
    assert.equal(dupes.length, 0, "every write took its own change number");
    const vars = Number(
      conn.prepare("SELECT COUNT(*) AS n FROM vars").get()?.n,
    );
    assert.equal(vars, processes);
  });
});

Deno.test("pairs of runs on a store that does not exist yet all start and are recorded", async () => {
  // Each process that found the new, empty file switched it to WAL mode
  // itself; two doing that at once could hold each other off for the whole
  // busy timeout ("stayed locked for 5 s"), so a run was never recorded.
  const rounds = 20;
  const failures: string[] = [];
  for (let round = 0; round < rounds; round++) {
    const t = tempState();
    const results = await Promise.all(["a", "b"].map((v) =>
      stint([
        "exec",
        "--",
        Deno.execPath(),
        ...["run", "-A", "--quiet", MAIN, "vars", "set", "v", v],
      ], { env: t.env })
    ));
    for (const r of results) {
      if (r.code !== 0) failures.push(`round ${round}: ${r.stderr.trim()}`);
    }
    if (results.every((r) => r.code === 0)) {
      const runs = withStore(t.db, (conn) =>
        Number(
          conn.prepare(
            "SELECT COUNT(*) AS n FROM executions WHERE status = 'succeeded'",
          ).get()?.n,
        ));
      assert.equal(runs, 2, `round ${round}`);
      const leftovers = [...Deno.readDirSync(join(t.dir, "state"))]
        .filter((e) => e.name.includes(".new-"));
      assert.deepEqual(leftovers, [], "no temp files left behind");
      assert.equal(Deno.statSync(t.db).mode! & 0o777, 0o600);
    }
  }
  assert.deepEqual(failures, []);
});

const HEAVY = new URL("./fixtures/heavy_writer.ts", import.meta.url).pathname;

Deno.test("48 processes writing values up to 16 MiB to one file: 0 failures, 0 lost or partial writes", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "stint-heavy-" });
  const db = join(dir, "stint.db");
  const processes = 48;
  const ops = 6; // a 16 MiB and a 4 MiB cache value, two 1 MiB vars, two runs
  try {
    const results = await Promise.all(Array.from(
      { length: processes },
      (_, w) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", HEAVY, db, String(w), String(ops)],
          stdout: "piped",
          stderr: "piped",
        }).output(),
    ));
    const failures: string[] = [];
    for (const r of results) {
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      failures.push(...JSON.parse(new TextDecoder().decode(r.stdout)).messages);
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(lostWrites(db, processes, ops), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a write that cannot get the lock says the store is busy and writes nothing; a bad STINT_BUSY_TIMEOUT is one line", async () => {
  const t = tempState();
  assert.equal(
    (await stint(["vars", "set", "k", "old"], { env: t.env })).code,
    0,
  );
  const lock = await holdWriteLock(t.db, 3_000);
  const big = new Uint8Array(16 << 20).fill(1);
  const env = { ...t.env, STINT_BUSY_TIMEOUT: "500ms" };
  const [c, v] = await Promise.all([
    stint(["cache", "set", "big", "-"], { env, stdin: big }),
    stint(["vars", "set", "k", "new"], { env }),
  ]);
  await lock.released;
  for (const r of [c, v]) {
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^stint: The store .* is busy: .*nothing was written.*STINT_BUSY_TIMEOUT/,
    );
  }
  assert.equal((await stint(["cache", "get", "big"], { env: t.env })).code, 1);
  const got = await stint(["vars", "get", "k"], { env: t.env });
  assert.equal(got.stdout, "old\n");
  for (const bad of ["soon", "-1", "10h", "5 minutes"]) {
    const r = await stint(["vars", "set", "k", "x"], {
      env: { ...t.env, STINT_BUSY_TIMEOUT: bad },
    });
    assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
    assert.match(
      r.stderr,
      /^stint: STINT_BUSY_TIMEOUT must be a wait such as 30s/,
    );
    assert.equal(r.stderr.trim().split("\n").length, 1);
  }
  for (const good of ["45", "45s", "1500ms", "2m"]) {
    const r = await stint(["vars", "set", "k", good], {
      env: { ...t.env, STINT_BUSY_TIMEOUT: good },
    });
    assert.equal(r.code, 0, `${good}: ${r.stderr}`);
  }
});
