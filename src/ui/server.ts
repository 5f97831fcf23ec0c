/**
 * The dashboard's HTTP side: the request checks (security.ts), the routes,
 * errors as pages or JSON, and the headers every answer carries. The
 * handler is a plain function (`Request` -> `Response`), so the benchmark
 * can time it in-process; {@linkcode serveUi} puts it on `Deno.serve`.
 * @module
 */
import { AmbiguousIdError, NotFoundError, StintError } from "../errors.ts";
import {
  ActionRefused,
  type ActionResult,
  actionToJson,
  killBackgroundRun,
  killRun,
  rerunRun,
} from "./actions.ts";
import { asset } from "./assets.ts";
import { html } from "./html.ts";
import { page } from "./layout.ts";
import {
  BadRequest,
  htmlResponse,
  jsonResponse,
  redirect,
  type UiRequest,
  wantsHtml,
} from "./request.ts";
import {
  checkAction,
  checkHost,
  checkToken,
  type Guard,
  securityHeaders,
  tokenCookie,
} from "./security.ts";

type Handler = (r: UiRequest, arg: string) => Response | Promise<Response>;

interface Route {
  method: "GET" | "POST";
  pattern: RegExp;
  handler: Handler;
}

/** Load a page module on first use: no page pays for another's imports. */
function lazy<M>(
  load: () => Promise<M>,
  pick: (m: M) => Handler,
): Handler {
  return async (r, arg) => pick(await load())(r, arg);
}

const runs = () => import("./pages/runs.ts");
const run = () => import("./pages/run.ts");
const tasks = () => import("./pages/tasks.ts");
const background = () => import("./pages/background.ts");
const hosts = () => import("./pages/hosts.ts");

const SEG = "([^/]+)";

const ROUTES: Route[] = [
  { method: "GET", pattern: /^\/$/, handler: () => redirect("/runs") },
  {
    method: "GET",
    pattern: /^\/runs$/,
    handler: lazy(runs, (m) => m.runsPage),
  },
  {
    method: "GET",
    pattern: /^\/api\/runs$/,
    handler: lazy(runs, (m) => m.runsApi),
  },
  {
    method: "GET",
    pattern: new RegExp(`^/runs/${SEG}$`),
    handler: lazy(run, (m) => m.runPage),
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/runs/${SEG}$`),
    handler: lazy(run, (m) => m.runApi),
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/runs/${SEG}/log$`),
    handler: lazy(run, (m) => m.runLogApi),
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/runs/${SEG}/events$`),
    handler: lazy(run, (m) => m.runEvents),
  },
  {
    method: "POST",
    pattern: new RegExp(`^/api/runs/${SEG}/kill$`),
    handler: action((r, id) => killRun(r.dbPath, id)),
  },
  {
    method: "POST",
    pattern: new RegExp(`^/api/runs/${SEG}/rerun$`),
    handler: action((r, id) => rerunRun(r.dbPath, id)),
  },
  {
    method: "GET",
    pattern: /^\/tasks$/,
    handler: lazy(tasks, (m) => m.tasksPage),
  },
  {
    method: "GET",
    pattern: /^\/api\/tasks$/,
    handler: lazy(tasks, (m) => m.tasksApi),
  },
  {
    method: "GET",
    pattern: new RegExp(`^/tasks/${SEG}$`),
    handler: lazy(tasks, (m) => m.taskPage),
  },
  {
    method: "GET",
    pattern: new RegExp(`^/api/tasks/${SEG}$`),
    handler: lazy(tasks, (m) => m.taskApi),
  },
  {
    method: "GET",
    pattern: /^\/background$/,
    handler: lazy(background, (m) => m.backgroundPage),
  },
  {
    method: "GET",
    pattern: /^\/api\/background$/,
    handler: lazy(background, (m) => m.backgroundApi),
  },
  {
    method: "POST",
    pattern: new RegExp(`^/api/background/${SEG}/kill$`),
    handler: action((r, id) => killBackgroundRun(r.dbPath, id)),
  },
  {
    method: "GET",
    pattern: /^\/hosts$/,
    handler: lazy(hosts, (m) => m.hostsPage),
  },
  {
    method: "GET",
    pattern: /^\/api\/hosts$/,
    handler: lazy(hosts, (m) => m.hostsApi),
  },
  {
    method: "GET",
    pattern: /^\/api\/hosts\/probes$/,
    handler: lazy(hosts, (m) => m.probesApi),
  },
  {
    method: "GET",
    pattern: new RegExp(`^/assets/${SEG}$`),
    handler: serveAsset,
  },
  {
    method: "GET",
    pattern: /^\/favicon\.ico$/,
    handler: () => redirect("/assets/icon.svg"),
  },
];

/**
 * An action route: checked for origin and action token, then run; answers
 * a form post with a redirect to the run, a script with JSON.
 */
function action(
  fn: (r: UiRequest, id: string) => Promise<ActionResult> | ActionResult,
): Handler {
  return async (r, id) => {
    const form = (r.req.headers.get("content-type") ?? "").includes("form")
      ? await r.req.formData().catch(() => null)
      : null;
    const token = r.req.headers.get("x-stint-action") ??
      (form?.get("action_token")?.toString() ?? null);
    const refused = checkAction(r.guard, r.req, {
      source: r.source,
      host: r.host,
      actionToken: token,
    });
    if (refused) return failure(r, refused.status, refused.reason);
    const result = await fn(r, id);
    if (wantsHtml(r.req)) {
      return redirect(
        result.executionId ? `/runs/${result.executionId}` : "/background",
      );
    }
    return jsonResponse(actionToJson(result));
  };
}

async function serveAsset(_r: UiRequest, name: string): Promise<Response> {
  const a = await asset(name);
  if (a === null) throw new NotFoundError(`No asset ${name}`);
  return new Response(a.body as BodyInit, {
    headers: {
      "content-type": a.type,
      "cache-control": "private, max-age=3600",
    },
  });
}

function failure(
  r: { req: Request; url: URL },
  status: number,
  message: string,
): Response {
  const api = r.url.pathname.startsWith("/api/") || !wantsHtml(r.req);
  if (api) return jsonResponse({ error: message, status }, status);
  return htmlResponse(
    page(
      { title: `${status}`, nav: "runs", dbPath: "", hostId: null },
      html`
        <section>
          <h1>${status}</h1>
          <p class="error">${message}</p>
          <p><a href="/runs">Runs</a></p>
        </section>
      `,
    ),
    status,
  );
}

/**
 * The dashboard's request handler for the store at `dbPath`. `completed`
 * (Deno.serve's `info.completed`) settles when the response has been
 * delivered or the client went away; live streams end then.
 */
export function createHandler(
  options: { dbPath: string; guard: Guard; stopping?: AbortSignal },
): (req: Request, completed?: Promise<void>) => Promise<Response> {
  const { dbPath, guard } = options;
  const stopping = options.stopping ?? new AbortController().signal;
  return async (req: Request, completed?: Promise<void>): Promise<Response> => {
    const started = performance.now();
    const res = await handle(req, {
      dbPath,
      guard,
      stopping,
      done: completed === undefined ? req.signal : settled(completed),
    });
    const headers = new Headers(res.headers);
    for (const [k, v] of Object.entries(securityHeaders())) headers.set(k, v);
    if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
    headers.set(
      "server-timing",
      `app;dur=${(performance.now() - started).toFixed(1)}`,
    );
    return new Response(res.body, {
      status: res.status,
      statusText: res.statusText,
      headers,
    });
  };
}

/**
 * A signal aborted once `completed` settles. Deno.serve's `request.signal`
 * would do, but reading it prints a deprecation warning on stint's stderr.
 */
function settled(completed: Promise<void>): AbortSignal {
  const ac = new AbortController();
  completed.then(() => ac.abort(), () => ac.abort());
  return ac.signal;
}

async function handle(
  req: Request,
  app: {
    dbPath: string;
    guard: Guard;
    stopping: AbortSignal;
    done: AbortSignal;
  },
): Promise<Response> {
  const { dbPath, guard } = app;
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    // Deno builds the URL from the Host header: "a b", a port of 99999.
    return new Response("The Host header is not a host name and port\n", {
      status: 400,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }
  const host = req.headers.get("host");
  const badHost = checkHost(guard, host);
  if (badHost) {
    return new Response(`${badHost.reason}\n`, {
      status: badHost.status,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }
  const auth = checkToken(guard, req, url);
  if ("refusal" in auth) {
    return failure({ req, url }, auth.refusal.status, auth.refusal.reason);
  }
  if (auth.source === "query" && req.method === "GET") {
    // First visit: keep the token in a cookie and drop it from the address.
    url.searchParams.delete("token");
    const res = redirect(`${url.pathname}${url.search}`);
    res.headers.set("set-cookie", tokenCookie(guard));
    return res;
  }
  const r: UiRequest = {
    req,
    url,
    dbPath,
    guard,
    source: auth.source,
    host: host!,
    signal: AbortSignal.any([app.done, app.stopping]),
  };
  let allowed: string[] = [];
  for (const route of ROUTES) {
    const m = url.pathname.match(route.pattern);
    if (!m) continue;
    if (route.method !== req.method) {
      allowed.push(route.method);
      continue;
    }
    try {
      return await route.handler(
        r,
        m[1] === undefined ? "" : decodeURIComponent(m[1]),
      );
    } catch (err) {
      return errorResponse(r, err);
    }
  }
  allowed = [...new Set(allowed)];
  if (allowed.length) {
    const res = failure(
      r,
      405,
      `Use ${allowed.join(" or ")} for ${url.pathname}`,
    );
    res.headers.set("allow", allowed.join(", "));
    return res;
  }
  return failure(r, 404, `Nothing at ${url.pathname}`);
}

function errorResponse(r: UiRequest, err: unknown): Response {
  if (err instanceof URIError) {
    return failure(r, 400, "The address is not valid");
  }
  if (err instanceof BadRequest) return failure(r, 400, err.message);
  if (err instanceof NotFoundError) return failure(r, 404, err.message);
  if (err instanceof AmbiguousIdError) return failure(r, 400, err.message);
  if (err instanceof ActionRefused) return failure(r, 409, err.message);
  if (err instanceof StintError) return failure(r, 500, err.message);
  if (Deno.env.get("STINT_DEBUG") === "1") console.error(err);
  const msg = err instanceof Error ? err.message.split("\n")[0] : String(err);
  return failure(r, 500, `Internal error: ${msg}`);
}

/** A running dashboard. */
export interface UiServer {
  /** The address to open (with the token). */
  url: string;
  port: number;
  /** Stop serving. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/**
 * Serve the dashboard for `dbPath` on `hostname:port` (0: any free port).
 * `hosts` are the names the Host header may carry besides loopback ones.
 */
export async function serveUi(options: {
  dbPath: string;
  hostname: string;
  port: number;
  token: string;
  hosts?: string[];
}): Promise<UiServer> {
  const { makeGuard } = await import("./security.ts");
  let handler:
    | ((req: Request, completed?: Promise<void>) => Promise<Response>)
    | null = null;
  const server = Deno.serve(
    {
      hostname: options.hostname,
      port: options.port,
      onListen: () => {},
      onError: () => new Response("Internal error\n", { status: 500 }),
    },
    (req, info) =>
      handler
        ? handler(req, info.completed)
        : new Response("Starting\n", { status: 503 }),
  );
  const addr = server.addr as Deno.NetAddr;
  const guard = await makeGuard(options.token, {
    port: addr.port,
    hosts: [
      "localhost",
      "127.0.0.1",
      "::1",
      options.hostname,
      ...(options.hosts ?? []),
    ],
  });
  const stopping = new AbortController();
  handler = createHandler({
    dbPath: options.dbPath,
    guard,
    stopping: stopping.signal,
  });
  const shown = options.hostname.includes(":")
    ? `[${options.hostname}]`
    : options.hostname;
  const urlHost = options.hostname === "0.0.0.0" || options.hostname === "::"
    ? "127.0.0.1"
    : shown;
  return {
    url: `http://${urlHost}:${addr.port}/?token=${options.token}`,
    port: addr.port,
    shutdown: () => {
      // Live streams last as long as their run: end them, or shutdown waits.
      stopping.abort();
      return server.shutdown();
    },
    finished: server.finished,
  };
}
