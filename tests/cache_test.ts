/**
 * `stint cache` end to end: real stint processes on a real SQLite file,
 * bytes through real pipes.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { withStore } from "../src/store/open.ts";
import { holdWriteLock } from "./support/faults.ts";
import { assertFails, cleanup, stint, tempState } from "./support/cli.ts";

function rowCount(db: string, where = "1 = 1"): number {
  return withStore(db, (c) =>
    Number(
      c.prepare(`SELECT COUNT(*) AS n FROM cache WHERE ${where}`).get()?.n,
    ));
}

Deno.test("cache: set, get, list, delete with text values", async () => {
  const t = tempState();
  try {
    const env = t.env;
    let r = await stint(["cache", "set", "greeting", "hello world"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    r = await stint(["cache", "get", "greeting"], { env });
    assert.equal(r.code, 0);
    // Exactly the bytes stored: no newline added.
    assert.equal(r.stdout, "hello world");
    await stint(["cache", "set", "greeting", "bye"], { env });
    assert.equal(
      (await stint(["cache", "get", "greeting"], { env })).stdout,
      "bye",
    );
    await stint(["cache", "set", "token", "abc", "--ttl", "1h"], { env });

    r = await stint(["cache", "list"], { env });
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^KEY\s+SIZE\s+UPDATED\s+EXPIRES$/);
    assert.match(lines[1], /^greeting\s+3 B\s+just now\s+never$/);
    assert.match(lines[2], /^token\s+3 B\s+just now\s+in (60m|1h)$/);

    r = await stint(["cache", "list", "--json"], { env });
    const json = JSON.parse(r.stdout);
    assert.deepEqual(json.map((e: { key: string }) => e.key), [
      "greeting",
      "token",
    ]);
    assert.equal(json[0].size, 3);
    assert.equal(json[0].expires_at, null);
    const updated = Date.parse(json[1].updated_at);
    assert.equal(Date.parse(json[1].expires_at) - updated, 3_600_000);
    assert.match(
      json[1].updated_at,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    );

    assert.equal(
      (await stint(["cache", "delete", "greeting"], { env })).code,
      0,
    );
    assertFails(
      await stint(["cache", "get", "greeting"], { env }),
      1,
      /No cache entry "greeting"/,
    );
    assertFails(
      await stint(["cache", "delete", "greeting"], { env }),
      1,
      /No cache entry "greeting"/,
    );
    assert.equal(rowCount(t.db), 1);
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("cache: binary values round-trip exactly through stdin and stdout", async () => {
  const t = tempState();
  try {
    const all = new Uint8Array(256).map((_, i) => i);
    const random = new Uint8Array(3 * 1024 * 1024 + 7);
    for (let off = 0; off < random.length; off += 65536) {
      crypto.getRandomValues(random.subarray(off, off + 65536));
    }
    // Value from stdin with no value argument, and with an explicit "-".
    let r = await stint(["cache", "set", "bytes"], { env: t.env, stdin: all });
    assert.equal(r.code, 0, r.stderr);
    r = await stint(["cache", "set", "blob", "-"], {
      env: t.env,
      stdin: random,
    });
    assert.equal(r.code, 0, r.stderr);
    r = await stint(["cache", "get", "bytes"], { env: t.env });
    assert.deepEqual(r.stdoutBytes, all);
    r = await stint(["cache", "get", "blob"], { env: t.env });
    assert.equal(r.stdoutBytes.length, random.length);
    assert.deepEqual(r.stdoutBytes, random);
    r = await stint(["cache", "list", "--json"], { env: t.env });
    assert.deepEqual(
      JSON.parse(r.stdout).map((e: { size: number }) => e.size),
      [random.length, 256],
    );
    // An empty stdin stores an empty value, which is still an entry.
    r = await stint(["cache", "set", "empty"], { env: t.env, stdin: "" });
    assert.equal(r.code, 0);
    r = await stint(["cache", "get", "empty"], { env: t.env });
    assert.equal(r.code, 0);
    assert.equal(r.stdoutBytes.length, 0);
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("cache: expired entries are never returned and are pruned", async () => {
  const t = tempState();
  try {
    const env = t.env;
    const started = Date.now();
    await stint(["cache", "set", "short", "soon gone", "--ttl", "1s"], { env });
    await stint(["cache", "set", "long", "stays", "--ttl", "1h"], { env });
    await stint(["cache", "set", "other", "x", "--ttl", "1500ms"], { env });
    assert.equal(rowCount(t.db), 3);
    // Wait until both short entries have certainly expired (by their own
    // recorded expiry, so a slow machine cannot make this flaky).
    const expiry = withStore(t.db, (c) =>
      Number(
        c.prepare(
          "SELECT MAX(expires_at) AS t FROM cache WHERE key IN ('short', 'other')",
        ).get()?.t,
      ));
    assert.ok(expiry - started >= 1500);
    await new Promise((r) =>
      setTimeout(r, Math.max(0, expiry - Date.now() + 20))
    );
    assertFails(
      await stint(["cache", "get", "short"], { env }),
      1,
      /No cache entry "short" \(never set, deleted or expired\)/,
    );
    // A read does not write: the expired rows are still in the file...
    assert.equal(rowCount(t.db), 3);
    const r = await stint(["cache", "list", "--json"], { env });
    assert.deepEqual(JSON.parse(r.stdout).map((e: { key: string }) => e.key), [
      "long",
    ]);
    // ...until a listing prunes them.
    assert.equal(rowCount(t.db), 1);
    assert.equal(
      (await stint(["cache", "get", "long"], { env })).stdout,
      "stays",
    );
    // A write prunes too.
    await stint(["cache", "set", "tiny", "x", "--ttl", "1ms"], { env });
    await new Promise((r) => setTimeout(r, 20));
    await stint(["cache", "set", "next", "y"], { env });
    assert.equal(rowCount(t.db, "key = 'tiny'"), 0);
    // Deleting an expired entry is a missing key.
    await stint(["cache", "set", "tiny", "x", "--ttl", "1ms"], { env });
    await new Promise((r) => setTimeout(r, 20));
    assertFails(
      await stint(["cache", "delete", "tiny"], { env }),
      1,
      /No cache entry "tiny"/,
    );
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("cache list answers even when its pruning cannot write (the store's lock is held)", async () => {
  const t = tempState();
  try {
    const env = { ...t.env, STINT_BUSY_TIMEOUT: "300ms" };
    // (A write prunes what has expired, so "kept" is written first.)
    await stint(["cache", "set", "kept", "y"], { env });
    await stint(["cache", "set", "gone", "x", "--ttl", "1ms"], { env });
    await new Promise((r) => setTimeout(r, 20));
    const lock = await holdWriteLock(t.db, 3_000);
    const r = await stint(["cache", "list", "--json"], { env });
    await lock.released;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).map((e: { key: string }) => e.key), [
      "kept",
    ]);
    // The next listing that can write prunes it.
    assert.equal(rowCount(t.db, "key = 'gone'"), 1);
    await stint(["cache", "list"], { env });
    assert.equal(rowCount(t.db, "key = 'gone'"), 0);
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("cache: every validation error exits 2 and writes nothing", async () => {
  const t = tempState();
  try {
    const env = t.env;
    const cases: [string[], RegExp, (string | Uint8Array)?][] = [
      [["cache", "set", "", "v"], /The key is empty/],
      [["cache", "set", "k".repeat(257), "v"], /longer than 256 bytes/],
      [["cache", "set", "é".repeat(129), "v"], /longer than 256 bytes/],
      [["cache", "set", "a\x1bb", "v"], /contains a control character/],
      [["cache", "set", "a\rb", "v"], /contains a control character/],
      [
        ["cache", "set", "big"],
        /cache value on stdin is over the limit of 16777216 bytes \(16 MiB\)/,
        new Uint8Array(16 * 1024 * 1024 + 1),
      ],
      [["cache", "set", "k", "v", "--ttl", "soon"], /--ttl must be a duration/],
      [
        ["cache", "set", "k", "v", "--ttl", "0"],
        /--ttl must be longer than zero/,
      ],
      [["cache", "set", "k", "v", "--ttl", "3y"], /--ttl must be a duration/],
      [
        ["cache", "set", "k", "v", "--ttl", "40000d"],
        /--ttl must be at most 100 years/,
      ],
      [["cache", "set", "k", "v", "--ttl"], /Option --ttl needs a value/],
      [["cache", "set", "k", "v", "w"], /Unexpected argument "w"/],
      [["cache", "set"], /needs <key>/],
      [["cache", "get", ""], /The key is empty/],
      [["cache", "delete", "a\x02b"], /control/],
      [["cache", "list", "extra"], /Unexpected argument "extra"/],
      [["cache", "clear"], /pass --yes to confirm/],
      [["cache"], /needs a subcommand/],
      [["cache", "flush"], /Unknown subcommand "cache flush"/],
    ];
    for (const [args, pattern, stdin] of cases) {
      assertFails(await stint(args, { env, stdin }), 2, pattern);
    }
    assert.equal(existsSync(t.db), false);
    // The size limit itself is allowed and round-trips.
    const max = new Uint8Array(16 * 1024 * 1024).fill(0xab);
    let r = await stint(["cache", "set", "max"], { env, stdin: max });
    assert.equal(r.code, 0, r.stderr);
    assertFails(
      await stint(["cache", "set", "max"], {
        env,
        stdin: new Uint8Array(16 * 1024 * 1024 + 1),
      }),
      2,
      /over the limit/,
    );
    r = await stint(["cache", "get", "max"], { env });
    assert.deepEqual(r.stdoutBytes, max);
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("cache: clear needs --yes without a terminal and removes every entry", async () => {
  const t = tempState();
  try {
    const env = t.env;
    await stint(["cache", "set", "a", "1"], { env });
    await stint(["cache", "set", "b", "2", "--ttl", "1h"], { env });
    assertFails(
      await stint(["cache", "clear"], { env }),
      2,
      /Delete every cache entry: pass --yes to confirm \(stint cache clear\)/,
    );
    assert.equal(rowCount(t.db), 2);
    const r = await stint(["cache", "clear", "--yes"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "Cleared 2 cache entries\n");
    assert.equal(rowCount(t.db), 0);
    assert.equal(
      (await stint(["cache", "list"], { env })).stdout,
      "The cache is empty (add an entry with stint cache set <key> <value>)\n",
    );
    // Deletes leave tombstones so they reach other hosts through sync.
    const tombstones = withStore(t.db, (c) =>
      c.prepare(
        "SELECT key FROM tombstones WHERE kind = 'cache' ORDER BY key",
      ).all().map((row) => row.key));
    assert.deepEqual(tombstones, ["a", "b"]);
  } finally {
    cleanup(t.dir);
  }
});

Deno.test("vars and cache: --help on every subcommand", async () => {
  const t = tempState();
  try {
    // A group's help, then each subcommand's own (from the command table).
    for (
      const [args, usage] of [
        [["vars", "--help"], "vars <subcommand>"],
        [["vars", "get", "--help"], "vars get <key>"],
        [["vars", "set", "k", "--help"], "vars set <key>"],
        [["cache", "--help"], "cache <subcommand>"],
        [["cache", "set", "-h"], "cache set <key>"],
        [["help", "cache"], "cache <subcommand>"],
      ] as const
    ) {
      const r = await stint([...args], { env: t.env });
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
      assert.ok(
        r.stdout.startsWith(`Usage: stint ${usage}`),
        `${args.join(" ")}: ${r.stdout}`,
      );
      if (usage.endsWith("<subcommand>")) {
        assert.match(r.stdout, /Exit codes: 0 ok, 1 missing/);
      }
    }
    assert.equal(existsSync(t.db), false);
  } finally {
    cleanup(t.dir);
  }
});
