/**
 * Clock skew for tests: libfaketime (Debian `faketime`) runs a stint process
 * with its clock moved, and works with Deno. Tests that need it are ignored,
 * with a name that says so, where it is not installed.
 * @module
 */

/** Whether `faketime` is installed. */
export const HAS_FAKETIME: boolean = (() => {
  try {
    return new Deno.Command("faketime", {
      args: ["-f", "+0", "true"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
})();

/** The `wrap` option that runs a stint process with its clock `offset` away (`+1h`, `-5m`). */
export function skewedBy(offset: string): string[] {
  return ["faketime", "-f", offset];
}
