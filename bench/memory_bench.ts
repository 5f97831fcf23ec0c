/**
 * Memory budgets (spec section 9), as the peak RSS of real stint processes
 * (`/usr/bin/time -f %M`, else the highest `VmHWM` read from
 * `/proc/<pid>/status` while it runs), against a real S3 endpoint over HTTP
 * (fauxqs in this process):
 * - `stint sync restore` of 1,000,000 executions onto an empty machine
 *   (≤ 256 MB, ≤ 10 s);
 * - `stint sync push` of that store (its first push: a snapshot; ≤ 256 MB);
 * - `stint sync push` of one run with a 200 MB log (≤ 128 MB);
 * - `stint logs -f` of a running run with a multi-GB log (bounded: ≤ 128 MB).
 * The baseline is the peak RSS of `stint --version` (the floor of any stint
 * process), measured in the same run. `BEFORE` holds the figures measured on
 * main before the transfers were streamed (same machine, same bench).
 * @module
 */
import { join } from "node:path";
import {
  finishExecution,
  logPath,
  setRecorder,
  startExecution,
  uuidv7,
  withStore,
} from "../src/store/mod.ts";
import { ensurePrivateDir, logsDir } from "../src/store/paths.ts";
import { processStartTime } from "../src/store/process.ts";
import { startS3 } from "../tests/support/s3.ts";
import { makeBigStore } from "./fixtures.ts";
import type { BenchResult } from "./result.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const MB = 1024 * 1024;

/**
 * Peak RSS (MB) measured on main at d1d4a37 (before this bench's changes),
 * by this bench on the same 2-core machine.
 */
export const BEFORE = {
  restore: { rssMb: 885, seconds: 10.0 },
  pushStore: 525,
  pushLog: 501,
  follow: 2097,
};

/** Peak RSS and wall time of one process. */
export interface Measured {
  /** Peak resident set size, MB. */
  rssMb: number;
  /** Wall time, ms. */
  ms: number;
  /** Exit code. */
  code: number;
  /** Its stderr (for a failure message). */
  stderr: string;
}

const HAS_TIME = (() => {
  try {
    return Deno.statSync("/usr/bin/time").isFile;
  } catch {
    return false;
  }
})();

/**
 * Run `deno run -A main.ts <args>` and measure its peak RSS. `during` runs
 * while it runs (it gets the child's stdout); the child is waited for after.
 */
export async function measureStint(
  args: string[],
  env: Record<string, string>,
  options: {
    during?: (stdout: ReadableStream<Uint8Array>) => Promise<void>;
  } = {},
): Promise<Measured> {
  const out = Deno.makeTempFileSync({ prefix: "stint-rss-" });
  const argv = ["run", "-A", "--quiet", MAIN, ...args];
  const cmd = HAS_TIME
    ? new Deno.Command("/usr/bin/time", {
      args: ["-f", "%M", "-o", out, Deno.execPath(), ...argv],
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    })
    : new Deno.Command(Deno.execPath(), {
      args: argv,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  const t = performance.now();
  const child = cmd.spawn();
  let polled = 0;
  const poll = HAS_TIME ? undefined : setInterval(() => {
    polled = Math.max(polled, vmHwmKb(child.pid));
  }, 20);
  const stderr = new Response(child.stderr).text();
  const during = options.during
    ? options.during(child.stdout)
    : child.stdout.pipeTo(new WritableStream());
  await during;
  const status = await child.status;
  const ms = performance.now() - t;
  if (poll !== undefined) clearInterval(poll);
  const kb = HAS_TIME ? Number(Deno.readTextFileSync(out).trim()) : polled;
  Deno.removeSync(out);
  return { rssMb: kb / 1024, ms, code: status.code, stderr: await stderr };
}

function vmHwmKb(pid: number): number {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(
      /VmHWM:\s+(\d+)/,
    );
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function must(m: Measured, what: string): Measured {
  if (m.code !== 0) {
    throw new Error(`bench: ${what} exited ${m.code}: ${m.stderr.trim()}`);
  }
  return m;
}

/**
 * Write `bytes` of log-like text to `path`: lines of random hex (about 2:1
 * under gzip), from an 8 MiB block written again and again (gzip's window
 * is 32 KiB, so the repetition does not help it).
 */
function writeLog(path: string, bytes: number): void {
  const block = new Uint8Array(8 * MB);
  const random = crypto.getRandomValues(new Uint8Array(64 * 1024));
  const hex = new TextEncoder().encode("0123456789abcdef");
  for (let i = 0, r = 0; i < block.length; i++) {
    if (i % 81 === 80) {
      block[i] = 0x0a;
      continue;
    }
    if (r === random.length) {
      crypto.getRandomValues(random);
      r = 0;
    }
    block[i] = hex[random[r++] & 15];
  }
  const f = Deno.openSync(path, {
    write: true,
    createNew: true,
    mode: 0o600,
  });
  try {
    let written = 0;
    while (written < bytes) {
      const n = Math.min(block.length, bytes - written);
      let done = 0;
      while (done < n) done += f.writeSync(block.subarray(done, n));
      written += n;
    }
  } finally {
    f.close();
  }
}

/** Run the memory benchmarks. `rows` defaults to 1,000,000. */
export async function benchMemory(
  options?: { rows?: number; logMb?: number; followMb?: number },
): Promise<BenchResult[]> {
  const rows = options?.rows ?? 1_000_000;
  const logMb = options?.logMb ?? 200;
  const followMb = options?.followMb ?? 2048;
  const dir = Deno.makeTempDirSync({ prefix: "stint-bench-mem-" });
  const s3 = await startS3();
  const base: Record<string, string> = { ...Deno.env.toObject() };
  for (const k of ["STINT_RUN_ID", "STINT_SCOPE", "STINT_BUCKET"]) {
    delete base[k];
  }
  const env = (db: string, prefix: string): Record<string, string> => ({
    ...base,
    ...s3.env,
    STINT_DB: db,
    STINT_S3_PREFIX: prefix,
    STINT_QUIET: "1",
    NO_COLOR: "1",
    XDG_CONFIG_HOME: join(dir, "config"),
  });
  try {
    const floor = must(
      await measureStint(["--version"], env(join(dir, "none.db"), "x/")),
      "stint --version",
    );

    // 1. Push of a store of `rows` executions (its first push: a snapshot).
    const big = makeBigStore(dir, rows);
    const push = must(
      await measureStint(["sync", "push"], env(big, "big/")),
      "stint sync push (1M store)",
    );

    // 2. Restore of it onto an empty machine.
    const restoredDb = join(dir, "restored", "stint.db");
    const restore = must(
      await measureStint(["sync", "restore"], env(restoredDb, "big/")),
      "stint sync restore",
    );
    const restoredRows = withStore(
      restoredDb,
      (c) => Number(c.prepare("SELECT count(*) AS n FROM executions").get()?.n),
    );

    // 3. Push of one run with a big log.
    const logDb = join(dir, "log", "stint.db");
    const logId = uuidv7();
    withStore(logDb, (c) => {
      startExecution(c, { id: logId, ref: "bench:log", command: "x", logId });
      ensurePrivateDir(logsDir(logDb));
      writeLog(logPath(logDb, logId), logMb * MB);
      finishExecution(c, logId, { status: "succeeded", exitCode: 0 });
    });
    const pushLog = must(
      await measureStint(["sync", "push"], env(logDb, "log/")),
      `stint sync push (${logMb} MB log)`,
    );

    // 4. logs -f of a running run whose log is already big: everything
    // unprinted is printed, then the run ends.
    const followDb = join(dir, "follow", "stint.db");
    const followId = uuidv7();
    withStore(followDb, (c) => {
      startExecution(c, {
        id: followId,
        ref: "bench:follow",
        command: "x",
        logId: followId,
      });
      // This process records it: the run is running while it lives.
      setRecorder(c, followId, {
        pid: Deno.pid,
        pidStart: processStartTime(Deno.pid),
      });
    });
    ensurePrivateDir(logsDir(followDb));
    writeLog(logPath(followDb, followId), followMb * MB);
    const want = followMb * MB;
    const followEnv = { ...env(followDb, "follow/"), STINT_BUCKET: "" };
    let got = 0;
    const follow = must(
      await measureStint(["logs", followId, "-f"], followEnv, {
        during: async (stdout) => {
          const reader = stdout.getReader();
          let ended = false;
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            got += value.length;
            if (!ended && got >= want) {
              ended = true;
              withStore(followDb, (c) =>
                finishExecution(c, followId, {
                  status: "succeeded",
                  exitCode: 0,
                }));
            }
          }
        },
      }),
      "stint logs -f",
    );

    const note = (before: number) =>
      before > 0 ? `; before: ${before.toFixed(0)} MB` : "";
    return [
      {
        name: `sync restore of ${rows} executions (peak RSS)`,
        value: restore.rssMb,
        unit: "MB",
        baseline: floor.rssMb,
        ratio: restore.rssMb / floor.rssMb,
        budget: 256,
        budgetOf: "value",
        ok: restoredRows === rows,
        note: `${(restore.ms / 1000).toFixed(1)} s (budget 10 s${
          BEFORE.restore.seconds
            ? `; before: ${BEFORE.restore.seconds.toFixed(1)} s`
            : ""
        }); restored ${restoredRows} executions; baseline: stint --version${
          note(BEFORE.restore.rssMb)
        }`,
      },
      {
        name: `sync restore of ${rows} executions (time)`,
        value: restore.ms,
        unit: "ms",
        budget: 10_000,
        budgetOf: "value",
      },
      {
        name: `sync push of a ${rows}-execution store (peak RSS)`,
        value: push.rssMb,
        unit: "MB",
        baseline: floor.rssMb,
        ratio: push.rssMb / floor.rssMb,
        budget: 256,
        budgetOf: "value",
        note: `its first push (a snapshot), ${(push.ms / 1000).toFixed(1)} s${
          note(BEFORE.pushStore)
        }`,
      },
      {
        name: `sync push of one run with a ${logMb} MB log (peak RSS)`,
        value: pushLog.rssMb,
        unit: "MB",
        baseline: floor.rssMb,
        ratio: pushLog.rssMb / floor.rssMb,
        budget: 128,
        budgetOf: "value",
        note: `${(pushLog.ms / 1000).toFixed(1)} s${note(BEFORE.pushLog)}`,
      },
      {
        name: `logs -f of a running run with a ${followMb} MB log (peak RSS)`,
        value: follow.rssMb,
        unit: "MB",
        baseline: floor.rssMb,
        ratio: follow.rssMb / floor.rssMb,
        budget: 128,
        budgetOf: "value",
        ok: got === want,
        note: `printed ${(got / MB).toFixed(0)} MB in ${
          (follow.ms / 1000).toFixed(1)
        } s${note(BEFORE.follow)}`,
      },
    ];
  } finally {
    await s3.stop();
    Deno.removeSync(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const [rows, logMb, followMb] = Deno.args.map(Number);
  for (
    const r of await benchMemory({
      rows: rows || undefined,
      logMb: logMb || undefined,
      followMb: followMb || undefined,
    })
  ) console.log(r);
}
