/**
 * Printing and following a run's log file as its bytes arrive.
 * @module
 */
import { sleep } from "./process_group.ts";

/**
 * Copy the file at `path` to `write`, and with `follow` keep copying new
 * bytes until `isRunning()` turns false (checked before the last read, so
 * nothing written before the run ended is missed). Returns the bytes copied.
 */
export async function copyLog(
  path: string,
  options: {
    write: (bytes: Uint8Array) => void;
    follow?: boolean;
    isRunning?: () => boolean;
    intervalMs?: number;
  },
): Promise<number> {
  const file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  const drainOnce = (): void => {
    for (;;) {
      const n = file.readSync(buf);
      if (n === null || n === 0) return;
      options.write(buf.subarray(0, n));
      total += n;
    }
  };
  try {
    drainOnce();
    if (!options.follow) return total;
    for (;;) {
      const running = options.isRunning ? options.isRunning() : false;
      drainOnce();
      if (!running) return total;
      await sleep(options.intervalMs ?? 150);
    }
  } finally {
    file.close();
  }
}
