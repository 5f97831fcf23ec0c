/**
 * Large stores for benchmarks, generated in SQL (one transaction) so a
 * million rows take seconds, not minutes.
 * @module
 */
import { join } from "node:path";
import { hostId, withStore } from "../src/store/mod.ts";

/**
 * Create a store at `<dir>/big.db` with `rows` executions spread over 100
 * refs (`bench:task-0` … `bench:task-99`), a day apart per 1,000 rows.
 */
export function makeBigStore(dir: string, rows: number): string {
  const db = join(dir, "big.db");
  withStore(db, (conn) => {
    const host = hostId(conn);
    conn.exec("BEGIN IMMEDIATE");
    conn.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
       INSERT INTO executions (id, ref, project_dir, task, command, args, started_at, completed_at,
         duration_ms, status, exit_code, host_id, origin, seq, updated_at, log_id)
       SELECT printf('%08x-0000-7000-8000-%012x', i / 1000, i), 'bench:task-' || (i % 100), '/p',
         'task-' || (i % 100), 'deno task x', '[]', 1700000000000 + i * 60000,
         1700000000000 + i * 60000 + 1234, 1234 + (i % 500),
         CASE WHEN i % 17 = 0 THEN 'failed' ELSE 'succeeded' END,
         CASE WHEN i % 17 = 0 THEN 1 ELSE 0 END, ?, ?, i + 1, 1700000000000 + i * 60000,
         printf('%08x-0000-7000-8000-%012x', i / 1000, i)
       FROM n`,
    ).run(rows, host, host);
    conn.prepare("UPDATE meta SET value = ? WHERE key = 'seq'").run(
      String(rows),
    );
    conn.exec("COMMIT");
  });
  return db;
}
