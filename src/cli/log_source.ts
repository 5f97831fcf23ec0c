/**
 * Where a run's log bytes come from: the local log file (`logPath`). A log
 * another host archived to the bucket is fetched into that file first
 * (`fetchRemoteLog`), so every reader here sees one source.
 * @module
 */
import { StintError } from "../errors.ts";
import { describeFsError, logPath } from "../store/paths.ts";

/** The most a follow reads (and holds) at once. */
export const FOLLOW_CHUNK_BYTES = 1024 * 1024;

/**
 * The bytes of the local log file of `logId` from `offset`, at most `max`
 * of them (so following a multi-gigabyte log holds a chunk, not the log),
 * or null while the file does not exist yet. With `into`, they are read
 * into it (and returned as a view of it) rather than a new buffer.
 */
export async function readLogFrom(
  dbPath: string,
  logId: string,
  offset: number,
  max: number = FOLLOW_CHUNK_BYTES,
  into?: Uint8Array,
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
    const want = Math.min(max, size - offset);
    const out = into && into.length >= want
      ? into.subarray(0, want)
      : new Uint8Array(want);
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
