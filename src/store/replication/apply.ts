/**
 * How rows merge: another host's records are applied last-writer-wins by
 * `(stamp, origin, seq)`, tombstones delete only older rows, and a newer
 * write brings a deleted key back. The order is total, so every host
 * converges whatever order records arrive in, and applying a record twice
 * (or an older one after a newer one) changes nothing.
 *
 * Pulled records are untrusted input: they are checked before they touch
 * the store (see {@linkcode untrustedRunProblem}).
 * @module
 */
import { Buffer } from "node:buffer";
import { transaction } from "../open.ts";
import { hostId } from "../meta.ts";
import { isValidLogId } from "../paths.ts";
import { validateKey } from "../validate.ts";
import type { Database, SqlValue } from "../sqlite.ts";
import type { ChangeRecord } from "./changelog.ts";
import { observeStamp } from "./clock.ts";
import { recordLogBlob, SHA256_HEX } from "./log_blobs.ts";
import { columnsOf, keyWhere, tableOf, type TableSpec } from "./tables.ts";

/** What {@linkcode applyRecords} did. */
export interface ApplyResult {
  /** Records that changed the store. */
  applied: number;
  /** Records that were already there or lost to a newer write. */
  skipped: number;
  /** Records that were malformed and ignored. */
  invalid: number;
}

/** A last-writer-wins stamp: time, origin host, seq. */
export type Stamp = [number, string, number];

/** Whether stamp `a` orders after stamp `b`. */
export function newer(a: Stamp, b: Stamp): boolean {
  if (a[0] !== b[0]) return a[0] > b[0];
  if (a[1] !== b[1]) return a[1] > b[1];
  return a[2] > b[2];
}

/**
 * Apply another host's records in one transaction. Safe to call twice with
 * the same records. Call inside no transaction.
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
  let newest = -Infinity;
  for (const rec of records) {
    newest = Math.max(newest, clockStamp(rec));
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
  // The next local write is stamped after everything seen here.
  if (Number.isFinite(newest)) observeStamp(db, newest);
  return result;
}

/**
 * The stamp a record contributes to this host's clock: var and cache writes
 * and their tombstones (runs are stamped by their recorder's clock alone).
 */
function clockStamp(rec: ChangeRecord): number {
  const spec = tableOf(rec.k === "tombstone" ? rec.kind : rec.k);
  if (!spec || spec.ownedByRecorder) return -Infinity;
  const ts = rec.k === "tombstone" ? rec.deleted_at : rec[spec.ts];
  return typeof ts === "number" ? ts : -Infinity;
}

/**
 * Why a run record from another host must not be applied, or null. A run's
 * id and log id name files in the logs dir (the log id is always the run's
 * execution id), and a run recorded under this host's id would be judged and
 * signalled by local pids.
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

/** The stamp of the row or tombstone `where` selects, if there is one. */
function stampOf(
  db: Database,
  sql: string,
  ...params: SqlValue[]
): Stamp | null {
  const r = db.prepare(sql).get(...params);
  return r ? [Number(r.ts), String(r.origin), Number(r.seq)] : null;
}

function tombstoneStamp(db: Database, kind: string, key: string): Stamp | null {
  return stampOf(
    db,
    "SELECT deleted_at AS ts, origin, seq FROM tombstones WHERE kind = ? AND key = ?",
    kind,
    key,
  );
}

/** The row's values in column order, or null when the record is malformed. */
function rowValues(spec: TableSpec, rec: ChangeRecord): SqlValue[] | null {
  const values: SqlValue[] = [];
  for (const col of columnsOf(spec)) {
    let v: SqlValue | undefined = rec[col];
    if (spec.kind === "cache" && col === "value") {
      if (typeof rec.value_b64 !== "string") return null;
      v = new Uint8Array(Buffer.from(rec.value_b64, "base64"));
    }
    values.push(v === undefined ? null : v);
  }
  return values;
}

function applyRow(
  db: Database,
  rec: ChangeRecord,
  self: string,
): boolean | null {
  const spec = tableOf(rec.k);
  if (!spec || untrustedRunProblem(rec, self) !== null) return null;
  if (!spec.ownedByRecorder) {
    // The key rules of a local write: a key is printed by list commands.
    try {
      validateKey(String(rec.key));
    } catch {
      return null;
    }
  }
  const values = rowValues(spec, rec);
  const origin = rec.origin, seq = rec.seq, ts = rec[spec.ts];
  if (
    values === null || typeof origin !== "string" || typeof seq !== "number" ||
    typeof ts !== "number"
  ) return null;
  if (spec.filter && rec.scope_id !== "root") return null;
  const stamp: Stamp = [ts, origin, seq];
  const key = rec[spec.keyColumn];
  if (typeof key !== "string") return null;
  const tomb = tombstoneStamp(db, rec.k, key);
  if (tomb && !newer(stamp, tomb)) return false;
  const pkWhere = spec.pk.map((c) => `${c} = ?`).join(" AND ");
  const existing = db.prepare(
    `SELECT ${spec.ts} AS ts, origin, seq FROM ${spec.table} WHERE ${pkWhere}`,
  ).get(...spec.pk.map((c) => rec[c] as SqlValue));
  if (existing) {
    const have: Stamp = [
      Number(existing.ts),
      String(existing.origin),
      Number(existing.seq),
    ];
    if (!newer(stamp, have)) return false;
    // A run belongs to the host that recorded it: another host never rewrites it.
    if (spec.ownedByRecorder && have[1] === self && origin !== self) {
      return null;
    }
  }
  const cols = columnsOf(spec);
  db.prepare(
    `INSERT OR REPLACE INTO ${spec.table} (${cols.join(", ")}) VALUES (${
      cols.map(() => "?").join(", ")
    })`,
  ).run(...values);
  if (tomb) {
    db.prepare("DELETE FROM tombstones WHERE kind = ? AND key = ?").run(
      rec.k,
      key,
    );
  }
  if (
    typeof rec.log_id === "string" && typeof rec.log_sha256 === "string" &&
    SHA256_HEX.test(rec.log_sha256)
  ) {
    recordLogBlob(db, rec.log_id, {
      sha256: rec.log_sha256,
      size: Number(rec.log_size ?? 0),
    });
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
  const spec = tableOf(kind);
  if (!spec) return null;
  const stamp: Stamp = [deleted_at, origin, seq];
  const existingTomb = tombstoneStamp(db, kind, key);
  if (existingTomb && !newer(stamp, existingTomb)) return false;
  const where = keyWhere(spec);
  const row = stampOf(
    db,
    `SELECT ${spec.ts} AS ts, origin, seq FROM ${spec.table} WHERE ${where}`,
    key,
  );
  // A newer write of the row beat this delete: the delete is obsolete.
  if (row && !newer(stamp, row)) return false;
  if (row) db.prepare(`DELETE FROM ${spec.table} WHERE ${where}`).run(key);
  db.prepare(
    `INSERT OR REPLACE INTO tombstones (kind, key, deleted_at, origin, seq) VALUES (?, ?, ?, ?, ?)`,
  ).run(kind, key, deleted_at, origin, seq);
  return true;
}
