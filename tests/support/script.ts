/**
 * script(1) (util-linux) gives a child a pseudo-terminal: tests of what a
 * command prints on a terminal use it, and are ignored where it is missing.
 * @module
 */

/** Whether script(1) is installed. */
export const HAS_SCRIPT: boolean = (() => {
  try {
    new Deno.Command("script", { args: ["--version"], stdout: "null" })
      .outputSync();
    return true;
  } catch {
    return false;
  }
})();
