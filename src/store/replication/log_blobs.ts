/**
 * The log-blob table: which content-addressed blob (`logs/<sha256>.gz` in
 * the bucket) holds each run's log, so a log is hashed and uploaded once and
 * a run from another host can fetch its log.
 * @module
 */
import type { Database } from "../sqlite.ts";

/** A lower-case SHA-256 in hex, as blob names use it. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Record that `logId`'s content is the blob `sha256` of `size` bytes, in the bucket. */
export function recordLogBlob(
  db: Database,
  logId: string,
  blob: { sha256: string; size: number },
): void {
  db.prepare(
    `INSERT INTO log_blobs (log_id, sha256, size, uploaded) VALUES (?, ?, ?, 1)
     ON CONFLICT(log_id) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, uploaded = 1`,
  ).run(logId, blob.sha256, blob.size);
}

/** The blob holding `logId`'s log, when one is known and well-formed. */
export function logBlobOf(
  db: Database,
  logId: string,
): { sha256: string; size: number } | null {
  const row = db.prepare("SELECT sha256, size FROM log_blobs WHERE log_id = ?")
    .get(logId);
  if (!row || !SHA256_HEX.test(String(row.sha256))) return null;
  return { sha256: String(row.sha256), size: Number(row.size) };
}

/**
 * The log ids of `host`'s finished runs changed after seq `after` that have
 * no blob yet (their log may still have to be uploaded).
 */
export function logsWithoutBlob(
  db: Database,
  host: string,
  after: number,
): string[] {
  return db.prepare(
    `SELECT DISTINCT t.log_id FROM (
       SELECT log_id, status FROM executions WHERE origin = ? AND seq > ?
       UNION ALL SELECT log_id, status FROM background_runs WHERE origin = ? AND seq > ?
     ) t LEFT JOIN log_blobs b ON b.log_id = t.log_id
     WHERE t.log_id IS NOT NULL AND t.status != 'running' AND b.log_id IS NULL`,
  ).all(host, after, host, after).map((r) => String(r.log_id));
}

/**
 * Of `shas`, the blobs a run in this store still names (an execution or a
 * background run whose log it holds): one index seek per hash. A blob row
 * left by a deleted run names nothing.
 */
export function referencedBlobs(db: Database, shas: string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < shas.length; i += 500) {
    const part = shas.slice(i, i + 500);
    const rows = db.prepare(
      `SELECT DISTINCT b.sha256 FROM log_blobs b
       WHERE b.sha256 IN (${part.map(() => "?").join(", ")})
         AND (EXISTS (SELECT 1 FROM executions e WHERE e.id = b.log_id)
           OR EXISTS (SELECT 1 FROM background_runs g WHERE g.log_id = b.log_id))`,
    ).all(...part);
    for (const r of rows) out.add(String(r.sha256));
  }
  return out;
}
