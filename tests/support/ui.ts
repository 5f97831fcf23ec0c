/**
 * Test support for `stint ui`: start the real CLI on a temp store, read the
 * address it prints, and send requests with or without its token (and raw
 * ones over TCP with any Host header).
 * @module
 */
import assert from "node:assert/strict";
import {
  type Execution,
  getBackgroundRun,
  getExecution,
  withStore,
} from "../../src/store/mod.ts";
import { spawnStint, stint, type TempState, waitFor } from "./cli.ts";

/** A running `stint ui`. */
export interface UiProcess {
  /** The printed address, with `?token=`. */
  url: string;
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  port: number;
  token: string;
  /** The cookie the server sets after the first visit. */
  cookie: string;
  child: Deno.ChildProcess;
  /** What it printed on stderr (read after stop). */
  stderr: () => string;
  /** SIGTERM it and wait for it to exit; returns the exit code. */
  stop(): Promise<number>;
}

/** Start `stint ui --port 0 --no-open` on the state's store. */
export async function startUi(
  s: TempState,
  options: { args?: string[]; env?: Record<string, string> } = {},
): Promise<UiProcess> {
  const child = spawnStint([
    "ui",
    "--port",
    "0",
    "--no-open",
    ...(options.args ?? []),
  ], {
    env: { ...s.env, ...options.env },
    unset: ["DISPLAY", "WAYLAND_DISPLAY"],
  });
  child.stdin.close();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const deadline = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }, 30_000);
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  clearTimeout(deadline);
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  let err = "";
  const errDone = (async () => {
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      err += chunk;
    }
  })();
  const url = out.split("\n")[0].trim();
  const m = url.match(
    /^http:\/\/127\.0\.0\.1:(\d+)\/\?token=([A-Za-z0-9_-]+)$/,
  );
  if (!m) {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
    await child.status;
    await errDone;
    throw new Error(
      `stint ui printed no address: ${JSON.stringify(out)} ${err}`,
    );
  }
  const port = Number(m[1]);
  let stopped: Promise<number> | null = null;
  return {
    url,
    origin: `http://127.0.0.1:${port}`,
    port,
    token: m[2],
    cookie: `stint_ui_${port}=${m[2]}`,
    child,
    stderr: () => err,
    stop() {
      stopped ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // gone
          }
        }, 10_000);
        const status = await child.status;
        clearTimeout(timer);
        await errDone;
        return status.code;
      })();
      return stopped;
    },
  };
}

/** A request with the token cookie (unless `auth: false`) and any headers. */
export async function get(
  ui: UiProcess,
  path: string,
  options: {
    auth?: boolean;
    headers?: Record<string, string>;
    method?: string;
    body?: BodyInit;
  } = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth !== false) headers.cookie = ui.cookie;
  const res = await fetch(`${ui.origin}${path}`, {
    method: options.method ?? "GET",
    headers,
    body: options.body,
    redirect: "manual",
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Send raw HTTP/1.1 over TCP (fetch will not send a foreign Host); returns the status. */
export async function rawStatus(
  port: number,
  request: string,
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(4096);
    let text = "";
    const deadline = Date.now() + 10_000;
    while (!text.includes("\r\n") && Date.now() < deadline) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const m = text.match(/^HTTP\/1\.[01] (\d{3})/);
    if (!m) {
      throw new Error(`No HTTP status in ${JSON.stringify(text.slice(0, 80))}`);
    }
    return Number(m[1]);
  } finally {
    conn.close();
  }
}

/** Where Chromium is, or null (the browser tests are then ignored). */
export function chromiumPath(): string | null {
  const candidates = [
    Deno.env.get("STINT_TEST_CHROMIUM"),
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      if (Deno.statSync(c).isFile) return c;
    } catch {
      // not there
    }
  }
  return null;
}

/**
 * Start `sh -c <script>` as a background run named `name` (in the state's
 * dir) and wait until its task runs; returns both ids and the execution.
 */
export async function startBackgroundRun(
  s: TempState,
  script: string,
  name: string,
): Promise<{ bg: string; execution: Execution }> {
  const r = await stint([
    "exec",
    "-b",
    "--name",
    name,
    "--",
    "sh",
    "-c",
    script,
  ], {
    env: s.env,
    cwd: s.dir,
  });
  assert.equal(r.code, 0, r.stderr);
  const bg = r.stdout.trim();
  const execution = await waitFor<Execution | null>(() => {
    const run = withStore(s.db, (db) => getBackgroundRun(db, bg));
    if (!run.executionId) return null;
    try {
      const e = withStore(s.db, (db) => getExecution(db, run.executionId!));
      // The supervisor's pid is a placeholder until the task's is known.
      return e.pid !== null && e.pid !== run.pid ? e : null;
    } catch {
      return null;
    }
  }, { timeoutMs: 20_000, what: `background run ${bg} to start its task` });
  return { bg, execution: execution! };
}
