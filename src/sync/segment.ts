/**
 * The segment codec: gzip NDJSON, a header line (host, seq range, record
 * count, schema) and then one change record per line.
 * @module
 */
import { gunzipSync, gzipSync } from "node:zlib";
import type { ChangeRecord } from "../store/replication/changelog.ts";
import { SCHEMA_VERSION } from "../store/schema.ts";
import { BucketError } from "./bucket.ts";

/** The most a segment may inflate to (about V8's longest string). */
export const MAX_SEGMENT_BYTES = 512 * 1024 * 1024;

/** gzip NDJSON: a header line, then one record per line. */
export function encodeSegment(
  host: string,
  from: number,
  to: number,
  records: ChangeRecord[],
): Uint8Array {
  const lines = [
    JSON.stringify({
      stint: "segment",
      version: 1,
      schema: SCHEMA_VERSION,
      host,
      from,
      to,
      count: records.length,
    }),
  ];
  for (const r of records) lines.push(JSON.stringify(r));
  return gzipSync(new TextEncoder().encode(lines.join("\n") + "\n"));
}

/** Decode and check a segment; a bad one is a `corrupt` BucketError. */
export function decodeSegment(
  body: Uint8Array,
  host: string,
  seg: { key: string; from: number; to: number },
): ChangeRecord[] {
  const bad = (why: string) =>
    new BucketError(
      "corrupt",
      `Segment ${seg.key} is corrupt (${why}); skipped`,
      { operation: "get", key: seg.key, code: "BadSegment" },
    );
  let text: string;
  try {
    // A segment is decoded into one string, which cannot be longer than
    // this anyway; a bigger one is a gzip bomb and must not be inflated.
    text = new TextDecoder("utf-8", { fatal: true }).decode(
      gunzipSync(body, { maxOutputLength: MAX_SEGMENT_BYTES }),
    );
  } catch (err) {
    throw bad(
      err instanceof RangeError
        ? `it inflates past ${MAX_SEGMENT_BYTES / 1024 / 1024} MiB`
        : "not valid gzip",
    );
  }
  const lines = text.split("\n").filter((l) => l.length > 0);
  let header: Record<string, unknown>;
  const records: ChangeRecord[] = [];
  try {
    header = JSON.parse(lines[0] ?? "");
    for (let i = 1; i < lines.length; i++) records.push(JSON.parse(lines[i]));
  } catch {
    throw bad("not valid NDJSON");
  }
  if (
    header?.stint !== "segment" || header.host !== host ||
    header.from !== seg.from || header.to !== seg.to ||
    header.count !== records.length
  ) {
    throw bad("its header does not match its key");
  }
  // A host only ever writes its own rows: anything else is not trusted.
  return records.filter((r) =>
    r && typeof r === "object" && r.origin === host &&
    typeof r.seq === "number" && r.seq >= seg.from && r.seq <= seg.to
  );
}
