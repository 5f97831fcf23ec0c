/**
 * The dashboard's request checks, in the order the server applies them:
 * 1. the `Host` header must name this server (a DNS-rebinding page gets 421);
 * 2. the token: from the cookie, `?token=` (first visit: it becomes an
 *    HttpOnly SameSite=Strict cookie) or `Authorization: Bearer` (scripts);
 *    none is 401, a wrong one 403;
 * 3. actions (POST) must come from this origin (`Sec-Fetch-Site`, else
 *    `Origin`) and carry the action token, an HMAC of the token that pages
 *    embed in their forms and that is good for nothing else.
 * @module
 */

/** What the checks need to know about the server. */
export interface Guard {
  /** The secret in the URL. */
  token: string;
  /** The action token pages embed (derived from `token`). */
  actionToken: string;
  /** Host names (without port) the `Host` header may carry. */
  hosts: Set<string>;
  /** The port the server listens on. */
  port: number;
  /** The cookie carrying the token (one per port: cookies ignore ports). */
  cookie: string;
}

/** A fresh random token (256 bits, base64url). */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(
    /\//g,
    "_",
  ).replace(/=+$/, "");
}

/** Build the guard for a server on `port` with `token`. */
export async function makeGuard(
  token: string,
  options: { port: number; hosts: Iterable<string> },
): Promise<Guard> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(token),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(
    await crypto.subtle.sign(
      "HMAC",
      key,
      new TextEncoder().encode("stint-ui-action"),
    ),
  );
  return {
    token,
    actionToken: [...mac].map((b) => b.toString(16).padStart(2, "0")).join(""),
    hosts: new Set([...options.hosts].map((h) => h.toLowerCase())),
    port: options.port,
    cookie: `stint_ui_${options.port}`,
  };
}

/** Whether `a` equals `b`, in time that does not depend on where they differ. */
export function safeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  }
  return diff === 0;
}

/** Whether `host` is a loopback name or address. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * Split a `Host` header into name and port (`[::1]:8080`, `a.b:80`, `a.b`);
 * null when it is not one.
 */
export function parseHostHeader(
  value: string,
): { name: string; port: number | null } | null {
  const m = value.match(/^(\[[0-9a-fA-F:.]+\]|[^:\[\]\s]+)(?::(\d{1,5}))?$/);
  if (!m) return null;
  return {
    name: m[1].replace(/^\[|\]$/g, "").toLowerCase(),
    port: m[2] === undefined ? null : Number(m[2]),
  };
}

/** The outcome of a check: null to go on, or the status and reason to refuse with. */
export type Refusal = { status: number; reason: string } | null;

/** Check the `Host` header (DNS rebinding: a foreign name gets 421). */
export function checkHost(guard: Guard, host: string | null): Refusal {
  if (host === null || host === "") {
    return { status: 400, reason: "The request has no Host header" };
  }
  const h = parseHostHeader(host);
  if (h === null) return { status: 400, reason: "The Host header is invalid" };
  if (!guard.hosts.has(h.name) || (h.port ?? 80) !== guard.port) {
    return {
      status: 421,
      reason:
        `This server answers only to its own address, not to Host "${host}"`,
    };
  }
  return null;
}

/** Where a request's token came from. */
export type TokenSource = "cookie" | "query" | "bearer";

/** Find and check the token; returns its source, or a refusal. */
export function checkToken(
  guard: Guard,
  req: Request,
  url: URL,
): { source: TokenSource } | { refusal: NonNullable<Refusal> } {
  const candidates: [TokenSource, string | null][] = [
    ["query", url.searchParams.get("token")],
    ["bearer", bearer(req.headers.get("authorization"))],
    ["cookie", readCookie(req.headers.get("cookie"), guard.cookie)],
  ];
  let wrong = false;
  for (const [source, value] of candidates) {
    if (value === null) continue;
    if (safeEqual(value, guard.token)) return { source };
    wrong = true;
  }
  return {
    refusal: wrong
      ? {
        status: 403,
        reason:
          "The token is wrong (a stint ui that was restarted has a new one); open the URL stint ui printed",
      }
      : {
        status: 401,
        reason:
          "This dashboard needs its token; open the URL stint ui printed (it carries ?token=...)",
      },
  };
}

function bearer(value: string | null): string | null {
  const m = value?.match(/^Bearer\s+(\S+)$/i);
  return m ? m[1] : null;
}

/** The value of cookie `name` in a `Cookie` header, or null. */
export function readCookie(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** The `Set-Cookie` value that keeps the token for later requests. */
export function tokenCookie(guard: Guard): string {
  return `${guard.cookie}=${guard.token}; Path=/; HttpOnly; SameSite=Strict`;
}

/**
 * Check that a POST comes from a page of this server: `Sec-Fetch-Site`
 * must be `same-origin`, else `Origin` must be this server's. A request with neither is a script, not a browser, and
 * is allowed only with a bearer token. Cookie-authenticated actions must
 * also carry the action token (form field or `X-Stint-Action`).
 */
export function checkAction(
  guard: Guard,
  req: Request,
  options: { source: TokenSource; host: string; actionToken: string | null },
): Refusal {
  const site = req.headers.get("sec-fetch-site");
  const origin = req.headers.get("origin");
  const own = `http://${options.host}`;
  if (site !== null) {
    if (site !== "same-origin") {
      return {
        status: 403,
        reason:
          `Actions must come from this dashboard (Sec-Fetch-Site: ${site})`,
      };
    }
  } else if (origin !== null) {
    if (origin !== own) {
      return {
        status: 403,
        reason: `Actions must come from this dashboard, not from ${origin}`,
      };
    }
  } else if (options.source !== "bearer") {
    return {
      status: 403,
      reason:
        "Actions need a same-origin request (Origin or Sec-Fetch-Site), or the token as a bearer",
    };
  }
  // A browser sends "Origin: null" where the referrer policy hides it;
  // Sec-Fetch-Site then says where the request came from.
  if (
    origin !== null && origin !== own && !(site !== null && origin === "null")
  ) {
    return {
      status: 403,
      reason: `Actions must come from this dashboard, not from ${origin}`,
    };
  }
  if (options.source === "bearer") return null;
  if (
    options.actionToken === null ||
    !safeEqual(options.actionToken, guard.actionToken)
  ) {
    return {
      status: 403,
      reason: "The action token is missing or wrong; reload the page",
    };
  }
  return null;
}

/** The Content-Security-Policy of every response. */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Headers every response carries. */
export function securityHeaders(): Record<string, string> {
  return {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
  };
}
