/**
 * Static assets, all served by this server (the dashboard works offline):
 * our stylesheet and scripts from src/ui/static/, the ANSI colour classes,
 * and uPlot from its npm package (resolved in node_modules / Deno's npm
 * cache, never a CDN). Read once, then kept in memory.
 * @module
 */
import { createRequire } from "node:module";
import { ansiCss } from "./ansi.ts";

/** One asset: its bytes and type. */
export interface Asset {
  body: Uint8Array;
  type: string;
}

const cache = new Map<string, Promise<Asset | null>>();

const OURS: Record<string, string> = {
  "app.css": "text/css; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "chart.js": "text/javascript; charset=utf-8",
  "icon.svg": "image/svg+xml",
};

const UPLOT: Record<string, [string, string]> = {
  "uplot.js": [
    "uplot/dist/uPlot.iife.min.js",
    "text/javascript; charset=utf-8",
  ],
  "uplot.css": ["uplot/dist/uPlot.min.css", "text/css; charset=utf-8"],
};

/** The asset called `name`, or null when there is none. */
export function asset(name: string): Promise<Asset | null> {
  let found = cache.get(name);
  if (!found) {
    found = load(name).catch((err) => {
      cache.delete(name);
      throw err;
    });
    cache.set(name, found);
  }
  return found;
}

async function load(name: string): Promise<Asset | null> {
  const enc = new TextEncoder();
  if (name in OURS) {
    let body = await readOwn(name);
    if (name === "app.css") {
      body = new Uint8Array([...body, ...enc.encode(`\n${ansiCss()}\n`)]);
    }
    return { body, type: OURS[name] };
  }
  if (name in UPLOT) {
    const [spec, type] = UPLOT[name];
    return { body: await Deno.readFile(await resolveNpm(spec)), type };
  }
  return null;
}

async function readOwn(name: string): Promise<Uint8Array> {
  const url = new URL(`./static/${name}`, import.meta.url);
  if (url.protocol === "file:") return await Deno.readFile(url);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`Cannot load ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * The file of an npm package path. The package is in deno.json's imports;
 * importing it once makes Deno fetch it when it is not installed yet (its
 * module only touches the DOM when there is one).
 */
async function resolveNpm(spec: string): Promise<string> {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve(spec);
  } catch {
    await import("uplot");
    return require.resolve(spec);
  }
}
