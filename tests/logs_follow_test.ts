// `stint logs -f` on a log bigger than the chunk it reads at a time (1 MiB):
// everything is printed exactly once, in order, --tail and --grep hold
// across chunk boundaries, and it ends when the run does.
import assert from "node:assert/strict";
import {
  finishExecution,
  processStartTime,
  withStore,
} from "../src/store/mod.ts";
import { spawnStint, type TempState, tempState } from "./support/cli.ts";
import { appendLog, seedRuns } from "./support/history_seed.ts";

/** A running run (recorded by this process) whose log is `lines` lines. */
function runningWithLog(st: TempState, lines: number): string {
  let text = "";
  for (let i = 0; i < lines; i++) {
    text += `line ${String(i).padStart(7, "0")} ${"x".repeat(60)}\n`;
  }
  return seedRuns(st.db, [{
    ref: "f:big",
    startedAt: Date.now(),
    status: "running",
    pid: Deno.pid,
    pidStart: processStartTime(Deno.pid),
    log: text,
  }])[0].id;
}

/** Follow `id` until `ready(out)`, then append `more`, end the run, collect. */
async function follow(
  st: TempState,
  id: string,
  flags: string[],
  ready: (out: string) => boolean,
  more: string,
): Promise<string> {
  const child = spawnStint(["logs", id, "-f", ...flags], { env: st.env });
  await child.stdin.close();
  const reader = child.stdout.getReader();
  const dec = new TextDecoder();
  let out = "";
  let ended = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    out += dec.decode(value, { stream: true });
    if (!ended && ready(out)) {
      ended = true;
      appendLog(st.db, id, more);
      withStore(
        st.db,
        (db) => finishExecution(db, id, { status: "succeeded", exitCode: 0 }),
      );
    }
  }
  const status = await child.status;
  await child.stderr.cancel();
  assert.equal(status.code, 0);
  return out;
}

Deno.test("logs -f: a 3 MiB log is printed whole, once, then what is appended, until the run ends", async () => {
  const st = tempState();
  const id = runningWithLog(st, 45_000); // ~3.1 MiB
  const want = Deno.readTextFileSync(`${st.dir}/state/logs/${id}.log`);
  const out = await follow(
    st,
    id,
    [],
    (o) => o.length >= want.length,
    "the end\n",
  );
  assert.equal(out.length, want.length + "the end\n".length);
  assert.ok(out === want + "the end\n");
});

Deno.test("logs -f --tail 3 and --grep across chunk boundaries", async () => {
  const st = tempState();
  const id = runningWithLog(st, 45_000);
  const tail = await follow(
    st,
    id,
    ["--tail", "3"],
    (o) => o.split("\n").length > 3,
    "after 1\nafter 2\n",
  );
  assert.deepEqual(tail.trimEnd().split("\n").map((l) => l.slice(0, 12)), [
    "line 0044997",
    "line 0044998",
    "line 0044999",
    "after 1",
    "after 2",
  ]);

  const st2 = tempState();
  const id2 = runningWithLog(st2, 45_000);
  const grep = await follow(
    st2,
    id2,
    ["--grep", "line 00(1[0-9]{4}|44999) "],
    (o) => o.includes("line 0044999"),
    "line 0010000 again\nno\n",
  );
  const lines = grep.trimEnd().split("\n");
  assert.equal(lines.length, 10_000 + 1 + 1);
  assert.match(lines[0], /^line 0010000 x+$/);
  assert.match(lines[9_999], /^line 0019999 /);
  assert.match(lines[10_000], /^line 0044999 /);
  assert.equal(lines[10_001], "line 0010000 again");
});
