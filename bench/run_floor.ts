/**
 * The floor of each step of `stint run noop`: the same operations done bare
 * (no stint code) in fresh Deno processes, medians of `n` (default 21),
 * interleaved. Set beside bench/run_trace.ts (what stint's steps cost) it
 * shows what is left to take out of each step and what no Deno program that
 * records a run around `deno task` can go below.
 *
 *   deno run -A bench/run_floor.ts [n]
 * @module
 */
import { join } from "node:path";
import { median } from "./result.ts";
import { runPiped as runProbe } from "./run_trace.ts";

const FIRST_LINE = new URL("./first_line.ts", import.meta.url).pathname;

// A probe notes marks as bench/run_trace.ts reads them (src/trace.ts's
// format), relative to the moment it was spawned (STINT_TRACE).
const PRELUDE = `
const origin = Number(Deno.env.get("STINT_TRACE")) - performance.timeOrigin;
let last = origin;
const lines = [];
function mark(label) {
  const t = performance.now();
  lines.push(\`stint-trace \${(t - origin).toFixed(2)} \${(t - last).toFixed(2)} \${label}\`);
  last = t;
}
function flush() { Deno.stderr.writeSync(new TextEncoder().encode(lines.join("\\n") + "\\n")); }
mark("deno: to the first line");
`;

const PROBES: Record<string, string> = {
  // Deno's first child: a session leader with piped output, as stint
  // starts deno task; then the pipes read to EOF and the exit status.
  spawn: `
const c = new Deno.Command(Deno.execPath(), {
  args: ["task", "noop"], stdin: "inherit", stdout: "piped", stderr: "piped", detached: true,
}).spawn();
mark("spawn deno task (first Deno.Command, pipes, setsid)");
const pump = async (s) => { const r = s.getReader(); while (!(await r.read()).done); };
const pumps = Promise.all([pump(c.stdout), pump(c.stderr)]);
await c.status;
mark("deno task noop runs (spawn returned to exit status)");
await pumps;
mark("pipes drained");
flush();
Deno.exit(0);
`,
  // The store's part: node:sqlite, an idle read-only connection, one write
  // transaction for the start and one for the end, each on its own
  // connection (open per operation), as a run does.
  sqlite: `
const { DatabaseSync } = await import("node:sqlite");
mark("import node:sqlite");
const path = Deno.args[0];
const holder = new DatabaseSync(path, { readOnly: true, timeout: 5000 });
holder.prepare("PRAGMA user_version").get();
mark("open the idle read-only connection");
const write = (sql) => {
  const db = new DatabaseSync(path, { timeout: 5000 });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = NORMAL");
  db.prepare("PRAGMA user_version").get();
  db.exec("BEGIN IMMEDIATE");
  db.prepare(sql).run(crypto.randomUUID(), Date.now());
  db.exec("COMMIT");
  db.close();
};
write("INSERT INTO runs (id, at) VALUES (?, ?)");
mark("open, write the start, close");
write("UPDATE runs SET at = ?2 WHERE id = ?1");
mark("open, write the end, close");
holder.close();
flush();
Deno.exit(0);
`,
  // Signal handlers as a foreground run installs them.
  signals: `
for (const s of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGTSTP", "SIGCONT"]) {
  Deno.addSignalListener(s, () => {});
}
mark("six signal listeners");
flush();
Deno.exit(0);
`,
  // Finding and reading the config the least a reader can: stat upward
  // from the cwd, read and JSON.parse the one there is.
  config: `
let dir = Deno.cwd();
let text = null;
for (;;) {
  for (const f of ["deno.json", "deno.jsonc", "package.json"]) {
    try { if (Deno.statSync(dir + "/" + f).isFile && text === null) text = Deno.readTextFileSync(dir + "/" + f); } catch {}
  }
  if (dir === "/") break;
  dir = dir.slice(0, dir.lastIndexOf("/")) || "/";
}
JSON.parse(text);
mark("find and parse the config (stat up to /, JSON.parse)");
flush();
Deno.exit(0);
`,
  exit: `
flush();
`,
};

/** Measure the floors; returns the printed lines. */
export async function runFloor(options: { n?: number } = {}): Promise<
  string[]
> {
  const n = options.n ?? 21;
  const dir = Deno.makeTempDirSync({ prefix: "stint-floor-" });
  try {
    Deno.writeTextFileSync(
      join(dir, "deno.json"),
      JSON.stringify({ tasks: { noop: "true" } }),
    );
    const db = join(dir, "floor.db");
    const { DatabaseSync } = await import("node:sqlite");
    const init = new DatabaseSync(db);
    init.exec(
      "PRAGMA journal_mode = WAL; CREATE TABLE runs (id TEXT PRIMARY KEY, at INTEGER)",
    );
    init.close();
    const o = { cwd: dir, env: Deno.env.toObject() };
    const argv: Record<string, string[]> = {};
    for (const [name, body] of Object.entries(PROBES)) {
      Deno.writeTextFileSync(join(dir, `${name}.js`), PRELUDE + body);
      argv[name] = ["run", "-A", "--quiet", `${name}.js`, db];
    }
    argv.beside = ["run", "-A", "--quiet", FIRST_LINE];
    for (const a of Object.values(argv)) await runProbe(a, o);
    const steps = new Map<string, number[]>();
    const order: string[] = [];
    const add = (label: string, v: number) => {
      if (!steps.has(label)) {
        steps.set(label, []);
        order.push(label);
      }
      steps.get(label)!.push(v);
    };
    for (let i = 0; i < n; i++) {
      for (const [name, a] of Object.entries(argv)) {
        const s = await runProbe(a, o);
        let prev = 0;
        for (const [label, t] of s.marks) {
          const key = label.startsWith("deno: to the first line")
            ? `deno: to the first line (${
              name === "beside"
                ? "a script beside main.ts: stint's config"
                : "the floor's project"
            })`
            : label;
          if (
            key.startsWith("deno: to the first line") && name !== "exit" &&
            name !== "beside"
          ) {
            prev = t;
            continue; // counted once, by the exit probe
          }
          add(key, t - prev);
          prev = t;
        }
        if (name === "exit") {
          add("exit (the last line to the process's end)", s.wall - prev);
        }
      }
    }
    return order.map((label) =>
      `${median(steps.get(label)!).toFixed(2).padStart(7)}  ${label}`
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const n = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 21);
  console.log((await runFloor({ n })).join("\n"));
}
