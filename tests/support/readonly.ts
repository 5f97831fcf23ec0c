/**
 * Read-only files and directories for drills, even when tests run as root
 * (CI does): root ignores mode bits, so `chattr +i` is used there.
 * @module
 */

/**
 * Make `paths` unwritable even for root (`chattr +i`), or by mode bits when
 * not root. Returns the undo, or null when neither works here.
 */
export async function makeReadOnly(
  paths: string[],
): Promise<(() => Promise<void>) | null> {
  const root = Deno.uid() === 0;
  if (root) {
    const out = await new Deno.Command("chattr", {
      args: ["+i", ...paths],
      stderr: "piped",
    }).output().catch(() => null);
    if (!out?.success) {
      console.warn(
        "cannot chattr +i here (running as root): read-only case not checked",
      );
      return null;
    }
    return async () => {
      await new Deno.Command("chattr", { args: ["-i", ...paths] }).output();
    };
  }
  const modes = paths.map((p) => Deno.statSync(p).mode ?? 0o600);
  for (const p of paths) {
    Deno.chmodSync(p, Deno.statSync(p).isDirectory ? 0o500 : 0o400);
  }
  return () => {
    paths.forEach((p, i) => Deno.chmodSync(p, modes[i] & 0o7777));
    return Promise.resolve();
  };
}
