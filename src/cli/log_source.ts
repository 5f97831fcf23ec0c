/**
 * Where a run's log bytes come from: the local log file (`logPath`). A log
 * another host archived to the bucket is fetched into that file first
 * (`fetchRemoteLog`), so every reader here sees one source.
 * @module
 */
import { StintError } from "../errors.ts";
import { describeFsError, logPath } from "../store/paths.ts";

/**
 * The whole log of `logId`, byte-exact, or null when this machine has no
 * such log file.
 */
export async function readLogBytes(
  dbPath: string,
  logId: string,
): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(logPath(dbPath, logId));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new StintError(
      `Cannot read the log ${logPath(dbPath, logId)}: ${describeFsError(err)}`,
    );
  }
}

/**
 * Read the bytes of the local log file of `logId` from `offset` to its
 * current end (for --follow), or null while the file does not exist yet.
 */
export async function readLogFrom(
  dbPath: string,
  logId: string,
  offset: number,
): Promise<Uint8Array | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(logPath(dbPath, logId), { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new StintError(
      `Cannot read the log ${logPath(dbPath, logId)}: ${describeFsError(err)}`,
    );
  }
  try {
    const size = (await file.stat()).size;
    if (size <= offset) return new Uint8Array(0);
    await file.seek(offset, Deno.SeekMode.Start);
    const out = new Uint8Array(size - offset);
    let got = 0;
    while (got < out.length) {
      const n = await file.read(out.subarray(got));
      if (n === null) break;
      got += n;
    }
    return out.subarray(0, got);
  } finally {
    file.close();
  }
}

/**
 * The local log file of `logId` opened for reading (the caller closes it,
 * or consumes `readable`, which closes it), or null when there is none.
 * Streaming keeps `stint logs` on a multi-gigabyte log at constant memory.
 */
export async function openLog(
  dbPath: string,
  logId: string,
): Promise<Deno.FsFile | null> {
  try {
    return await Deno.open(logPath(dbPath, logId), { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new StintError(
      `Cannot read the log ${logPath(dbPath, logId)}: ${describeFsError(err)}`,
    );
  }
}
