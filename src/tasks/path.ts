/**
 * The few path operations discovery needs, without `node:path`: importing
 * any `node:` module costs several milliseconds of start-up, and discovery
 * sits on the path of every `stint run`.
 * @module
 */

const SEP = Deno.build.os === "windows" ? /[\\/]+/ : /\/+/;
const SEP_CHAR = Deno.build.os === "windows" ? "\\" : "/";

/** Whether `p` is absolute (`/x`, or `C:\x` / `\\server` on Windows). */
export function isAbsolute(p: string): boolean {
  if (Deno.build.os === "windows") return /^([a-zA-Z]:)?[\\/]/.test(p);
  return p.startsWith("/");
}

/** `p` made absolute against the current directory, with `.` and `..` resolved. */
export function resolve(p: string): string {
  const abs = isAbsolute(p) ? p : `${Deno.cwd()}${SEP_CHAR}${p}`;
  const root = rootOf(abs);
  const parts: string[] = [];
  for (const part of abs.slice(root.length).split(SEP)) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return root + parts.join(SEP_CHAR);
}

/** The parent directory of an absolute, resolved path (the root is its own parent). */
export function dirname(p: string): string {
  const root = rootOf(p);
  const rest = p.slice(root.length);
  const i = Math.max(rest.lastIndexOf("/"), rest.lastIndexOf(SEP_CHAR));
  return i <= 0 ? root || "." : root + rest.slice(0, i);
}

/** The last component of a path. */
export function basename(p: string): string {
  const parts = p.split(SEP).filter((x) => x !== "");
  return parts[parts.length - 1] ?? "";
}

/** `dir` and `name` joined with one separator. */
export function join(dir: string, name: string): string {
  return dir.endsWith("/") || dir.endsWith(SEP_CHAR)
    ? dir + name
    : dir + SEP_CHAR + name;
}

function rootOf(p: string): string {
  if (Deno.build.os === "windows") {
    return p.match(/^([a-zA-Z]:)?[\\/]/)?.[0] ?? "";
  }
  return p.startsWith("/") ? "/" : "";
}
