/**
 * `stint ui [--port N] [--host H] [--no-open]`: serve the local dashboard
 * (src/ui) until Ctrl-C.
 * @module
 */
import { StintError, UsageError } from "../errors.ts";
import { boolFlag, intFlag, parseFlags, stringFlag } from "./args.ts";
import type { Context } from "./context.ts";
import { eprintln, println } from "./output.ts";
import { readStore } from "./read_store.ts";

/** Help for `stint ui`. */
export const help = `Usage: stint ui [--port N] [--host H] [--no-open]

Serve a dashboard of this store in the browser: runs with the filters of
stint history, each run's record and log (colours kept, searchable, followed
live while it runs, with kill and rerun buttons), tasks with success rate,
p50/p95, a duration chart and flaky detection, background runs, and hosts
(with sync: last push, unpushed changes and the stint status probes).

It prints its address with a random token; only requests that carry the
token (the browser keeps it in a cookie after the first visit) are answered.
It listens on 127.0.0.1 unless --host says otherwise.

Options:
  --port <n>     The port (default 0: any free port)
  --host <h>     The address to listen on (default 127.0.0.1); anything but
                 a loopback address shows the dashboard to your network
  --no-open      Do not open a browser (it is opened only on a desktop)

Exit codes: 0 stopped with Ctrl-C or SIGTERM, 1 the port is in use, the
address cannot be listened on, or the store is not one stint reads (another
program's database, a symbolic link, a damaged file), 2 bad usage.

Examples:
  stint ui
  stint ui --port 7070 --no-open
  stint --db /srv/ci/stint.db ui --host 0.0.0.0 --port 7070`;

/** Run `stint ui`. */
export async function run(args: string[], ctx: Context): Promise<number> {
  const p = parseFlags(args, {
    port: { type: "string", short: "p" },
    host: { type: "string" },
    "no-open": { type: "boolean" },
  }, { command: "ui", max: 0 });
  const port = intFlag(p, "port", { min: 0, max: 65535 }) ?? 0;
  const hostname = stringFlag(p, "host") ?? "127.0.0.1";
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(hostname)) {
    throw new UsageError(
      `--host must be a host name or an IP address, not "${hostname}"`,
    );
  }
  // A store every page would refuse (another program's database, a
  // symlink, garbage) is refused now, in one line, not served as errors.
  readStore(ctx.dbPath, () => undefined, () => undefined);
  const { isLoopback, newToken } = await import("../ui/security.ts");
  const { serveUi } = await import("../ui/server.ts");
  if (!isLoopback(hostname)) {
    eprintln(
      `stint: warning: listening on ${hostname}, not a loopback address: anyone who can reach it and has the token sees your runs and logs and can kill and rerun them`,
    );
  }
  let server;
  try {
    server = await serveUi({
      dbPath: ctx.dbPath,
      hostname,
      port,
      token: newToken(),
      hosts: isLoopback(hostname) ? [] : localNames(),
    });
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new StintError(
        `Port ${port} is in use; choose another with --port (0 picks a free one)`,
      );
    }
    if (
      err instanceof Deno.errors.AddrNotAvailable ||
      err instanceof Deno.errors.PermissionDenied ||
      err instanceof Deno.errors.NotFound ||
      err instanceof TypeError
    ) {
      throw new StintError(
        `Cannot listen on ${hostname}:${port}: ${
          (err as Error).message.split("\n")[0]
        }`,
      );
    }
    throw err;
  }
  println(server.url);
  if (!ctx.quiet) {
    eprintln(
      `stint ui: serving ${ctx.dbPath}; open the address above (it carries the token). Ctrl-C stops it.`,
    );
  }
  if (!boolFlag(p, "no-open")) openBrowser(server.url);
  const stop = () => {
    server.shutdown().catch(() => {});
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  try {
    await server.finished;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
  }
  return 0;
}

/** Names this machine may be reached by, for the Host check off loopback. */
function localNames(): string[] {
  const names: string[] = [];
  try {
    names.push(Deno.hostname());
  } catch {
    // no hostname
  }
  try {
    for (const i of Deno.networkInterfaces()) names.push(i.address);
  } catch {
    // not allowed
  }
  return names;
}

/**
 * Open `url` in the desktop's browser, when there is a desktop: xdg-open
 * with DISPLAY or WAYLAND_DISPLAY set (Linux), `open` on macOS. Failing to
 * open is fine: the address is printed.
 */
function openBrowser(url: string): void {
  let cmd: string | null = null;
  if (Deno.build.os === "darwin") cmd = "open";
  else if (Deno.env.get("DISPLAY") || Deno.env.get("WAYLAND_DISPLAY")) {
    cmd = "xdg-open";
  }
  if (cmd === null) return;
  try {
    new Deno.Command(cmd, {
      args: [url],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn().unref();
  } catch {
    // no opener installed
  }
}
