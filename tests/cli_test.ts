// The CLI skeleton through real processes: help, version, usage errors,
// global flags, the store commands, and bad store files.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SCHEMA_VERSION } from "../src/store/schema.ts";
import { holdWriteLock, rawQuery } from "./support/faults.ts";
import { seedRuns } from "./support/history_seed.ts";
import { HAS_SCRIPT, stintOnPty } from "./support/pty.ts";
import { makeReadOnly } from "./support/readonly.ts";
import { assertOneLine, makeProject, stint, tempState } from "./support/cli.ts";

/** Run one statement on the store with node:sqlite, outside stint. */
function rawExec(db: string, sql: string): void {
  const c = new DatabaseSync(db, { timeout: 10_000 });
  try {
    c.exec(sql);
  } finally {
    c.close();
  }
}

const COMMANDS = [
  "run",
  "exec",
  "rerun",
  "tasks",
  "history",
  "logs",
  "stats",
  "bg",
  "vars",
  "cache",
  "sync",
  "status",
  "store",
  "completions",
];

Deno.test("stint --help lists every command and exits 0", async () => {
  const { env } = tempState();
  const r = await stint(["--help"], { env });
  assert.equal(r.code, 0);
  for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c} `, "m"));
});

Deno.test("every command has --help", async () => {
  const { env } = tempState();
  for (const c of COMMANDS) {
    const r = await stint([c, "--help"], { env });
    assert.equal(r.code, 0, `${c} --help: ${r.stderr}`);
    assert.match(r.stdout, /Usage: stint/, `${c} --help`);
  }
});

Deno.test("--version prints the version; no command prints help and exits 2", async () => {
  const { env } = tempState();
  const v = await stint(["--version"], { env });
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^stint \d+\.\d+\.\d+\n$/);
  const none = await stint([], { env });
  assert.equal(none.code, 2);
  assert.match(none.stdout, /Commands:/);
});

Deno.test("an unknown command exits 2 with one line and a suggestion", async () => {
  const { env } = tempState();
  const r = await stint(["histroy"], { env });
  assert.equal(r.code, 2);
  assertOneLine(r.stderr);
  assert.match(r.stderr, /Unknown command "histroy"; did you mean history/);
});

Deno.test("bad flags exit 2 with one line naming the flag", async () => {
  const { env } = tempState();
  const unknown = await stint(["store", "path", "--bogus"], { env });
  assert.equal(unknown.code, 2);
  assertOneLine(unknown.stderr);
  assert.match(unknown.stderr, /Unknown option --bogus/);
  const missing = await stint(["--db"], { env });
  assert.equal(missing.code, 2);
  assertOneLine(missing.stderr);
  assert.match(missing.stderr, /--db needs a file path/);
  const extra = await stint(["store", "path", "extra"], { env });
  assert.equal(extra.code, 2);
  assertOneLine(extra.stderr);
  const sub = await stint(["store", "nope"], { env });
  assert.equal(sub.code, 2);
  assertOneLine(sub.stderr);
});

Deno.test("--db wins over STINT_DB, which wins over XDG_STATE_HOME", async () => {
  const t = tempState();
  const fromEnv = await stint(["store", "path"], { env: t.env });
  assert.equal(fromEnv.stdout.trim(), t.db);
  const other = join(t.dir, "other.db");
  const fromFlag = await stint(["--db", other, "store", "path"], {
    env: t.env,
  });
  assert.equal(fromFlag.stdout.trim(), other);
  const xdg = await stint(["store", "path", "--json"], {
    env: { ...t.env, STINT_DB: "" },
  });
  assert.deepEqual(JSON.parse(xdg.stdout), {
    path: join(t.env.XDG_STATE_HOME, "stint", "stint.db"),
  });
});

Deno.test("a store is private; migrate reports it current; backup copies it 0600", async () => {
  const t = tempState();
  const made = await stint(["vars", "set", "--global", "k", "v"], {
    env: t.env,
  });
  assert.equal(made.code, 0, made.stderr);
  assert.equal(Deno.statSync(t.db).mode! & 0o777, 0o600);
  assert.equal(Deno.statSync(join(t.dir, "state")).mode! & 0o777, 0o700);
  const m = await stint(["store", "migrate", "--json"], { env: t.env });
  assert.equal(m.code, 0, m.stderr);
  const out = JSON.parse(m.stdout);
  assert.equal(out.to, SCHEMA_VERSION);
  assert.equal(out.from, SCHEMA_VERSION);
  const again = await stint(["store", "migrate"], { env: t.env });
  assert.match(again.stdout, /nothing to do/);

  const target = join(t.dir, "copy.db");
  const b = await stint(["store", "backup", target], { env: t.env });
  assert.equal(b.code, 0, b.stderr);
  assert.equal(Deno.statSync(target).mode! & 0o777, 0o600);
  const head = Deno.readFileSync(target).subarray(0, 15);
  assert.equal(new TextDecoder().decode(head), "SQLite format 3");
  const twice = await stint(["store", "backup", target], { env: t.env });
  assert.equal(twice.code, 1);
  assertOneLine(twice.stderr);
  assert.match(twice.stderr, /already exists/);
});

Deno.test("store migrate on a missing store creates nothing (a typo'd --db, a machine that restores)", async () => {
  const t = tempState();
  const r = await stint(["store", "migrate"], { env: t.env });
  assert.equal(r.code, 1);
  assert.match(assertOneLine(r.stderr), /No store at .*nothing to migrate/);
  assert.throws(
    () => Deno.lstatSync(join(t.dir, "state")),
    Deno.errors.NotFound,
  );
});

Deno.test("store migrate while another process holds the write lock: the busy message, not an internal error", async () => {
  const t = tempState();
  const made = await stint(["vars", "set", "--global", "k", "v"], {
    env: t.env,
  });
  assert.equal(made.code, 0, made.stderr);
  // A current store needs no write: migrate answers at once.
  const lock = await holdWriteLock(t.db, 4_000);
  const env = { ...t.env, STINT_BUSY_TIMEOUT: "500ms" };
  const current = await stint(["store", "migrate"], { env });
  assert.equal(current.code, 0, current.stderr);
  assert.match(current.stdout, /nothing to do/);
  await lock.released;
  // An older store must be migrated under the lock: busy, exit 1, one line.
  rawExec(t.db, "PRAGMA user_version = 1");
  const lock2 = await holdWriteLock(t.db, 4_000);
  const old = await stint(["store", "migrate"], { env });
  await lock2.released;
  assert.equal(old.code, 1, old.stderr);
  assert.match(assertOneLine(old.stderr), /is busy/);
  const after = await stint(["store", "migrate", "--json"], { env: t.env });
  assert.equal(after.code, 0, after.stderr);
  assert.deepEqual(JSON.parse(after.stdout).to, SCHEMA_VERSION);
});

Deno.test("store destroy needs --yes without a terminal and then removes the file", async () => {
  const t = tempState();
  await stint(["vars", "set", "--global", "k", "v"], { env: t.env });
  const refused = await stint(["store", "destroy"], { env: t.env });
  assert.equal(refused.code, 2);
  assertOneLine(refused.stderr);
  assert.match(refused.stderr, /--yes/);
  assert.ok(Deno.statSync(t.db).isFile, "nothing deleted without --yes");
  const done = await stint(["store", "destroy", "--yes"], { env: t.env });
  assert.equal(done.code, 0, done.stderr);
  assert.throws(() => Deno.statSync(t.db), Deno.errors.NotFound);
});

Deno.test("a garbage store file: one clear line, exit 1, file unchanged", async () => {
  const t = tempState();
  Deno.mkdirSync(join(t.dir, "state"), { recursive: true });
  const garbage = new TextEncoder().encode("this is not sqlite\n".repeat(200));
  Deno.writeFileSync(t.db, garbage);
  const r = await stint(["store", "migrate"], { env: t.env });
  assert.equal(r.code, 1);
  assertOneLine(r.stderr);
  assert.match(r.stderr, /is not a SQLite database/);
  assert.deepEqual(Deno.readFileSync(t.db), garbage);
});

Deno.test("a store in a read-only directory is still read (a backup, a read-only mount)", async () => {
  const t = tempState();
  const ran = await stint(["exec", "--name", "app:hi", "--", "echo", "hi"], {
    env: t.env,
    cwd: t.dir,
  });
  assert.equal(ran.code, 0, ran.stderr);
  for (
    const args of [["vars", "set", "--global", "k", "v"], [
      "cache",
      "set",
      "c",
      "bytes",
    ]]
  ) {
    assert.equal((await stint(args, { env: t.env })).code, 0);
  }
  // As the last writer leaves it: no -wal or -shm (SQLite needs to create
  // its -shm to read a WAL store, which a read-only directory forbids).
  assert.equal(rawQuery(t.db, "PRAGMA wal_checkpoint(TRUNCATE)").length, 1);
  for (const side of ["-wal", "-shm"]) {
    Deno.removeSync(t.db + side);
  }
  const state = join(t.dir, "state");
  const undo = await makeReadOnly([state, t.db]);
  if (undo === null) return;
  try {
    const reads: [string[], RegExp][] = [
      [["history"], /app:hi .*succeeded/],
      [["history", "refs"], /app:hi/],
      [["logs", "--last"], /^hi\n$/],
      [["stats", "app:hi"], /app:hi/],
      [["vars", "get", "k"], /^v\n$/],
      [["vars", "list"], /k +v +root/],
      [["cache", "get", "c"], /^bytes$/],
      [["cache", "list"], /c +5 B/],
      [["bg", "list", "--all"], /No background runs/],
    ];
    for (const [args, out] of reads) {
      const r = await stint(args, { env: t.env, cwd: t.dir });
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stdout, out, args.join(" "));
    }
    const copy = join(t.dir, "copy.db");
    const b = await stint(["store", "backup", copy], { env: t.env });
    assert.equal(b.code, 0, b.stderr);
    // Writing still says why it cannot.
    const w = await stint(["vars", "set", "--global", "k2", "v"], {
      env: t.env,
    });
    assert.equal(w.code, 1);
    assertOneLine(w.stderr);
  } finally {
    await undo();
  }
});

Deno.test("no HOME and no STINT_DB: a clear error, not a crash", async () => {
  const r = await stint(["store", "path"], {
    env: { NO_COLOR: "1" },
    unset: ["HOME", "STINT_DB", "XDG_STATE_HOME"],
  });
  assert.equal(r.code, 1, r.stderr);
  assertOneLine(r.stderr);
  assert.match(r.stderr, /HOME is not set/);
});

/** The escape sequences stint's own tables use: its palette, bold, reset. */
// deno-lint-ignore no-control-regex
const OWN_SGR = /\x1b\[(?:0|1|2|22|3[1-6]|39|90)m/g;

Deno.test("colour codes inside records are shown escaped, not sent to the terminal", async () => {
  const t = tempState();
  const hide = "\x1b[8m";
  const red = "\x1b[31m";
  seedRuns(t.db, [
    {
      ref: `app:${hide}secret${red}`,
      startedAt: Date.now() - 60_000,
      status: "failed",
      exitCode: 1,
      signal: `SIGTERM${hide}`,
    },
  ]);
  const set = await stint(["vars", "set", "--global", "k", `v${hide}x`], {
    env: t.env,
  });
  assert.equal(set.code, 0, set.stderr);
  const dir = makeProject(t.dir, {
    [`t${red}`]: { command: "echo x", description: `d${hide}` },
  });
  const lists = [
    ["history"],
    ["history", "refs"],
    ["stats"],
    ["vars", "list"],
    ["tasks"],
  ];
  for (const args of lists) {
    // In a pipe there is no colour at all: no escape byte may appear.
    const piped = await stint(args, { env: t.env, cwd: dir });
    assert.equal(piped.code, 0, piped.stderr);
    assert.ok(
      !piped.stdout.includes("\x1b"),
      `${args.join(" ")}: ${piped.stdout}`,
    );
    assert.match(piped.stdout, /\\x1b\[(8|31)m/, args.join(" "));
    if (!HAS_SCRIPT) continue;
    // On a terminal only stint's own colours reach it.
    const env = { ...t.env };
    delete (env as Record<string, string>).NO_COLOR;
    const tty = await stintOnPty(args, { cols: 200, env, cwd: dir });
    assert.equal(tty.code, 0, tty.output);
    const foreign = tty.output.replace(OWN_SGR, "");
    assert.ok(
      !foreign.includes("\x1b"),
      `${args.join(" ")} on a terminal: ${JSON.stringify(foreign)}`,
    );
  }
});

Deno.test("table cells never pass control characters to the terminal", async () => {
  const t = tempState();
  const dir = makeProject(t.dir, {
    "evil\u001b]0;pwned\u0007": "echo one",
    multi: { command: "echo a\necho b", description: "two\nlines" },
  });
  const r = await stint(["tasks"], { env: t.env, cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(r.stdout, /[\u0000-\u0009\u000b-\u001f\u007f]/);
  assert.match(r.stdout, /evil\\x1b\]0;pwned\\x07/);
  const rows = r.stdout.trimEnd().split("\n");
  assert.equal(rows.filter((l) => /^(evil|multi)/.test(l)).length, 2);
});
