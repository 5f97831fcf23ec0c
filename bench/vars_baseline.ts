/**
 * The baseline for the `vars get` benchmark: a bare `deno run` script that
 * opens the same SQLite file, reads one var and prints it. Usage:
 * `deno run -A vars_baseline.ts <db> <key>`.
 * @module
 */
import { DatabaseSync } from "node:sqlite";

const [path, key] = Deno.args;
const db = new DatabaseSync(path, { timeout: 5000 });
const row = db.prepare(
  "SELECT value FROM vars WHERE scope_id = 'root' AND key = ?",
).get(key);
db.close();
if (!row) Deno.exit(1);
Deno.stdout.writeSync(new TextEncoder().encode(`${row.value}\n`));
