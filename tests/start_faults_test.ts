/**
 * A start that cannot be recorded never costs the task its run or its exit
 * code (rules 1 and 2): with the store locked past the busy timeout, full,
 * read-only or corrupt when a run starts, or no store to be had at all, the
 * task runs to its end and stint exits with its code; one line says the
 * start could not be recorded yet, and the run is recorded, start and end
 * together, when the store lets it (else journalled and replayed by the
 * next stint). A Ctrl-C while the start waits reaches the task at once, and
 * stint exits as deno task would, with a record that agrees.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cleanup,
  type CliResult,
  MAIN,
  makeProject,
  spawnStint,
  stint,
  type TempState,
  tempState,
  waitFor,
} from "./support/cli.ts";
import {
  holdWriteLock,
  mountTmpfs,
  rawQuery,
  seedOuterScope,
} from "./support/faults.ts";
import { makeReadOnly } from "./support/readonly.ts";

const S = `deno run -A --quiet '${MAIN}'`;
const dec = new TextDecoder();

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "");
}

async function historyOf(env: Record<string, string>, ref: string) {
  const h = await stint(["history", ref, "--json"], { env });
  assert.equal(h.code, 0, h.stderr);
  return JSON.parse(h.stdout) as Record<string, unknown>[];
}

function startWarning(line: string | undefined): void {
  assert.match(
    line ?? "",
    /^stint: could not record the start of this run \(.+\); the task goes on/,
  );
}

/**
 * A store that exists (one run recorded), and the environment that points
 * stint at it with `busyTimeout` as its STINT_BUSY_TIMEOUT.
 */
async function madeStore(
  busyTimeout: string,
): Promise<{ t: TempState; env: Record<string, string> }> {
  const t = tempState();
  const env = { ...t.env, STINT_BUSY_TIMEOUT: busyTimeout };
  assert.equal((await stint(["exec", "--", "true"], { env })).code, 0);
  return { t, env };
}

/**
 * `exec` a task named `ref` that prints "ran" and exits `code` while the
 * store cannot take its start: the task ran, stint exited with its code,
 * and its first line of stderr says the start is not recorded yet.
 */
async function ranWithoutItsStart(
  env: Record<string, string>,
  ref: string,
  code: number,
): Promise<CliResult> {
  const r = await stint([
    "exec",
    "--name",
    ref,
    "--",
    "sh",
    "-c",
    `echo ran; exit ${code}`,
  ], { env });
  assert.equal(r.code, code, r.stderr);
  assert.equal(r.stdout, "ran\n");
  startWarning(lines(r.stderr)[0]);
  return r;
}

function noSidecars(dir: string): void {
  let left: string[] = [];
  try {
    left = [...Deno.readDirSync(join(dir, "state", "logs", ".starting"))]
      .map((e) => e.name);
  } catch {
    // no such dir: none
  }
  assert.deepEqual(left, [], "no start sidecar is left behind");
}

Deno.test("a store locked past the busy timeout at the start: the task runs to its end, stint exits with its code, the run is recorded once the store lets it", async () => {
  const { t, env } = await madeStore("2s");
  const lock = await holdWriteLock(t.db, 9_000);
  const startedAt = Date.now();
  const r = await stint([
    "exec",
    "--name",
    "start:locked",
    "--",
    "sh",
    "-c",
    "sleep 3; echo done; exit 7",
  ], { env });
  assert.equal(r.code, 7, r.stderr);
  assert.equal(r.stdout, "done\n", "the task ran to its end");
  const warned = lines(r.stderr);
  assert.equal(warned.length, 2, r.stderr);
  startWarning(warned[0]);
  assert.match(warned[0], /busy/);
  assert.match(warned[1], /saved in .*stint\.db\.spool/);
  await lock.released;
  const [run] = await historyOf(env, "start:locked");
  assert.equal(run.status, "failed");
  assert.equal(run.exit_code, 7);
  assert.equal(run.command, "sh -c 'sleep 3; echo done; exit 7'");
  assert.deepEqual(run.args, ["-c", "sleep 3; echo done; exit 7"]);
  const started = Date.parse(String(run.started_at));
  assert.ok(started >= startedAt - 1000 && started < startedAt + 2000);
  assert.ok(Number(run.duration_ms) >= 3000, `duration ${run.duration_ms}`);
  const log = await stint(["logs", String(run.id)], { env });
  assert.equal(log.code, 0, log.stderr);
  assert.equal(log.stdout, "done\n");
  assert.deepEqual(
    rawQuery(t.db, "SELECT id FROM scopes WHERE id != 'root'"),
    [],
  );
  noSidecars(t.dir);
  cleanup(t.dir);
});

Deno.test("a quick task whose run waits for a locked store is recorded with the task's own duration, not stint's wait", async () => {
  const { t, env } = await madeStore("1500ms");
  const lock = await holdWriteLock(t.db, 5_000);
  const r = await stint(
    ["exec", "--name", "start:quick", "--", "sh", "-c", "exit 7"],
    { env },
  );
  assert.equal(r.code, 7, r.stderr);
  await lock.released;
  const [run] = await historyOf(env, "start:quick");
  assert.equal(run.exit_code, 7);
  // stint waited 1.5 s for the start and more for the end; `exit 7` takes
  // a few milliseconds.
  assert.ok(Number(run.duration_ms) < 1000, `duration ${run.duration_ms}`);
  noSidecars(t.dir);
  cleanup(t.dir);
});

Deno.test("the task's own stint vars do not hang while its start cannot be recorded: they read through the caller's scope", async () => {
  const { t, env } = await madeStore("1s");
  const outer = seedOuterScope(t.db);
  const stamp = join(t.dir, "read-at");
  const lock = await holdWriteLock(t.db, 8_000);
  const released = lock.released.then(() => Date.now());
  const r = await stint([
    "exec",
    "--name",
    "start:vars",
    "--shell",
    "--",
    `sleep 1.5; ${S} vars get k; date +%s%3N > ${stamp}; exit 4`,
  ], { env: { ...env, STINT_SCOPE: outer } });
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stdout, "from-outer\n");
  startWarning(lines(r.stderr)[0]);
  const readAt = Number(Deno.readTextFileSync(stamp).trim());
  assert.ok(
    readAt < (await released) - 2_000,
    "vars get answered long before the store was free",
  );
  const [run] = await historyOf(env, "start:vars");
  assert.equal(run.exit_code, 4);
  noSidecars(t.dir);
  cleanup(t.dir);
});

Deno.test("a read-only, a corrupt and a full store at the start: the task runs and its exit code is kept", async () => {
  // Read-only (chattr +i as root, modes otherwise).
  {
    const { t, env } = await madeStore("1s");
    const files = [t.db, `${t.db}-wal`, `${t.db}-shm`].filter((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    });
    const undo = await makeReadOnly(files);
    if (undo !== null) {
      try {
        await ranWithoutItsStart(env, "start:ro", 5);
      } finally {
        await undo();
      }
      const [run] = await historyOf(env, "start:ro");
      assert.equal(run.exit_code, 5, "replayed from the journal");
      assert.equal(run.status, "failed");
    }
    cleanup(t.dir);
  }
  // Corrupt: stint's header, garbage after it.
  {
    const { t, env } = await madeStore("1s");
    const header = Deno.readFileSync(t.db).subarray(0, 100);
    const bytes = new Uint8Array(64 * 1024).fill(0x5a);
    bytes.set(header);
    Deno.writeFileSync(t.db, bytes);
    for (const side of ["-wal", "-shm"]) {
      try {
        Deno.removeSync(t.db + side);
      } catch {
        // not there
      }
    }
    const r = await ranWithoutItsStart(env, "start:corrupt", 6);
    assert.ok(lines(r.stderr).length <= 2, r.stderr);
    const spool = Deno.readTextFileSync(`${t.db}.spool`);
    assert.match(spool, /start:corrupt/, "the whole run is in the journal");
    cleanup(t.dir);
  }
  // Full: a 2 MiB tmpfs as the state dir, filled before the run starts.
  if (Deno.uid() === 0) {
    const t = tempState();
    const env = { ...t.env, STINT_BUSY_TIMEOUT: "1s" };
    const stateDir = join(t.dir, "state");
    Deno.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const unmount = await mountTmpfs(stateDir, "2m", "the full-disk start");
    if (unmount !== null) {
      try {
        assert.equal((await stint(["exec", "--", "true"], { env })).code, 0);
        const filler = join(stateDir, "filler");
        await new Deno.Command("sh", {
          args: ["-c", `head -c 4000000 /dev/zero > ${filler}`],
          stderr: "null",
        }).output();
        await ranWithoutItsStart(env, "start:full", 3);
        Deno.removeSync(filler);
        const [run] = await historyOf(env, "start:full");
        assert.equal(run.exit_code, 3, "replayed from the journal");
      } finally {
        await unmount();
      }
    }
    cleanup(t.dir);
  }
});

Deno.test("a first run where no store can be made: the task still runs, stint says so in one line per step and exits with its code", async () => {
  const t = tempState();
  const locked = join(t.dir, "locked");
  Deno.mkdirSync(locked);
  const undo = await makeReadOnly([locked]);
  if (undo === null) return;
  const db = join(locked, "state", "stint.db");
  let r;
  try {
    r = await stint([
      "exec",
      "--name",
      "start:nostore",
      "--",
      "sh",
      "-c",
      "echo ran; exit 9",
    ], { env: { ...t.env, STINT_DB: db } });
  } finally {
    await undo();
  }
  assert.equal(r.code, 9, r.stderr);
  assert.equal(r.stdout, "ran\n");
  const warned = lines(r.stderr);
  assert.ok(warned.length >= 1 && warned.length <= 2, r.stderr);
  startWarning(warned[0]);
  assert.ok(warned[0].includes(join(locked, "state")), warned[0]);
  assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/);
  cleanup(t.dir);
});

/** Read `child`'s stdout until it holds `text`. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  text: string,
): Promise<string> {
  let seen = "";
  while (!seen.includes(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += dec.decode(value);
  }
  return seen;
}

/**
 * Start `stint exec --name <name> -- sh -c <script>` while another process
 * holds the store's write lock for 8 s (busy timeout 20 s): its start
 * waits for the store for as long as the test wants.
 */
async function startWhileLocked(name: string, script: string) {
  const { t, env } = await madeStore("20s");
  const lock = await holdWriteLock(t.db, 8_000);
  const child = spawnStint(["exec", "--name", name, "--", "sh", "-c", script], {
    env,
  });
  child.stdin.close();
  return { t, env, lock, child, reader: child.stdout.getReader() };
}

Deno.test("Ctrl-C while the start waits for the store: the task gets it at once, stint exits 130, and the record says so", async () => {
  const { t, env, lock, child, reader } = await startWhileLocked(
    "start:int",
    "echo up; sleep 3; echo ran",
  );
  assert.match(await readUntil(reader, "up\n"), /up/);
  await new Promise((r) => setTimeout(r, 500));
  const sentAt = Date.now();
  child.kill("SIGINT");
  const rest = await readUntil(reader, "\u0000never");
  const status = await child.status;
  const took = Date.now() - sentAt;
  assert.equal(status.code, 130);
  assert.doesNotMatch(rest, /ran/, "the task was interrupted");
  assert.ok(took < 3_000, `stint exited ${took} ms after the signal`);
  await child.stderr.cancel();
  await lock.released;
  const [run] = await historyOf(env, "start:int");
  assert.equal(run.status, "killed");
  assert.equal(run.signal, "SIGINT");
  assert.equal(run.exit_code, 130);
  cleanup(t.dir);
});

Deno.test("Ctrl-C after a quick task ended while its run waits for the store: stint stops waiting and exits with the task's code, as recorded", async () => {
  const { t, env, lock, child, reader } = await startWhileLocked(
    "start:quick",
    "echo ran",
  );
  const startedAt = Date.now();
  assert.equal(await readUntil(reader, "ran\n"), "ran\n");
  assert.ok(Date.now() - startedAt < 4_000, "the output was not held back");
  await new Promise((r) => setTimeout(r, 1_000));
  const sentAt = Date.now();
  child.kill("SIGINT");
  const status = await child.status;
  assert.equal(status.code, 0, "the task had ended with 0 before the signal");
  assert.ok(Date.now() - sentAt < 3_000, "stint stopped waiting");
  await reader.cancel();
  await child.stderr.cancel();
  await waitFor(async () => {
    await lock.released;
    return true;
  });
  const [run] = await historyOf(env, "start:quick");
  assert.equal(run.status, "succeeded");
  assert.equal(run.exit_code, 0);
  cleanup(t.dir);
});

Deno.test("stint SIGKILLed between spawning the task and recording its start: the start sidecar makes the run running while its task lives, then lost", async () => {
  const { t, env } = await madeStore("20s");
  // The store's lock holds the start back: the window, widened.
  const lock = await holdWriteLock(t.db, 3_000);
  const pidFile = join(t.dir, "task.pid");
  const child = spawnStint([
    "exec",
    "--name",
    "start:killed",
    "--shell",
    "--",
    `echo $$ > ${pidFile}; exec sleep 30`,
  ], { env });
  child.stdin.close();
  const starting = join(t.dir, "state", "logs", ".starting");
  const sidecar = await waitFor((): string | null => {
    try {
      Deno.statSync(pidFile);
      const names = [...Deno.readDirSync(starting)].map((e) => e.name);
      return names.length === 1 ? join(starting, names[0]) : null;
    } catch {
      return null;
    }
  }, { what: "the task and its start sidecar" });
  assert.equal(Deno.lstatSync(sidecar!).mode! & 0o777, 0o600);
  assert.equal(Deno.lstatSync(starting).mode! & 0o777, 0o700);
  child.kill("SIGKILL");
  await child.status;
  await child.stdout.cancel();
  await child.stderr.cancel();
  await lock.released;
  const pid = Number(Deno.readTextFileSync(pidFile).trim());
  try {
    const [run] = await historyOf(env, "start:killed");
    assert.ok(run, "the run is recorded from its sidecar");
    assert.equal(run.status, "running", "its task still runs");
    assert.equal(run.command, `sh -c 'echo $$ > ${pidFile}; exec sleep 30'`);
    noSidecars(t.dir);
  } finally {
    Deno.kill(-pid, "SIGKILL");
  }
  await waitFor(() => {
    try {
      return Deno.readTextFileSync(`/proc/${pid}/stat`).includes(") Z");
    } catch {
      return true;
    }
  });
  const [run] = await historyOf(env, "start:killed");
  assert.equal(run.status, "lost");
  assert.match(String(run.error), /Run lost/);
  cleanup(t.dir);
});

Deno.test("a start sidecar is never written through a link: a symbolic link at logs/.starting is refused in one line before the task runs", async () => {
  const t = tempState();
  assert.equal((await stint(["exec", "--", "true"], { env: t.env })).code, 0);
  const elsewhere = join(t.dir, "elsewhere");
  Deno.mkdirSync(elsewhere);
  const starting = join(t.dir, "state", "logs", ".starting");
  try {
    Deno.removeSync(starting);
  } catch {
    // not made yet
  }
  Deno.symlinkSync(elsewhere, starting);
  const marker = join(t.dir, "ran");
  const r = await stint(["exec", "--", "touch", marker], { env: t.env });
  assert.equal(r.code, 1, r.stderr);
  assert.match(lines(r.stderr)[0], /symbolic link/);
  assert.equal(lines(r.stderr).length, 1, r.stderr);
  assert.deepEqual([...Deno.readDirSync(elsewhere)], []);
  assert.throws(() => Deno.statSync(marker), "nothing ran");
  cleanup(t.dir);
});

Deno.test("stint run (the task started before the store is loaded) with the store locked past the busy timeout: the task runs, stint exits with its code, the run is recorded later", async () => {
  const t = tempState();
  const env = { ...t.env, STINT_BUSY_TIMEOUT: "1s" };
  const dir = makeProject(t.dir, {
    slow: "sleep 2 && echo slow-done && exit 4",
  }, {
    name: "app",
  });
  assert.equal((await stint(["exec", "--", "true"], { env })).code, 0);
  const lock = await holdWriteLock(t.db, 6_000);
  const r = await stint(["run", "slow"], { env, cwd: dir });
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stdout, "slow-done\n");
  // deno task's own "Task slow ..." line aside.
  const warned = lines(r.stderr).filter((l) => l.startsWith("stint:"));
  startWarning(warned[0]);
  assert.equal(warned.length, 2, r.stderr);
  await lock.released;
  const [run] = await historyOf(env, "app:slow");
  assert.equal(run.status, "failed");
  assert.equal(run.exit_code, 4);
  assert.equal(run.task, "slow");
  noSidecars(t.dir);
  cleanup(t.dir);
});
