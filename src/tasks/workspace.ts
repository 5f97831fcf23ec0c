/**
 * Workspace discovery as `deno task` does it (deno's config discovery):
 * from the start directory, every ancestor's config folder is read; the
 * nearest one is the start folder, and the first one with workspace members
 * (deno.json `workspace` or package.json `workspaces`) is the workspace
 * root. A start folder that the root lists as a member sees the root's tasks
 * too; one it does not list stands alone. Member globs follow deno's rules
 * (`*` and `?` only, case-insensitive, no leading dot, `!` excludes, the
 * last matching pattern wins, `node_modules` and `.git` never match).
 * @module
 */
import { type ConfigFolder, isFile, readFolder } from "./config.ts";
import { dirname, join, resolve } from "./path.ts";

/** What deno task would resolve tasks against. */
export interface Workspace {
  /** The folder whose tasks come first (the nearest config folder). */
  start: ConfigFolder;
  /** The workspace root, when `start` is one of its members (never `start` itself). */
  root: ConfigFolder | null;
  /** Why stint cannot be sure it read what deno reads; empty when it can. */
  problems: string[];
}

/**
 * Discover the workspace from directory `dir`, or from the config file
 * `configFile` (`deno task -c`). Null when no config exists up to the root
 * and stint is sure of it.
 */
export function discoverWorkspace(
  from: { dir: string } | { configFile: string },
): Workspace | null {
  const problems: string[] = [];
  let first: ConfigFolder | null = null;
  let startDir: string | null;
  if ("configFile" in from) {
    const path = resolve(from.configFile);
    const dir = dirname(path);
    const natural = readFolder(dir);
    if (natural && natural.denoPath === path) {
      first = natural;
    } else {
      // Another file than the folder's own config: deno loads it alone.
      const alone = readFolder(dir, { only: path });
      if (alone === null) {
        return { start: emptyFolder(dir), root: null, problems };
      }
      if (alone.problem) problems.push(alone.problem);
      return { start: alone, root: null, problems };
    }
    if (first.problem) problems.push(first.problem);
    if (hasMembers(first)) return rootAsStart(first, problems);
    startDir = dirname(dir) === dir ? null : dirname(dir);
  } else {
    startDir = stripNodeModules(resolve(from.dir));
  }
  const between: ConfigFolder[] = [];
  for (let dir = startDir; dir !== null; dir = parentOf(dir)) {
    const folder = readFolder(dir);
    if (folder === null) continue;
    if (folder.problem) problems.push(folder.problem);
    if (!hasMembers(folder)) {
      if (first === null) first = folder;
      else between.push(folder);
      continue;
    }
    if (first === null) return rootAsStart(folder, problems);
    const member = isMember(folder, first.dir, problems);
    if (member === null) return { start: first, root: null, problems };
    if (!member) return { start: first, root: null, problems };
    if (folder.denoMembers !== null) {
      for (const b of between) {
        if (isMember(folder, b.dir, problems) !== true) {
          problems.push(
            `${
              b.denoPath ?? b.pkgPath
            } lies between a member and its workspace root without being a member`,
          );
        }
      }
    }
    return { start: first, root: folder, problems };
  }
  return first === null ? null : { start: first, root: null, problems };
}

function rootAsStart(folder: ConfigFolder, problems: string[]): Workspace {
  return { start: folder, root: null, problems };
}

function hasMembers(f: ConfigFolder): boolean {
  return f.denoMembers !== null || f.npmMembers !== null;
}

function emptyFolder(dir: string): ConfigFolder {
  return {
    dir,
    denoPath: null,
    pkgPath: null,
    name: null,
    tasks: [],
    denoMembers: null,
    npmMembers: null,
    problem: null,
  };
}

/**
 * Whether workspace root `root` lists `dir` as a member: true, false, or
 * null when stint cannot tell (a member pattern it does not model; the
 * problem is noted).
 */
export function isMember(
  root: ConfigFolder,
  dir: string,
  problems: string[],
): boolean | null {
  if (
    dir === root.dir ||
    !dir.startsWith(root.dir.endsWith("/") ? root.dir : `${root.dir}/`)
  ) {
    return false;
  }
  const rel = dir.slice(root.dir.length).replace(/^\/+/, "");
  const lists: [string[] | null, string[]][] = [
    [root.denoMembers, ["deno.json", "deno.jsonc", "package.json"]],
    // npm workspaces find package.json members only.
    [root.npmMembers, ["package.json"]],
  ];
  let unsure = false;
  for (const [members, files] of lists) {
    if (members === null) continue;
    const patterns: { negated: boolean; parts: string[] }[] = [];
    for (const raw of members) {
      const negated = raw.startsWith("!");
      const body = negated ? raw.slice(1) : raw;
      if (!negated && !/[*?]/.test(body)) {
        if (normalizeRel(body) === rel) {
          if (
            members === root.npmMembers && !isFile(join(dir, "package.json"))
          ) {
            // deno refuses that member (no package.json); it says why.
            problems.push(`npm workspace member ${dir} has no package.json`);
            unsure = true;
            continue;
          }
          return true;
        }
        continue;
      }
      const norm = normalizeRel(body);
      if (norm === null) {
        problems.push(
          `workspace member pattern "${raw}" is not modelled by stint`,
        );
        unsure = true;
        continue;
      }
      patterns.push({ negated, parts: norm.split("/") });
    }
    if (patterns.length === 0) continue;
    const relParts = rel.split("/");
    if (relParts.some((p) => p === "node_modules" || p === ".git")) continue;
    for (const file of files) {
      if (!isFile(join(dir, file))) continue;
      const target = [...relParts, file];
      for (let i = patterns.length - 1; i >= 0; i--) {
        const p = patterns[i];
        if (!globMatch([...p.parts, file], target)) continue;
        if (!p.negated) return true;
        break;
      }
    }
  }
  return unsure ? null : false;
}

/** `./a/b/` → `a/b`; null for anything that leaves the root (`..`, absolute). */
function normalizeRel(p: string): string | null {
  if (p.startsWith("/")) return null;
  const parts: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") return null;
    parts.push(part);
  }
  return parts.join("/");
}

/** Segment-wise glob match: `**` spans segments, `*` and `?` stay within one. */
export function globMatch(pattern: string[], path: string[]): boolean {
  if (pattern.length === 0) return path.length === 0;
  const [head, ...rest] = pattern;
  if (head === "**") {
    for (let i = 0; i <= path.length; i++) {
      if (i > 0 && path[i - 1].startsWith(".")) return false;
      if (globMatch(rest, path.slice(i))) return true;
    }
    return false;
  }
  if (path.length === 0) return false;
  return segmentMatch(head, path[0]) && globMatch(rest, path.slice(1));
}

function segmentMatch(pattern: string, name: string): boolean {
  // A leading dot must be matched literally (hidden entries), as in sh.
  if (name.startsWith(".") && !pattern.startsWith(".")) return false;
  const source = pattern.toLowerCase().split("").map((c) =>
    c === "*"
      ? "[^/]*"
      : c === "?"
      ? "[^/]"
      : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")
  ).join("");
  return new RegExp(`^${source}$`).test(name.toLowerCase());
}

function parentOf(dir: string): string | null {
  const parent = dirname(dir);
  return parent === dir ? null : parent;
}

/** deno does not discover configs inside node_modules: start above it. */
function stripNodeModules(dir: string): string {
  const i = dir.split("/").indexOf("node_modules");
  if (i === -1) return dir;
  return dir.split("/").slice(0, i).join("/") || "/";
}
