// Tables that fit: every table command at a forced width (COLUMNS, in a
// pipe) and on a real terminal (script(1), sized with stty) at 60, 80 and
// 120 columns prints no line wider than the terminal, never wraps a row,
// and cuts the flexible column with an ellipsis.
import assert from "node:assert/strict";
import {
  displayWidth,
  fitWidths,
  renderTable,
  truncate,
} from "../src/cli/table.ts";
import { saveBackgroundRun, withStore } from "../src/store/mod.ts";
import { makeProject, stint, tempState } from "./support/cli.ts";
import { seedRuns } from "./support/history_seed.ts";
import { HAS_SCRIPT, stintOnPty, stripEscapes } from "./support/pty.ts";

const WIDTHS = [60, 80, 120];
const LONG_REF = "myapp:integration-tests-against-the-staging-cluster-eu-west";

/** A store with runs from two hosts (a HOST column), long refs, a background run. */
function seeded() {
  const st = tempState();
  const now = Date.now();
  seedRuns(st.db, [
    { ref: "myapp:build", startedAt: now - 3_600_000, durationMs: 12_300 },
    {
      ref: "myapp:test",
      startedAt: now - 120_000,
      durationMs: 4210,
      status: "failed",
      exitCode: 1,
    },
    {
      ref: LONG_REF,
      startedAt: now - 60_000,
      durationMs: 192_000,
      status: "killed",
      signal: "SIGINT",
    },
  ]);
  withStore(st.db, (db) => {
    db.prepare(
      "UPDATE executions SET host_id = 'ci-runner-build-farm-7f3a9c2e1b' WHERE ref = ?",
    ).run(LONG_REF);
    saveBackgroundRun(db, {
      id: "k3x9q2mf",
      ref: LONG_REF,
      command:
        "deno task integration-tests-against-the-staging-cluster-eu-west",
      status: "completed",
      exitCode: 0,
      startedAt: now - 50_000,
      completedAt: now - 10_000,
    });
  });
  const project = makeProject(st.dir, {
    build: {
      description:
        "Bundle the app into dist/ with esbuild, minified, with source maps for production",
      command: "deno run -A build.ts",
    },
    test: { command: "deno test -A", dependencies: ["build"] },
    "integration-tests-against-the-staging-cluster-eu-west":
      "deno test -A --filter integration tests/integration/ --reporter=junit --junit-path=out.xml",
  }, { name: "myapp" });
  return { st, project };
}

const COMMANDS: [string, string[]][] = [
  ["tasks", ["tasks"]],
  ["history", ["history"]],
  ["history refs", ["history", "refs"]],
  ["stats", ["stats"]],
  ["bg list --all", ["bg", "list", "--all"]],
  ["status", ["status"]],
];

function widest(text: string): number {
  return Math.max(
    ...stripEscapes(text).split("\n").map((l) => displayWidth(l)),
  );
}

Deno.test("tables fit a forced width (COLUMNS) at 60, 80 and 120 columns", async () => {
  const { st, project } = seeded();
  for (const cols of WIDTHS) {
    for (const [name, args] of COMMANDS) {
      const r = await stint(args, {
        env: { ...st.env, COLUMNS: String(cols) },
        cwd: project,
      });
      assert.ok(r.code === 0 || name === "status", `${name}: ${r.stderr}`);
      assert.ok(
        widest(r.stdout) <= cols,
        `${name} at ${cols} columns is ${widest(r.stdout)} wide:\n${r.stdout}`,
      );
      // A header row, and every row on one line: rows = runs + header.
      assert.match(r.stdout, /^[A-Z]/m, name);
    }
  }
});

Deno.test("history at 80 columns: the HOST and REF columns give way, the id does not", async () => {
  const { st, project } = seeded();
  const r = await stint(["history"], {
    env: { ...st.env, COLUMNS: "80" },
    cwd: project,
  });
  const lines = r.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 4, r.stdout); // header + 3 runs, no wrapped row
  assert.match(lines[0], /^ID\s+REF\s+STARTED\s+DURATION\s+STATUS\s+HOST$/);
  assert.ok(r.stdout.includes("…"), "something was cut");
  for (const l of lines.slice(1)) {
    assert.match(l, /^[0-9a-f]{8}/, "ids are whole");
  }
});

Deno.test("in a pipe without COLUMNS nothing is cut (cut/awk see whole values)", async () => {
  const { st, project } = seeded();
  const env = { ...st.env };
  const r = await stint(["history"], { env, cwd: project, unset: ["COLUMNS"] });
  assert.ok(r.stdout.includes(LONG_REF), r.stdout);
  assert.ok(r.stdout.includes("ci-runner-build-farm-7f3a9c2e1b"));
  assert.ok(!r.stdout.includes("…"));
});

Deno.test({
  name: HAS_SCRIPT
    ? "tables on a terminal (a pty at 60, 80, 120 columns) are boxes that fit"
    : "tables on a terminal fit (needs script(1) for a pty; not installed)",
  ignore: !HAS_SCRIPT,
  fn: async () => {
    const { st, project } = seeded();
    for (const cols of WIDTHS) {
      for (const [name, args] of COMMANDS) {
        const r = await stintOnPty(args, { cols, env: st.env, cwd: project });
        const text = stripEscapes(r.output);
        assert.match(text, /┌/, `${name} at ${cols}: a box\n${text}`);
        assert.ok(
          widest(text) <= cols,
          `${name} on a ${cols}-column terminal is ${
            widest(text)
          } wide:\n${text}`,
        );
      }
    }
  },
});

Deno.test({
  name: HAS_SCRIPT
    ? "stint tasks / history / status as seen on an 80-column terminal"
    : "tables at 80 columns (needs script(1); not installed)",
  ignore: !HAS_SCRIPT,
  fn: async () => {
    const { st, project } = seeded();
    for (const args of [["tasks"], ["history"], ["status"]]) {
      const r = await stintOnPty(args, { cols: 80, env: st.env, cwd: project });
      const text = stripEscapes(r.output);
      // Each table row is one line between the box's borders.
      for (const l of text.split("\n").filter((l) => l.startsWith("│"))) {
        assert.ok(
          l.endsWith("│"),
          `a row that does not end in its border: ${l}`,
        );
      }
      if (Deno.env.get("STINT_SHOW_TABLES")) console.log(text);
    }
  },
});

Deno.test("fitWidths: flex columns first, then the others, names and ids last", () => {
  // ID 12, REF 40, STATUS 15 in 50 cells of plain output (4 of separators).
  assert.deepEqual(
    fitWidths([12, 40, 15], { width: 50, overhead: 4, flex: [1], keep: [0] }),
    [12, 19, 15],
  );
  // Too narrow for the flex minimum: STATUS gives up to 10, then REF more.
  assert.deepEqual(
    fitWidths([12, 40, 15], {
      width: 34,
      overhead: 4,
      flex: [1],
      keep: [0],
      header: [2, 3, 6],
    }),
    [12, 8, 10],
  );
  // Narrower still: the id is cut only when nothing else can give.
  assert.deepEqual(
    fitWidths([12, 40, 15], { width: 20, overhead: 4, flex: [1], keep: [0] }),
    [10, 3, 3],
  );
  // Wide enough: unchanged.
  assert.deepEqual(
    fitWidths([12, 40, 15], { width: 200, overhead: 4, flex: [1] }),
    [12, 40, 15],
  );
});

Deno.test("truncate keeps colour codes, closes them, and counts wide characters", () => {
  const red = "\x1b[31mfailed (exit 1)\x1b[39m";
  const cut = truncate(red, 8);
  assert.equal(displayWidth(cut), 8);
  assert.ok(cut.endsWith("…\x1b[0m"), JSON.stringify(cut));
  assert.equal(truncate("▁▂▃▄▅▆▇█", 4, { fromStart: true }), "…▆▇█");
  assert.equal(displayWidth("ビルド"), 6);
  assert.equal(displayWidth(truncate("ビルドとテスト", 7)), 7);
  assert.equal(truncate("short", 10), "short");
});

Deno.test("renderTable: a boxed table at 40 columns fits and says so with an ellipsis", async () => {
  const text = await renderTable(
    ["ID", "COMMAND"],
    [["01a2094f", "deno task build --minify --sourcemap --outdir dist/app"]],
    { width: 40, boxed: true, color: false },
  );
  for (const l of text.split("\n")) assert.ok(displayWidth(l) <= 40, l);
  assert.match(text, /…/);
  assert.equal(text.split("\n").length, 4); // top, header, row, bottom
});

Deno.test("a long task list at 60 columns keeps every task name whole", async () => {
  const st = tempState();
  const dir = makeProject(st.dir, {
    "release-candidate":
      "deno run -A scripts/release.ts --channel candidate --sign",
  });
  const r = await stint(["tasks"], {
    env: { ...st.env, COLUMNS: "60" },
    cwd: dir,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^release-candidate /m);
  assert.ok(widest(r.stdout) <= 60, r.stdout);
});
