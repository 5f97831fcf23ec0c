/**
 * The baseline for the `cache get` benchmark: a bare `deno run` script that
 * opens the same SQLite file, reads one live cache entry and writes its
 * bytes. Usage: `deno run -A cache_baseline.ts <db> <key>`.
 * @module
 */
import { DatabaseSync } from "node:sqlite";

const [path, key] = Deno.args;
const db = new DatabaseSync(path, { timeout: 5000 });
const row = db.prepare(
  "SELECT value FROM cache WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
).get(key, Date.now());
db.close();
if (!row) Deno.exit(1);
Deno.stdout.writeSync(row.value as Uint8Array);
