/**
 * The change log: this host's replicated rows and tombstones by seq. Every
 * write takes its seq in its own transaction, so "what changed since seq N"
 * is an indexed range read on `(origin, seq)` and "is there anything after
 * N" is one read of `meta`.
 * @module
 */
import { Buffer } from "node:buffer";
import { currentSeq, hostId } from "../meta.ts";
import type { Database, Row, SqlValue } from "../sqlite.ts";
import {
  columnsOf,
  type RecordKind,
  REPLICATED,
  type TableSpec,
} from "./tables.ts";

/** One line of a change segment: a row (or tombstone) plus its kind. */
export interface ChangeRecord {
  /** What the record is. */
  k: RecordKind;
  /** The row's columns (cache values as base64 in `value_b64`). */
  [column: string]: SqlValue | undefined;
}

/** What {@linkcode readChanges} found. */
export interface Changes {
  /** This host's id. */
  host: string;
  /** The seq the range starts after. */
  from: number;
  /** The host's change counter when read: every own change <= `to` is in `records`. */
  to: number;
  /** The records, oldest seq first. */
  records: ChangeRecord[];
}

/** Whether this host has changes after seq `after` (one read of `meta`). */
export function hasChangesAfter(db: Database, after: number): boolean {
  return currentSeq(db) > after;
}

/** How many of this host's replicated rows and tombstones have a seq above `after`. */
export function countChangesAfter(db: Database, after: number): number {
  const host = hostId(db);
  let n = 0;
  for (const spec of REPLICATED) {
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

/**
 * The stamp of this host's oldest change after seq `after` (its first seq
 * there, by index), or null when there is none.
 */
export function oldestChangeAfter(db: Database, after: number): number | null {
  const host = hostId(db);
  let first: { seq: number; at: number } | null = null;
  const sources = [
    ...REPLICATED.map((s) => ({ table: s.table, ts: s.ts, filter: s.filter })),
    { table: "tombstones", ts: "deleted_at", filter: undefined },
  ];
  for (const s of sources) {
    const row = db.prepare(
      `SELECT seq, ${s.ts} AS at FROM ${s.table} WHERE origin = ? AND seq > ?${
        s.filter ? ` AND ${s.filter}` : ""
      } ORDER BY seq LIMIT 1`,
    ).get(host, after);
    if (row && (first === null || Number(row.seq) < first.seq)) {
      first = { seq: Number(row.seq), at: Number(row.at) };
    }
  }
  return first?.at ?? null;
}

/**
 * This host's rows and tombstones with `after < seq <= to`, read in one
 * snapshot (a read transaction), where `to` is the change counter in that
 * snapshot. Writes take their seq inside their own transaction, so nothing
 * with a seq <= `to` can commit later and be missed.
 */
export function readChanges(db: Database, after: number): Changes {
  db.exec("BEGIN");
  try {
    const host = hostId(db);
    const to = currentSeq(db);
    const records: ChangeRecord[] = [];
    if (to > after) {
      for (const spec of REPLICATED) {
        for (const row of changedRows(db, spec, host, after, to)) {
          records.push(toRecord(spec.kind, row));
        }
      }
      for (
        const row of db.prepare(
          "SELECT kind, key, deleted_at, origin, seq FROM tombstones WHERE origin = ? AND seq > ? AND seq <= ?",
        ).all(host, after, to)
      ) {
        records.push({ k: "tombstone", ...row });
      }
      records.sort((a, b) => Number(a.seq) - Number(b.seq));
    }
    return { host, from: after, to, records };
  } finally {
    db.exec("COMMIT");
  }
}

function changedRows(
  db: Database,
  spec: TableSpec,
  host: string,
  after: number,
  to: number,
): Row[] {
  // A run carries the content hash of its log, so another host can fetch it.
  const logJoin = spec.ownedByRecorder;
  return db.prepare(
    `SELECT ${columnsOf(spec).map((c) => `t.${c}`).join(", ")}${
      logJoin ? ", b.sha256 AS log_sha256, b.size AS log_size" : ""
    } FROM ${spec.table} t${
      logJoin ? " LEFT JOIN log_blobs b ON b.log_id = t.log_id" : ""
    } WHERE t.origin = ? AND t.seq > ? AND t.seq <= ?${
      spec.filter ? ` AND t.${spec.filter}` : ""
    }`,
  ).all(host, after, to);
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
