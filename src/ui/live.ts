/**
 * Live following of a running run's log over Server-Sent Events. The
 * stream polls the log file (150 ms) and the record (every 600 ms), sends
 * `log` events (`{html, partial}`: complete lines rendered and escaped, and
 * the line still being written), and one `end` event with the finished
 * record once it is no longer running, after reading the file to its end.
 * Each `log` event's id is `<offset>:<sgr state>`, so a reconnecting
 * EventSource (`Last-Event-ID`) resumes exactly where it was.
 * @module
 */
import { sleep } from "../runner/process_group.ts";
import {
  type Execution,
  executionToJson,
  getExecutionExact,
  reconcileExecutions,
} from "../store/executions.ts";
import { decodeState, encodeState } from "./ansi.ts";
import { LogChunker, logFile, readLogFrom } from "./log_view.ts";
import { readUiStore } from "./request.ts";

const POLL_MS = 150;
const RECORD_EVERY = 4;
const PING_MS = 15_000;

/** Where a stream starts: from `?offset=&state=`, or the `Last-Event-ID`. */
export function streamStart(
  req: Request,
  url: URL,
): { offset: number; state: string } {
  const last = req.headers.get("last-event-id")?.match(
    /^(\d{1,15}):([\d.]{0,12})$/,
  );
  if (last) return { offset: Number(last[1]), state: last[2] };
  const offset = Number(url.searchParams.get("offset") ?? 0);
  return {
    offset: Number.isSafeInteger(offset) && offset >= 0 ? offset : 0,
    state: url.searchParams.get("state") ?? "",
  };
}

function readRecord(dbPath: string, id: string): Execution | undefined {
  return readUiStore(dbPath, (db) => {
    reconcileExecutions(db);
    return getExecutionExact(db, id);
  }, () => undefined);
}

/** The SSE response following execution `e` from `start`. */
export function followRun(
  dbPath: string,
  e: Execution,
  start: { offset: number; state: string },
  signal: AbortSignal,
): Response {
  const path = logFile(dbPath, e.logId);
  const enc = new TextEncoder();
  const chunker = new LogChunker(start.offset, decodeState(start.state));
  let next = start.offset;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    cancel() {
      cancelled = true;
    },
    async start(controller) {
      const send = (text: string) => {
        if (!signal.aborted && !cancelled) {
          controller.enqueue(enc.encode(text));
        }
      };
      const sendLog = async (): Promise<void> => {
        if (path === null) return;
        for (;;) {
          const bytes = await readLogFrom(path, next);
          if (bytes === null || bytes.length === 0) return;
          next += bytes.length;
          const out = chunker.push(bytes);
          send(
            `id: ${chunker.resume}:${
              encodeState(chunker.state)
            }\nevent: log\ndata: ${JSON.stringify(out)}\n\n`,
          );
        }
      };
      send("retry: 1000\n\n");
      let tick = 0;
      let lastPing = Date.now();
      try {
        while (!signal.aborted && !cancelled) {
          const checkRecord = tick++ % RECORD_EVERY === 0;
          // The record first, then the file: nothing written before the end is missed.
          const record = checkRecord ? readRecord(dbPath, e.id) : null;
          await sendLog();
          if (record !== null && (!record || record.status !== "running")) {
            send(
              `event: end\ndata: ${
                JSON.stringify(record ? executionToJson(record) : null)
              }\n\n`,
            );
            break;
          }
          if (Date.now() - lastPing > PING_MS) {
            send(": ping\n\n");
            lastPing = Date.now();
          }
          await sleep(POLL_MS);
        }
      } catch (err) {
        send(
          `event: failure\ndata: ${
            JSON.stringify({
              message: (err as Error).message?.split("\n")[0] ?? String(err),
            })
          }\n\n`,
        );
      } finally {
        try {
          controller.close();
        } catch {
          // the client went away
        }
      }
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
}
