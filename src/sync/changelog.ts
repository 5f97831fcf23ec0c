/**
 * The change log behind bucket sync. Every synced row carries `origin` (the
 * host that last wrote it) and `seq` (that host's change counter, taken in
 * the same transaction as the write), and deletes leave tombstones. So
 * "what this host changed since its last push" is an indexed range read on
 * `(origin, seq)`, and "is there anything to push" is one read of `meta`.
 *
 * Applying another host's records is idempotent and last-writer-wins by
 * `(updated_at, origin, seq)`: applying the same record twice, or an older
 * one after a newer one, changes nothing.
 * @module
 */
import { Buffer } from "node:buffer";
import { transaction } from "../store/open.ts";
import { currentSeq, getMeta, hostId, setMeta } from "../store/meta.ts";
import { isValidLogId } from "../store/paths.ts";
import { MAX_KEY_BYTES, validateKey } from "../store/validate.ts";
import type { Database, Row, SqlValue } from "../store/sqlite.ts";

/** Meta keys this module owns. */
export const SYNC_META = {
  /** The highest own seq that is safely in the bucket. */
  pushedSeq: "sync.pushed_seq",
  /** When the last successful push finished (ms since the epoch). */
  lastPushAt: "sync.last_push_at",
  /** When the last successful pull finished. */
  lastPullAt: "sync.last_pull_at",
  /** Prefix of per-remote-host cursors: `sync.cursor.<host>` = highest seq applied. */
  cursorPrefix: "sync.cursor.",
  /** Set on a file built by restore: when, and from how many hosts. */
  restoredAt: "sync.restored_at",
  /** The last sync error of a session (JSON: at, kind, message). */
  lastError: "sync.last_error",
} as const;

/** The last sync error a session recorded, if any. */
export function lastSyncError(
  db: Database,
): { at: number; kind: string; message: string } | null {
  const raw = getMeta(db, SYNC_META.lastError);
  if (raw === undefined) return null;
  try {
    const v = JSON.parse(raw);
    return typeof v?.at === "number" && typeof v?.message === "string"
      ? { at: v.at, kind: String(v.kind ?? "other"), message: v.message }
      : null;
  } catch {
    return null;
  }
}

/** The kinds of record in a change segment. */
export type RecordKind =
  | "execution"
  | "background"
  | "var"
  | "cache"
  | "tombstone";

/** One line of a change segment: a row (or tombstone) plus its kind. */
export interface ChangeRecord {
  /** What the record is. */
  k: RecordKind;
  /** The row's columns (cache values as base64 in `value_b64`). */
  [column: string]: SqlValue | undefined;
}

interface TableSpec {
  table: string;
  /** Columns copied verbatim. */
  columns: string[];
  /** Primary key columns. */
  pk: string[];
  /** Extra WHERE for rows that sync (ephemeral scopes do not). */
  filter?: string;
  /** The time column that orders writes. */
  ts: string;
}

/** The synced tables and their columns (schema v1). */
export const TABLES: Record<Exclude<RecordKind, "tombstone">, TableSpec> = {
  execution: {
    table: "executions",
    columns: [
      "id",
      "ref",
      "project_dir",
      "task",
      "command",
      "args",
      "started_at",
      "completed_at",
      "duration_ms",
      "status",
      "exit_code",
      "signal",
      "error",
      "pid",
      "pid_start",
      "log_id",
      "host_id",
      "background_id",
      "parent_id",
      "scope_id",
      "origin",
      "seq",
      "updated_at",
    ],
    pk: ["id"],
    ts: "updated_at",
  },
  background: {
    table: "background_runs",
    columns: [
      "id",
      "execution_id",
      "ref",
      "command",
      "pid",
      "pgid",
      "pid_start",
      "started_at",
      "completed_at",
      "status",
      "exit_code",
      "error",
      "log_id",
      "host_id",
      "origin",
      "seq",
      "updated_at",
    ],
    pk: ["id"],
    ts: "updated_at",
  },
  var: {
    table: "vars",
    columns: ["scope_id", "key", "value", "updated_at", "origin", "seq"],
    pk: ["scope_id", "key"],
    filter: "scope_id = 'root'",
    ts: "updated_at",
  },
  cache: {
    table: "cache",
    columns: ["key", "value", "updated_at", "expires_at", "origin", "seq"],
    pk: ["key"],
    ts: "updated_at",
  },
};

/** How a tombstone's `key` maps onto the row it deletes. */
const TOMBSTONE_TARGET: Record<
  string,
  { kind: keyof typeof TABLES; where: string }
> = {
  execution: { kind: "execution", where: "id = ?" },
  background: { kind: "background", where: "id = ?" },
  var: { kind: "var", where: "scope_id = 'root' AND key = ?" },
  cache: { kind: "cache", where: "key = ?" },
};

/** The highest own seq known to be in the bucket (0 before the first push). */
export function pushedSeq(db: Database): number {
  return Number(getMeta(db, SYNC_META.pushedSeq) ?? 0);
}

/** When this host last pushed, and up to which seq; null if it never did. */
export function lastPush(db: Database): { at: number; seq: number } | null {
  const at = getMeta(db, SYNC_META.lastPushAt);
  if (at === undefined) return null;
  return { at: Number(at), seq: pushedSeq(db) };
}

/**
 * Whether this host has changes the bucket lacks: one read of two meta rows
 * by primary key, so an idle flush costs no scan and no bucket request.
 */
export function isDirty(db: Database): boolean {
  const row = db.prepare(
    `SELECT (SELECT value FROM meta WHERE key = 'seq') AS seq,
            (SELECT value FROM meta WHERE key = '${SYNC_META.pushedSeq}') AS pushed`,
  ).get();
  return Number(row?.seq ?? 0) > Number(row?.pushed ?? 0);
}

/** How many of this host's synced rows and tombstones are not in the bucket yet. */
export function unpushedCount(db: Database): number {
  const host = hostId(db);
  const after = pushedSeq(db);
  let n = 0;
  for (const spec of Object.values(TABLES)) {
    const row = db.prepare(
      `SELECT count(*) AS n FROM ${spec.table} WHERE origin = ? AND seq > ?${
        spec.filter ? ` AND ${spec.filter}` : ""
      }`,
    ).get(host, after);
    n += Number(row?.n ?? 0);
  }
  const t = db.prepare(
    "SELECT count(*) AS n FROM tombstones WHERE origin = ? AND seq > ?",
  ).get(host, after);
  return n + Number(t?.n ?? 0);
}

/** The cursor (highest applied seq) for another host. */
export function remoteCursor(db: Database, host: string): number {
  return Number(getMeta(db, SYNC_META.cursorPrefix + host) ?? 0);
}

/** Every remote cursor, by host id. */
export function remoteCursors(db: Database): Record<string, number> {
  const out: Record<string, number> = {};
  for (
    const row of db.prepare(
      "SELECT key, value FROM meta WHERE key > ? AND key < ? ORDER BY key",
    ).all(SYNC_META.cursorPrefix, SYNC_META.cursorPrefix + "\uffff")
  ) {
    out[String(row.key).slice(SYNC_META.cursorPrefix.length)] = Number(
      row.value,
    );
  }
  return out;
}

/** Raise a remote cursor (never lowers it). Call inside a write transaction. */
export function advanceRemoteCursor(
  db: Database,
  host: string,
  seq: number,
): void {
  if (seq > remoteCursor(db, host)) {
    setMeta(db, SYNC_META.cursorPrefix + host, String(seq));
  }
}

/** Record a successful push up to `seq` (never lowers the cursor). */
export function markPushed(
  db: Database,
  seq: number,
  options?: { at?: number },
): void {
  transaction(db, () => {
    if (seq > pushedSeq(db)) setMeta(db, SYNC_META.pushedSeq, String(seq));
    setMeta(db, SYNC_META.lastPushAt, String(options?.at ?? Date.now()));
  });
}

/** What {@linkcode readChanges} found. */
export interface Changes {
  /** This host's id. */
  host: string;
  /** The cursor the range starts after. */
  from: number;
  /** The host's change counter when read: every own change <= `to` is in `records`. */
  to: number;
  /** The records, oldest seq first. */
  records: ChangeRecord[];
}

/**
 * This host's rows and tombstones with `after < seq <= to`, read in one
 * snapshot (a read transaction), where `to` is the change counter in that
 * snapshot. Writes take their seq inside their own transaction, so nothing
 * with a seq <= `to` can commit later and be missed.
 */
export function readChanges(
  db: Database,
  options?: { after?: number },
): Changes {
  db.exec("BEGIN");
  try {
    const host = hostId(db);
    const from = options?.after ?? pushedSeq(db);
    const to = currentSeq(db);
    const records: ChangeRecord[] = [];
    if (to > from) {
      for (const [kind, spec] of Object.entries(TABLES)) {
        const logJoin = kind === "execution" || kind === "background";
        const rows = db.prepare(
          `SELECT ${spec.columns.map((c) => `t.${c}`).join(", ")}${
            logJoin ? ", b.sha256 AS log_sha256, b.size AS log_size" : ""
          } FROM ${spec.table} t${
            logJoin ? " LEFT JOIN log_blobs b ON b.log_id = t.log_id" : ""
          } WHERE t.origin = ? AND t.seq > ? AND t.seq <= ?${
            spec.filter ? ` AND t.${spec.filter}` : ""
          }`,
        ).all(host, from, to);
        for (const row of rows) records.push(toRecord(kind as RecordKind, row));
      }
      for (
        const row of db.prepare(
          "SELECT kind, key, deleted_at, origin, seq FROM tombstones WHERE origin = ? AND seq > ? AND seq <= ?",
        ).all(host, from, to)
      ) {
        records.push({ k: "tombstone", ...row });
      }
      records.sort((a, b) => Number(a.seq) - Number(b.seq));
    }
    return { host, from, to, records };
  } finally {
    db.exec("COMMIT");
  }
}

function toRecord(kind: RecordKind, row: Row): ChangeRecord {
  const rec: ChangeRecord = { k: kind };
  for (const [col, value] of Object.entries(row)) {
    if (value === null && (col === "log_sha256" || col === "log_size")) {
      continue;
    }
    if (kind === "cache" && col === "value") {
      const bytes = value instanceof Uint8Array
        ? value
        : new TextEncoder().encode(String(value));
      rec.value_b64 = Buffer.from(bytes).toString("base64");
    } else {
      rec[col] = typeof value === "bigint" ? Number(value) : value;
    }
  }
  return rec;
}

/** What {@linkcode applyRecords} did. */
export interface ApplyResult {
  /** Records that changed the store. */
  applied: number;
  /** Records that were already there or lost to a newer write. */
  skipped: number;
  /** Records that were malformed and ignored. */
  invalid: number;
}

/**
 * Apply another host's records in one transaction, last-writer-wins by
 * `(updated_at, origin, seq)`; tombstones delete only older rows. Safe to
 * call twice with the same records. Call inside no transaction.
 */
export function applyRecords(
  db: Database,
  records: Iterable<ChangeRecord>,
): ApplyResult {
  return transaction(db, () => applyRecordsInTransaction(db, records));
}

/** {@linkcode applyRecords} for a caller that already holds a write transaction. */
export function applyRecordsInTransaction(
  db: Database,
  records: Iterable<ChangeRecord>,
): ApplyResult {
  const result: ApplyResult = { applied: 0, skipped: 0, invalid: 0 };
  const self = hostId(db);
  for (const rec of records) {
    let outcome: boolean | null;
    try {
      outcome = rec.k === "tombstone"
        ? applyTombstone(db, rec)
        : applyRow(db, rec, self);
    } catch {
      outcome = null;
    }
    if (outcome === null) result.invalid++;
    else if (outcome) result.applied++;
    else result.skipped++;
  }
  return result;
}

type Stamp = [number, string, number];

function newer(a: Stamp, b: Stamp): boolean {
  if (a[0] !== b[0]) return a[0] > b[0];
  if (a[1] !== b[1]) return a[1] > b[1];
  return a[2] > b[2];
}

/**
 * Why a run record from another host must not be applied, or null. Pulled
 * rows are untrusted input: a run's id and log id name files in the logs
 * dir (the log id is always the run's execution id), and a run recorded
 * under this host's id would be judged and signalled by local pids.
 */
export function untrustedRunProblem(
  rec: ChangeRecord,
  self: string,
): string | null {
  if (rec.k !== "execution" && rec.k !== "background") return null;
  if (typeof rec.id !== "string" || !isValidLogId(rec.id)) {
    return "its id is not a plain id";
  }
  if (typeof rec.host_id !== "string") return "it names no host";
  if (rec.host_id === self && rec.origin !== self) {
    return "another host wrote it under this host's id";
  }
  const exec = rec.k === "execution" ? rec.id : rec.execution_id;
  if (
    exec !== null && exec !== undefined &&
    (typeof exec !== "string" || !isValidLogId(exec))
  ) return "its execution id is not a plain id";
  if (rec.log_id !== null && rec.log_id !== undefined && rec.log_id !== exec) {
    return "its log id is not its execution id";
  }
  return null;
}

/**
 * Delete from a downloaded snapshot (attached as `schema`, or the file
 * itself as `main`) the rows {@linkcode applyRow} would refuse: rows of
 * another origin than `host`, run rows claiming `self` or naming a log
 * other than their own, and log blobs with an unusable name or hash. One
 * scan per table (a restore of a million runs pays ~0.3 s for it); the
 * full id pattern is left to `logPath`, which every reader of a log path
 * goes through. Only ever run on a temp copy.
 */
export function sanitizeSnapshot(
  db: Database,
  schema: string,
  host: string,
  self: string,
): void {
  const plainId = (c: string) =>
    `(typeof(${c}) = 'text' AND length(${c}) BETWEEN 1 AND 128 AND instr(${c}, '/') = 0)`;
  for (const [kind, spec] of Object.entries(TABLES)) {
    const run = kind === "execution" || kind === "background";
    const logOf = kind === "execution" ? "id" : "execution_id";
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
  for (const table of ["vars", "cache"]) {
    db.prepare(`DELETE FROM ${schema}.${table} WHERE ${badKey}`).run();
  }
  db.prepare(
    `DELETE FROM ${schema}.log_blobs WHERE NOT ${plainId("log_id")}
       OR NOT (typeof(sha256) = 'text' AND length(sha256) = 64 AND instr(sha256, '/') = 0)`,
  ).run();
}

function applyRow(
  db: Database,
  rec: ChangeRecord,
  self: string,
): boolean | null {
  const spec = TABLES[rec.k as keyof typeof TABLES];
  if (!spec) return null;
  if (untrustedRunProblem(rec, self) !== null) return null;
  if (rec.k === "var" || rec.k === "cache") {
    // The key rules of a local write: a key is printed by list commands.
    try {
      validateKey(String(rec.key));
    } catch {
      return null;
    }
  }
  const values: SqlValue[] = [];
  for (const col of spec.columns) {
    let v: SqlValue | undefined = rec[col];
    if (spec.table === "cache" && col === "value") {
      if (typeof rec.value_b64 !== "string") return null;
      v = new Uint8Array(Buffer.from(rec.value_b64, "base64"));
    }
    if (v === undefined) v = null;
    values.push(v);
  }
  const origin = rec.origin, seq = rec.seq, ts = rec[spec.ts];
  if (
    typeof origin !== "string" || typeof seq !== "number" ||
    typeof ts !== "number"
  ) return null;
  if (spec.filter && rec.scope_id !== "root") return null;
  const stamp: Stamp = [ts, origin, seq];
  const tombKey = spec.table === "vars" ? rec.key : rec[spec.pk[0]];
  if (typeof tombKey !== "string") return null;
  const tomb = db.prepare(
    "SELECT deleted_at, origin, seq FROM tombstones WHERE kind = ? AND key = ?",
  ).get(rec.k, tombKey);
  if (tomb) {
    const tStamp: Stamp = [
      Number(tomb.deleted_at),
      String(tomb.origin),
      Number(tomb.seq),
    ];
    if (!newer(stamp, tStamp)) return false;
  }
  const pkWhere = spec.pk.map((c) => `${c} = ?`).join(" AND ");
  const pkValues = spec.pk.map((c) => rec[c] as SqlValue);
  const existing = db.prepare(
    `SELECT ${spec.ts} AS ts, origin, seq FROM ${spec.table} WHERE ${pkWhere}`,
  ).get(...pkValues);
  if (
    existing &&
    !newer(stamp, [
      Number(existing.ts),
      String(existing.origin),
      Number(existing.seq),
    ])
  ) {
    return false;
  }
  // A run belongs to the host that recorded it: another host never rewrites it.
  if (
    existing && (rec.k === "execution" || rec.k === "background") &&
    String(existing.origin) === self && origin !== self
  ) {
    return null;
  }
  db.prepare(
    `INSERT OR REPLACE INTO ${spec.table} (${
      spec.columns.join(", ")
    }) VALUES (${spec.columns.map(() => "?").join(", ")})`,
  ).run(...values);
  if (tomb) {
    db.prepare("DELETE FROM tombstones WHERE kind = ? AND key = ?").run(
      rec.k,
      tombKey,
    );
  }
  if (
    typeof rec.log_id === "string" && typeof rec.log_sha256 === "string" &&
    /^[0-9a-f]{64}$/.test(rec.log_sha256)
  ) {
    db.prepare(
      `INSERT INTO log_blobs (log_id, sha256, size, uploaded) VALUES (?, ?, ?, 1)
       ON CONFLICT(log_id) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, uploaded = 1`,
    ).run(rec.log_id, rec.log_sha256, Number(rec.log_size ?? 0));
  }
  return true;
}

function applyTombstone(db: Database, rec: ChangeRecord): boolean | null {
  const { kind, key, deleted_at, origin, seq } = rec;
  if (
    typeof kind !== "string" || typeof key !== "string" ||
    typeof deleted_at !== "number" || typeof origin !== "string" ||
    typeof seq !== "number"
  ) return null;
  const target = TOMBSTONE_TARGET[kind];
  if (!target) return null;
  const stamp: Stamp = [deleted_at, origin, seq];
  const existingTomb = db.prepare(
    "SELECT deleted_at, origin, seq FROM tombstones WHERE kind = ? AND key = ?",
  ).get(kind, key);
  if (
    existingTomb &&
    !newer(stamp, [
      Number(existingTomb.deleted_at),
      String(existingTomb.origin),
      Number(existingTomb.seq),
    ])
  ) {
    return false;
  }
  const spec = TABLES[target.kind];
  const row = db.prepare(
    `SELECT ${spec.ts} AS ts, origin, seq FROM ${spec.table} WHERE ${target.where}`,
  ).get(key);
  if (
    row && !newer(stamp, [Number(row.ts), String(row.origin), Number(row.seq)])
  ) {
    // A newer write of the row beat this delete: the delete is obsolete.
    return false;
  }
  if (row) {
    db.prepare(`DELETE FROM ${spec.table} WHERE ${target.where}`).run(key);
  }
  db.prepare(
    `INSERT OR REPLACE INTO tombstones (kind, key, deleted_at, origin, seq) VALUES (?, ?, ?, ?, ?)`,
  ).run(kind, key, deleted_at, origin, seq);
  return true;
}
