/**
 * Importing a module only when a command needs it, without Deno loading it
 * at start-up. Deno reads and analyses every module a string-literal
 * `import("...")` names (and their imports) before the program starts,
 * even if it is never run, so the write side behind `stint vars set` cost
 * each `stint vars get` a dozen files. A computed specifier is resolved
 * only when the import runs. For stint's own modules, by URL; an npm
 * package (the AWS SDK, the table library) is imported by its bare name
 * where it is used.
 * @module
 */

/**
 * Import `url` when called. Pass the module's type, so the caller stays
 * checked: `lazyImport<typeof import("./stdin.ts")>(new URL("./stdin.ts",
 * import.meta.url))`.
 */
export function lazyImport<M>(url: URL): Promise<M> {
  return import(url.href);
}
