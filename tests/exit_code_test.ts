/**
 * The task's exit code is sacred (spec section 3, issue 11 defect 1):
 * whatever happens to the store while a task runs — its write lock held by
 * another process, the disk full, the file read-only, corrupt or deleted —
 * stint exits with the task's code, and an end the store cannot take is
 * journalled and recorded by the next stint (one warning line now, none
 * later). `bg wait` gets the task's code in the same cases.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { spawnStint, stint, tempState, waitFor } from "./support/cli.ts";
import {
  holdWriteLock,
  mountTmpfs,
  rawQuery,
  rawRuns,
  waitForTaskPid,
} from "./support/faults.ts";
import { makeReadOnly } from "./support/readonly.ts";

const dec = new TextDecoder();

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "");
}

/** Start `stint exec --name <ref> -- sh -c <script>` without waiting. */
function startExec(
  env: Record<string, string>,
  ref: string,
  script: string,
): Deno.ChildProcess {
  return spawnStint(["exec", "--name", ref, "--", "sh", "-c", script], {
    env,
  });
}

async function finish(child: Deno.ChildProcess) {
  child.stdin.close();
  const out = await child.output();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

async function historyOf(env: Record<string, string>, ref: string) {
  const h = await stint(["history", ref, "--json"], { env });
  assert.equal(h.code, 0, h.stderr);
  return { stderr: h.stderr, runs: JSON.parse(h.stdout) };
}

Deno.test("a write lock held for 7 s while the task ends: stint waits for it and exits with the task's code", async () => {
  const t = tempState();
  assert.equal((await stint(["exec", "--", "true"], { env: t.env })).code, 0);
  const child = startExec(t.env, "lock:seven", "sleep 1; exit 7");
  await waitForTaskPid(t.db, "lock:seven");
  const lock = await holdWriteLock(t.db, 7_000);
  const r = await finish(child);
  await lock.released;
  assert.equal(r.code, 7, r.stderr);
  assert.equal(r.stderr, "");
  const [run] = rawRuns(t.db, "lock:seven");
  assert.equal(run.status, "failed");
  assert.equal(run.exit_code, 7);
});

Deno.test("a lock held past STINT_BUSY_TIMEOUT: exit code kept, one warning, the next stint records the end silently", async () => {
  const t = tempState();
  const env = { ...t.env, STINT_BUSY_TIMEOUT: "1s" };
  assert.equal((await stint(["exec", "--", "true"], { env })).code, 0);
  const child = startExec(env, "lock:journal", "sleep 0.5; exit 7");
  await waitForTaskPid(t.db, "lock:journal");
  const lock = await holdWriteLock(t.db, 6_000);
  const r = await finish(child);
  assert.equal(r.code, 7, r.stderr);
  const warning = lines(r.stderr);
  assert.equal(warning.length, 1, r.stderr);
  assert.match(
    warning[0],
    /^stint: .*could not record the end.*saved in .*stint\.db\.spool/,
  );
  await lock.released;
  const h = await historyOf(env, "lock:journal");
  assert.equal(h.stderr, "", "no warning from the process that replays it");
  assert.equal(h.runs[0].status, "failed");
  assert.equal(h.runs[0].exit_code, 7);
  const again = await stint(["history", "--json"], { env });
  assert.equal(again.stderr, "");
});

Deno.test("bg wait returns the task's code when the supervisor had to journal the end", async () => {
  const t = tempState();
  const env = { ...t.env, STINT_BUSY_TIMEOUT: "1s" };
  const start = await stint([
    "exec",
    "-b",
    "--name",
    "bg:journal",
    "--",
    "sh",
    "-c",
    "sleep 0.5; exit 7",
  ], { env });
  assert.equal(start.code, 0, start.stderr);
  const id = start.stdout.trim();
  const row = await waitForTaskPid(t.db, "bg:journal");
  const lock = await holdWriteLock(t.db, 8_000);
  // The supervisor journals the end and exits while the lock is held.
  await waitFor(() => {
    const runs = rawRuns(t.db, "bg:journal");
    return runs.length === 1 && supervisorGone(t.db, id);
  }, { timeoutMs: 20_000, what: "the supervisor to exit" });
  const during = await stint(["bg", "wait", id], { env });
  assert.equal(during.code, 7, during.stderr);
  await lock.released;
  const after = await stint(["bg", "wait", id, "--json"], { env });
  assert.equal(after.code, 7, after.stderr);
  assert.equal(JSON.parse(after.stdout).status, "failed");
  assert.equal(rawRuns(t.db, "bg:journal")[0].exit_code, 7);
  assert.ok(row.id);
});

function supervisorGone(db: string, bg: string): boolean {
  const r = rawBackground(db, bg);
  if (!r || r.pid === null) return false;
  try {
    Deno.kill(Number(r.pid), "SIGCONT");
    return false;
  } catch {
    return true;
  }
}

function rawBackground(
  db: string,
  id: string,
): Record<string, unknown> | undefined {
  return rawQuery(db, "SELECT * FROM background_runs WHERE id = ?", id)[0];
}

Deno.test({
  name:
    "a disk that fills up during the run (2 MiB tmpfs, 3 MB of output): exit 3, and bg wait gets 3",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const t = tempState();
    const stateDir = join(t.dir, "state");
    Deno.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const unmount = await mountTmpfs(stateDir, "2m", "the full-disk case");
    if (unmount === null) return;
    try {
      assert.equal(
        (await stint(["exec", "--", "true"], { env: t.env })).code,
        0,
      );
      const r = await stint([
        "exec",
        "--name",
        "full:fg",
        "--",
        "sh",
        "-c",
        "head -c 3000000 /dev/zero; exit 3",
      ], { env: t.env });
      assert.equal(r.code, 3, r.stderr);
      assert.ok(lines(r.stderr).length <= 1, r.stderr);
      assert.equal(r.stdoutBytes.length, 3_000_000, "the terminal got it all");
      // Free the space the log took, so the next run starts; it fills the
      // disk again while it runs.
      const freeLogs = () => {
        for (const e of Deno.readDirSync(join(stateDir, "logs"))) {
          if (!e.isFile) continue; // .starting (start sidecars)
          Deno.truncateSync(join(stateDir, "logs", e.name), 0);
        }
      };
      freeLogs();
      const bg = await stint([
        "exec",
        "-b",
        "--name",
        "full:bg",
        "--",
        "sh",
        "-c",
        "sleep 0.3; head -c 3000000 /dev/zero; exit 3",
      ], { env: t.env });
      assert.equal(bg.code, 0, bg.stderr);
      const w = await stint(["bg", "wait", bg.stdout.trim()], { env: t.env });
      assert.equal(w.code, 3, w.stderr);
      freeLogs();
      const h = await historyOf(t.env, "full:fg");
      assert.equal(h.runs[0].status, "failed");
      assert.equal(h.runs[0].exit_code, 3);
      const b = await historyOf(t.env, "full:bg");
      assert.equal(b.runs[0].exit_code, 3);
    } finally {
      await unmount();
    }
  },
});

Deno.test("the store made read-only, corrupted or deleted while the task runs: stint exits with the task's code", async () => {
  for (const fault of ["read-only", "corrupt", "deleted"] as const) {
    const t = tempState();
    const env = { ...t.env, STINT_BUSY_TIMEOUT: "1s" };
    assert.equal((await stint(["exec", "--", "true"], { env })).code, 0);
    const ref = `fault:${fault}`;
    const child = startExec(env, ref, "sleep 1; exit 5");
    await waitForTaskPid(t.db, ref);
    let undo: (() => Promise<void>) | null = null;
    if (fault === "read-only") {
      // The WAL takes the writes, so it is made read-only with the file.
      undo = await makeReadOnly(
        [t.db, `${t.db}-wal`, `${t.db}-shm`].filter((p) => {
          try {
            return Deno.statSync(p).isFile;
          } catch {
            return false;
          }
        }),
      );
      if (undo === null) {
        await finish(child);
        continue;
      }
    } else if (fault === "corrupt") {
      Deno.writeFileSync(
        t.db,
        new TextEncoder().encode("garbage\n".repeat(4096)),
      );
      for (const side of ["-wal", "-shm"]) {
        Deno.writeFileSync(t.db + side, new TextEncoder().encode("junk"));
      }
    } else {
      for (const side of ["", "-wal", "-shm"]) {
        try {
          Deno.removeSync(t.db + side);
        } catch {
          // not there
        }
      }
    }
    const r = await finish(child);
    if (undo) await undo();
    assert.equal(r.code, 5, `${fault}: ${r.stderr}`);
    assert.equal(lines(r.stderr).length, 1, `${fault}: ${r.stderr}`);
    if (fault === "read-only") {
      const h = await historyOf(env, ref);
      assert.equal(h.stderr, "");
      assert.equal(h.runs[0].exit_code, 5, fault);
    }
  }
});
