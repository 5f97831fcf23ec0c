/**
 * Snapshots: every replicated row one host owns, as a real SQLite file with
 * stint's schema (no secondary indexes, rollback journal, so it is one file
 * that `sqlite3` opens). This module builds them, checks downloaded ones,
 * cleans them of rows their host may not claim, and merges them into a store.
 * @module
 */
import { BUSY_TIMEOUT_MS, withStore } from "../open.ts";
import { currentSeq } from "../meta.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "../schema.ts";
import { type Database, openSqlite } from "../sqlite.ts";
import { MAX_KEY_BYTES } from "../validate.ts";
import { applyRecordsInTransaction } from "./apply.ts";
import { observeStamp } from "./clock.ts";
import type { ChangeRecord } from "./changelog.ts";
import { columnsOf, REPLICATED, type TableSpec } from "./tables.ts";

/** SQL that drops every secondary index of `db`'s main schema. */
export function dropIndexesSql(db: Database): string {
  return db.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
  ).all().map((r) => `DROP INDEX IF EXISTS "${String(r.name)}";`).join("\n");
}

/**
 * Write every row `host` owns into a fresh SQLite file at `tmp`. Returns the
 * seq it covers. The rows and the seq come from one read snapshot of the store.
 */
export function buildSnapshot(
  dbPath: string,
  tmp: string,
  host: string,
): number {
  const snap = openSqlite(tmp, { timeoutMs: BUSY_TIMEOUT_MS });
  try {
    snap.exec("PRAGMA journal_mode = DELETE");
    for (const m of MIGRATIONS) snap.exec(m);
    snap.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    snap.exec(dropIndexesSql(snap));
  } finally {
    snap.close();
  }
  return withStore(dbPath, (db) => {
    db.prepare("ATTACH DATABASE ? AS snap").run(tmp);
    try {
      db.exec("BEGIN");
      try {
        const seq = copyOwnRows(db, host);
        db.exec("COMMIT");
        return seq;
      } catch (err) {
        db.exec("ROLLBACK");
        throw err;
      }
    } finally {
      db.exec("DETACH DATABASE snap");
    }
  });
}

function copyOwnRows(db: Database, host: string): number {
  const seq = currentSeq(db);
  for (const spec of REPLICATED) {
    const cols = columnsOf(spec).join(", ");
    db.prepare(
      `INSERT INTO snap.${spec.table} (${cols}) SELECT ${cols} FROM main.${spec.table}
       WHERE origin = ?${spec.filter ? ` AND ${spec.filter}` : ""}`,
    ).run(host);
  }
  db.prepare(
    `INSERT INTO snap.tombstones (kind, key, deleted_at, origin, seq)
     SELECT kind, key, deleted_at, origin, seq FROM main.tombstones WHERE origin = ?`,
  ).run(host);
  db.prepare(
    `INSERT OR IGNORE INTO snap.log_blobs (log_id, sha256, size, uploaded)
     SELECT b.log_id, b.sha256, b.size, 1 FROM main.log_blobs b
     WHERE b.uploaded = 1 AND b.log_id IN (
       SELECT log_id FROM main.executions WHERE origin = ?
       UNION SELECT log_id FROM main.background_runs WHERE origin = ?)`,
  ).run(host, host);
  db.prepare(
    `INSERT OR REPLACE INTO snap.meta (key, value) VALUES
       ('host_id', ?), ('seq', ?), ('snapshot_host', ?), ('snapshot_seq', ?), ('created_at', ?)`,
  ).run(host, String(seq), host, String(seq), String(Date.now()));
  return seq;
}

/** Every schema object of `db`, as one comparable string. */
function schemaOf(db: Database): string {
  return JSON.stringify(
    db.prepare(
      "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name",
    ).all(),
  );
}

const snapshotSchemas = new Map<number, string>();

/** The schema {@linkcode buildSnapshot} writes for schema `version`. */
function expectedSnapshotSchema(version: number): string {
  let schema = snapshotSchemas.get(version);
  if (schema === undefined) {
    const db = openSqlite(":memory:", { timeoutMs: BUSY_TIMEOUT_MS });
    try {
      for (const m of MIGRATIONS.slice(0, version)) db.exec(m);
      db.exec(dropIndexesSql(db));
      schema = schemaOf(db);
    } finally {
      db.close();
    }
    snapshotSchemas.set(version, schema);
  }
  return schema;
}

/**
 * Check a downloaded snapshot file of `host`; returns the seq it covers.
 * Throws (one line) when it is not a stint snapshot of that host.
 */
export function inspectSnapshot(path: string, host: string): number {
  const db = openSqlite(path, { timeoutMs: BUSY_TIMEOUT_MS, readOnly: true });
  try {
    const check = db.prepare("PRAGMA quick_check").get();
    if (String(check?.quick_check ?? "") !== "ok") {
      throw new Error(`integrity check: ${String(check?.quick_check)}`);
    }
    // The file is someone else's SQLite database, and restore makes it the
    // store itself: anything but stint's own tables (a trigger, a view, a
    // changed column) would live on in it.
    const version = Number(
      db.prepare("PRAGMA user_version").get()?.user_version,
    );
    if (
      !Number.isSafeInteger(version) || version < 1 || version > SCHEMA_VERSION
    ) {
      throw new Error(`schema version ${version}`);
    }
    if (schemaOf(db) !== expectedSnapshotSchema(version)) {
      throw new Error("its schema is not stint's");
    }
    const get = (k: string) =>
      db.prepare("SELECT value FROM meta WHERE key = ?").get(k)?.value;
    if (String(get("snapshot_host")) !== host) {
      throw new Error("it belongs to another host");
    }
    const seq = Number(get("snapshot_seq"));
    if (!Number.isSafeInteger(seq) || seq < 0) throw new Error("no seq");
    return seq;
  } finally {
    db.close();
  }
}

/**
 * Delete from a downloaded snapshot (attached as `schema`, or the file
 * itself as `main`) the rows a pull would refuse: rows of another origin
 * than `host`, run rows claiming `self` or naming a log other than their
 * own, keys a local write could not have, and log blobs with an unusable
 * name or hash. One scan per table (a restore of a million runs pays ~0.3 s
 * for it); the full id pattern is left to `logPath`, which every reader of a
 * log path goes through. Only ever run on a temp copy.
 */
export function sanitizeSnapshot(
  db: Database,
  schema: string,
  host: string,
  self: string,
): void {
  const plainId = (c: string) =>
    `(typeof(${c}) = 'text' AND length(${c}) BETWEEN 1 AND 128 AND instr(${c}, '/') = 0)`;
  for (const spec of REPLICATED) {
    const run = spec.ownedByRecorder;
    const logOf = spec.kind === "execution" ? "id" : "execution_id";
    db.prepare(
      `DELETE FROM ${schema}.${spec.table} WHERE origin IS NOT ?${
        run
          ? ` OR NOT ${
            plainId("id")
          } OR (log_id IS NOT NULL AND log_id IS NOT ${logOf})
              OR typeof(host_id) != 'text' OR (host_id = ? AND origin IS NOT ?)`
          : ""
      }`,
    ).run(host, ...(run ? [self, self] : []));
  }
  db.prepare(`DELETE FROM ${schema}.tombstones WHERE origin IS NOT ?`).run(
    host,
  );
  // The key rules of a local write (validate.ts): 1-256 bytes, no control
  // character, since list commands print keys.
  const badKey =
    `typeof(key) != 'text' OR length(CAST(key AS BLOB)) NOT BETWEEN 1 AND ${MAX_KEY_BYTES}
     OR key GLOB '*[' || char(1) || '-' || char(31) || char(127) || ']*'`;
  for (const spec of REPLICATED.filter((s) => !s.ownedByRecorder)) {
    db.prepare(`DELETE FROM ${schema}.${spec.table} WHERE ${badKey}`).run();
  }
  db.prepare(
    `DELETE FROM ${schema}.log_blobs WHERE NOT ${plainId("log_id")}
       OR NOT (typeof(sha256) = 'text' AND length(sha256) = 64 AND instr(sha256, '/') = 0)`,
  ).run();
}

/**
 * Raise this host's clock to the newest var, cache or tombstone stamp in
 * `db`'s `schema` (a snapshot being merged, or a restored file). Call inside
 * a write transaction.
 */
export function observeSnapshotStamps(db: Database, schema = "main"): void {
  const row = db.prepare(
    `SELECT max(
       (SELECT max(updated_at) FROM ${schema}.vars),
       (SELECT max(updated_at) FROM ${schema}.cache),
       (SELECT max(deleted_at) FROM ${schema}.tombstones WHERE kind IN ('var', 'cache'))
     ) AS newest`,
  ).get();
  if (row?.newest !== null && row?.newest !== undefined) {
    observeStamp(db, Number(row.newest));
  }
}

/** Rows in the replicated tables of `db`'s `schema`. */
export function countReplicatedRows(db: Database, schema = "main"): number {
  let n = 0;
  for (const spec of REPLICATED) {
    n += Number(
      db.prepare(`SELECT count(*) AS n FROM ${schema}.${spec.table}`).get()?.n,
    );
  }
  return n;
}

/**
 * Merge the attached `snap` (one host's rows, sanitized) into main,
 * last-writer-wins, honouring tombstones both ways. Returns the rows changed.
 * Call inside a write transaction.
 */
export function mergeSnapshot(
  db: Database,
  host: string,
  self: string,
): number {
  let changed = 0;
  observeSnapshotStamps(db, "snap");
  for (const spec of REPLICATED) changed += mergeTable(db, spec, host, self);
  const tombs = db.prepare(
    "SELECT kind, key, deleted_at, origin, seq FROM snap.tombstones WHERE origin = ?",
  ).all(host).map((t) => ({ k: "tombstone", ...t }) as ChangeRecord);
  changed += applyRecordsInTransaction(db, tombs).applied;
  db.prepare(
    `INSERT INTO main.log_blobs (log_id, sha256, size, uploaded)
     SELECT log_id, sha256, size, 1 FROM snap.log_blobs WHERE true
     ON CONFLICT(log_id) DO NOTHING`,
  ).run();
  return changed;
}

function mergeTable(
  db: Database,
  spec: TableSpec,
  host: string,
  self: string,
): number {
  // A run belongs to the host that recorded it: another host never rewrites it.
  const ownRuns = spec.ownedByRecorder
    ? ` AND (${spec.table}.origin IS NOT ? OR excluded.origin = ?)`
    : "";
  const columns = columnsOf(spec);
  const cols = columns.join(", ");
  const key = spec.keyColumn;
  const filter = spec.filter ? ` AND s.${spec.filter}` : "";
  const updates = columns.filter((c) => !spec.pk.includes(c))
    .map((c) => `${c} = excluded.${c}`).join(", ");
  const r = db.prepare(
    `INSERT INTO main.${spec.table} (${cols})
     SELECT ${cols} FROM snap.${spec.table} s
     WHERE s.origin = ?${filter}
       AND NOT EXISTS (SELECT 1 FROM main.tombstones t WHERE t.kind = ? AND t.key = s.${key}
         AND (t.deleted_at, t.origin, t.seq) >= (s.${spec.ts}, s.origin, s.seq))
     ON CONFLICT(${spec.pk.join(", ")}) DO UPDATE SET ${updates}
     WHERE (excluded.${spec.ts}, excluded.origin, excluded.seq) >
           (${spec.table}.${spec.ts}, ${spec.table}.origin, ${spec.table}.seq)${ownRuns}`,
  ).run(host, spec.kind, ...(ownRuns ? [self, self] : []));
  db.prepare(
    `DELETE FROM main.tombstones WHERE kind = ? AND EXISTS (
       SELECT 1 FROM snap.${spec.table} s WHERE s.${key} = tombstones.key
         AND s.origin = ?${filter}
         AND (s.${spec.ts}, s.origin, s.seq) > (tombstones.deleted_at, tombstones.origin, tombstones.seq))`,
  ).run(spec.kind, host);
  return Number(r.changes);
}
