/**
 * What a page handler gets, and the responses it returns.
 * @module
 */
import { StintError } from "../errors.ts";
import { hostId } from "../store/meta.ts";
import { readStore } from "../cli/read_store.ts";
import type { Html } from "./html.ts";
import type { Guard, TokenSource } from "./security.ts";
import type { Shell } from "./layout.ts";

/** One request, checked (host, token) and parsed. */
export interface UiRequest {
  req: Request;
  url: URL;
  /** The store file the dashboard reads. */
  dbPath: string;
  guard: Guard;
  /** How the token came (actions from scripts use a bearer). */
  source: TokenSource;
  /** The Host header as sent (for same-origin checks). */
  host: string;
  /** Aborted when the client goes away or the server stops (ends live streams). */
  signal: AbortSignal;
}

/** A request for a page or endpoint that the user got wrong (400). */
export class BadRequest extends StintError {
  /** Build one with a message for the page. */
  constructor(message: string) {
    super(message, { exitCode: 2 });
    this.name = "BadRequest";
  }
}

/**
 * Run `fn` on the store, or return `missing()` when there is no store file
 * yet (the dashboard never creates one). Like every stint reader it may
 * mark a dead `running` record `lost` as it reads (spec section 3).
 */
export const readUiStore = readStore;

/** The shell facts (store path, host id) for a page. */
export function shellFor(
  r: UiRequest,
  title: string,
  nav: Shell["nav"],
  host?: string | null,
): Shell {
  return { title, nav, dbPath: r.dbPath, hostId: host ?? null };
}

/** This store's host id, or null without a store. */
export function ownHost(dbPath: string): string | null {
  return readUiStore(dbPath, (db) => hostId(db), () => null);
}

/** An HTML response. */
export function htmlResponse(body: Html, status = 200): Response {
  return new Response(body.value, {
    status,
    headers: { "content-type": "text/html; charset=utf-8" },
  });
}

/** A JSON response (pretty, like the CLI's --json). */
export function jsonResponse(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

/** A 303 redirect to a path of this server. */
export function redirect(path: string): Response {
  return new Response(null, { status: 303, headers: { location: path } });
}

/** Whether the client asked for HTML (a form post) rather than JSON. */
export function wantsHtml(req: Request): boolean {
  return (req.headers.get("accept") ?? "").includes("text/html");
}
