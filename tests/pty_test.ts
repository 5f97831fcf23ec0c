/**
 * `stint run` on a terminal: the task runs in a pseudo-terminal. A real
 * terminal (node-pty's own API, playing the user's terminal emulator) runs
 * stint; the tests type into it and read what it shows: the task sees a
 * terminal on all three streams and the window size, colours reach the
 * terminal and the log, typed input and Ctrl-C reach the task (Ctrl-C ends
 * the run `killed`), the terminal's mode is restored on every way out, and
 * signals, SIGKILL escalation and `lost` work as with pipes. Every test runs
 * with stint's own pty (FFI) and with node-pty's forkpty.
 * @module
 */
import assert from "node:assert/strict";
import {
  type Execution,
  listExecutions,
  logPath,
  withStore,
} from "../src/store/mod.ts";
import { groupAlive, waitGroupGone } from "../src/runner/process_group.ts";
import {
  MAIN,
  makeProject,
  type TempState,
  tempState,
  waitFor,
} from "./support/cli.ts";
import {
  openTerminal,
  ptyAvailable,
  type TestTerminal,
} from "./support/terminal.ts";

const ok = await ptyAvailable();
const ignore = !ok || Deno.build.os !== "linux";
const why = ignore ? " (skipped: node-pty does not load here)" : "";

/** Both ways stint opens a pty: its own (FFI, Linux) and node-pty's forkpty. */
interface Impl {
  label: string;
  env: Record<string, string>;
}
const IMPLS: Impl[] = [
  { label: "", env: {} },
  { label: " [node-pty forkpty]", env: { STINT_PTY: "node-pty" } },
];

function onlyRun(s: TempState): Execution {
  const all = withStore(s.db, (db) => listExecutions(db));
  assert.equal(all.length, 1, `one run recorded, got ${all.length}`);
  return all[0];
}

function log(s: TempState, e: Execution): string {
  return new TextDecoder().decode(Deno.readFileSync(logPath(s.db, e.logId!)));
}

/** `sh -c script` in a test terminal, with stint on PATH as `stint`. */
async function shell(
  impl: Impl,
  s: TempState,
  cwd: string,
  script: string,
  size = { cols: 100, rows: 30 },
): Promise<TestTerminal> {
  const bin = `${s.dir}/bin`;
  Deno.mkdirSync(bin, { recursive: true });
  Deno.writeTextFileSync(
    `${bin}/stint`,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A --quiet "${MAIN}" "$@"\n`,
  );
  Deno.chmodSync(`${bin}/stint`, 0o755);
  const env: Record<string, string> = {
    ...Deno.env.toObject(),
    ...s.env,
    PATH: `${bin}:${Deno.env.get("PATH")}`,
    ...impl.env,
  };
  delete env.NO_COLOR;
  for (
    const k of ["STINT_RUN_ID", "STINT_SCOPE", "STINT_BUCKET", "RUST_BACKTRACE"]
  ) {
    delete env[k];
  }
  return await openTerminal("/bin/sh", ["-c", script], { cwd, env, ...size });
}

/**
 * Give deno task time to install its signal handlers after the task
 * started: a Ctrl-C within the first few ms kills deno task itself (by
 * SIGINT) in a plain terminal too.
 */
function settle(): Promise<void> {
  // 300 ms was seen short once on a loaded machine (the trap case exited
  // other than 7); a second leaves a margin without slowing the suite much.
  return new Promise((r) => setTimeout(r, 1_000));
}

/** The stint process under the terminal's shell (a child of pid `sh`). */
async function stintUnder(sh: number): Promise<number> {
  return await waitFor(() => {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        const ppid = Number(
          stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1],
        );
        const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
        if (ppid === sh && cmd.includes(MAIN)) return Number(e.name);
      } catch {
        // gone
      }
    }
    return 0;
  }, { what: "stint under the terminal's shell", timeoutMs: 20_000 });
}

for (const impl of IMPLS) {
  Deno.test({
    name:
      `the task sees a terminal on stdin, stdout and stderr, its size, and keeps its colours in the terminal and the log${impl.label}${why}`,
    ignore,
    async fn() {
      const s = tempState();
      const dir = makeProject(s.dir, {
        tty:
          `sh -c 'for fd in 0 1 2; do test -t $fd && echo "fd$fd=tty"; done; stty size; printf "\\033[31mred\\033[0m\\n"; echo oops >&2'`,
      }, { name: "term" });
      const t = await shell(impl, s, dir, "stint run tty; echo rc=$?", {
        cols: 111,
        rows: 33,
      });
      await t.exited;
      const shown = t.output();
      assert.match(shown, /fd0=tty\r\nfd1=tty\r\nfd2=tty\r\n33 111\r\n/);
      const red = "\x1b[31mred\x1b[0m\r\n";
      assert.ok(shown.includes(red), "the colour reached the terminal");
      assert.match(shown, /oops\r\nrc=0/);
      const e = onlyRun(s);
      assert.equal(e.status, "succeeded");
      const l = log(s, e);
      assert.match(l, /fd0=tty\r\nfd1=tty\r\nfd2=tty\r\n33 111\r\n/);
      assert.ok(l.includes(red), "the colour is in the log");
      assert.match(l, /oops\r\n/);
      // The log is what the terminal showed of the run, byte for byte.
      assert.ok(shown.includes(l), "the terminal showed the log's bytes");
    },
  });

  Deno.test({
    name:
      `typed input reaches the task, and a window size change reaches it as SIGWINCH${impl.label}${why}`,
    ignore,
    async fn() {
      const s = tempState();
      const dir = makeProject(s.dir, {
        ask:
          `sh -c 'printf "%s? " name; read name; echo "hello $name"; trap "stty size; exit 0" WINCH; echo wai""ting; while :; do sleep 0.1; done'`,
      }, { name: "term" });
      const t = await shell(impl, s, dir, "stint run ask; echo rc=$?");
      await t.waitFor(/name\? /);
      t.type("ada\r");
      await t.waitFor(/waiting/);
      t.resize(120, 40);
      await t.exited;
      const shown = t.output();
      assert.match(
        shown,
        /name\? ada\r\nhello ada\r\n/,
        "typed, echoed by the pty, read by the task",
      );
      assert.match(shown, /waiting\r\n40 120\r\nrc=0/);
    },
  });

  Deno.test({
    name:
      `Ctrl-C typed into the terminal ends the run as killed (SIGINT, exit 130); a task that traps it exits with its own code${impl.label}${why}`,
    ignore,
    async fn() {
      const s = tempState();
      const dir = makeProject(s.dir, {
        wait: `echo re""ady && sleep 60`,
        trapped:
          `sh -c 'trap "echo caught; exit 7" INT; echo re""ady; while :; do sleep 0.1; done'`,
      }, { name: "term" });
      let t = await shell(impl, s, dir, "stint run wait; echo rc=$?");
      await t.waitFor(/ready/);
      await settle();
      t.type("\x03");
      await t.waitFor(/rc=\d+/);
      assert.match(t.output(), /rc=130/);
      let e = onlyRun(s);
      assert.equal(e.status, "killed");
      assert.equal(e.signal, "SIGINT");
      assert.ok(!groupAlive(e.pid!), "nothing of the task is left");

      const s2 = tempState();
      const dir2 = makeProject(s2.dir, {
        trapped:
          `sh -c 'trap "echo caught; exit 7" INT; echo re""ady; while :; do sleep 0.1; done'`,
      }, { name: "term" });
      t = await shell(impl, s2, dir2, "stint run trapped; echo rc=$?");
      await t.waitFor(/ready/);
      await settle();
      t.type("\x03");
      await t.waitFor(/rc=\d+/);
      assert.match(t.output(), /caught/);
      assert.match(
        t.output(),
        /rc=7/,
        `stint exits with the task's own code, as deno task does: ${
          JSON.stringify(t.output())
        }`,
      );
      e = onlyRun(s2);
      assert.equal(e.status, "killed");
      assert.equal(e.signal, "SIGINT");
      assert.equal(e.exitCode, 7);
    },
  });

  Deno.test({
    name:
      `a second Ctrl-C kills a task that ignores the first${impl.label}${why}`,
    ignore,
    async fn() {
      const s = tempState();
      const dir = makeProject(s.dir, {
        stubborn: `sh -c 'trap "" INT; echo re""ady; sleep 60 & wait'`,
      }, { name: "term" });
      const t = await shell(impl, s, dir, "stint run stubborn; echo rc=$?");
      await t.waitFor(/ready/);
      const e0 = await waitFor(() => {
        const [r] = withStore(s.db, (db) => listExecutions(db));
        return r?.pid && r.pid !== 0 ? r : null;
      });
      await settle();
      t.type("\x03");
      await new Promise((r) => setTimeout(r, 700));
      assert.ok(groupAlive(e0!.pid!), "the task ignored the first Ctrl-C");
      t.type("\x03");
      await t.waitFor(/rc=\d+/);
      assert.match(t.output(), /rc=130/);
      assert.ok(await waitGroupGone(e0!.pid!, 5_000), "the group was killed");
      const e = onlyRun(s);
      assert.equal(e.status, "killed");
      assert.equal(e.signal, "SIGINT");
    },
  });

  for (
    const [what, task, expect] of [
      ["a normal exit", "echo fine", /rc=0/],
      ["a failure", "echo bad && exit 3", /rc=3/],
      ["SIGTERM to stint", `echo re""ady && sleep 60`, /rc=143/],
    ] as const
  ) {
    Deno.test({
      name: `the terminal's mode is restored after ${what}${impl.label}${why}`,
      ignore,
      async fn() {
        const s = tempState();
        const dir = makeProject(s.dir, { t: task }, { name: "term" });
        const t = await shell(
          impl,
          s,
          dir,
          "stty -g > before; stint run t; echo rc=$?; stty -g > after",
        );
        if (what === "SIGTERM to stint") {
          await t.waitFor(/ready/);
          // Raw while the task runs: typed bytes go to the task, not a line editor.
          Deno.kill(await stintUnder(t.pid), "SIGTERM");
        }
        await t.exited;
        assert.match(t.output(), expect);
        const before = Deno.readTextFileSync(`${dir}/before`).trim();
        const after = Deno.readTextFileSync(`${dir}/after`).trim();
        assert.ok(before.length > 0);
        assert.equal(after, before, "stty -g after the run equals before it");
        if (what === "SIGTERM to stint") {
          const e = onlyRun(s);
          assert.equal(e.status, "killed");
          assert.equal(e.signal, "SIGTERM");
        }
      },
    });
  }

  Deno.test({
    name:
      `SIGKILL of stint on a terminal: the task is hung up and the run reads as lost${impl.label}${why}`,
    ignore,
    async fn() {
      const s = tempState();
      // An external sleep: deno task's built-in one shrugs off SIGHUP.
      const dir = makeProject(
        s.dir,
        { t: `echo re""ady && sh -c 'sleep 60'` },
        {
          name: "term",
        },
      );
      const t = await shell(impl, s, dir, "stint run t; echo rc=$?");
      await t.waitFor(/ready/);
      const running = await waitFor(() => {
        const [r] = withStore(s.db, (db) => listExecutions(db));
        return r?.status === "running" && r.pid ? r : null;
      });
      Deno.kill(await stintUnder(t.pid), "SIGKILL");
      await t.waitFor(/rc=137/);
      // Its terminal gone, the task's group gets SIGHUP and ends.
      assert.ok(await waitGroupGone(running!.pid!, 10_000), "the task ended");
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", MAIN, "history", "--json"],
        env: s.env,
        stdout: "piped",
      }).output();
      const rec = JSON.parse(new TextDecoder().decode(r.stdout))[0];
      assert.equal(rec.status, "lost");
    },
  });

  Deno.test({
    name:
      `Ctrl-Z in the terminal stops the task with stint and gives the shell a cooked terminal; fg resumes both${impl.label}${why}`,
    ignore: ignore || !existsExecutable("/bin/bash"),
    async fn() {
      const s = tempState();
      const dir = makeProject(s.dir, {
        long:
          `sh -c 'echo st""arted; sleep 1; echo mid""dle; sleep 1; echo fin""ished'`,
      }, { name: "term" });
      const env: Record<string, string> = {
        ...Deno.env.toObject(),
        ...s.env,
        PS1: "PROMPT$ ",
        ...impl.env,
      };
      delete env.NO_COLOR;
      delete env.RUST_BACKTRACE;
      const t = await openTerminal(
        "/bin/bash",
        ["--norc", "--noprofile", "-i"],
        {
          cwd: dir,
          env,
        },
      );
      await t.waitFor(/PROMPT\$ /);
      t.type("stty -g > before\r");
      t.type(`"${Deno.execPath()}" run -A --quiet "${MAIN}" run long\r`);
      await t.waitFor(/started/);
      await settle();
      t.type("\x1a");
      await t.waitFor(/Stopped/);
      const stoppedAt = t.output().length;
      await new Promise((r) => setTimeout(r, 2_500));
      assert.doesNotMatch(
        t.output().slice(stoppedAt),
        /middle/,
        "the task is stopped too",
      );
      t.type("stty -g > during\r");
      t.type("fg\r");
      await t.waitFor(/finished\r\n.*PROMPT\$ /s);
      t.type("echo rc=$?; stty -g > after; exit\r");
      await t.exited;
      assert.match(t.output(), /rc=0/);
      const mode = (f: string) => Deno.readTextFileSync(`${dir}/${f}`).trim();
      assert.equal(mode("during"), mode("before"), "cooked while stopped");
      assert.equal(mode("after"), mode("before"), "restored at the end");
      assert.equal(onlyRun(s).status, "succeeded");
    },
  });
}

function existsExecutable(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
