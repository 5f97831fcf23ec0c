/**
 * What is replicated: the tables whose rows travel between hosts, declared
 * once. Their columns are read from the schema itself (`MIGRATIONS`), so a
 * column added by a migration is replicated without touching sync code.
 *
 * Every replicated row carries `origin` (the host that last wrote it) and
 * `seq` (that host's change counter), and is ordered by a stamp column for
 * last-writer-wins.
 * @module
 */
import { BUSY_TIMEOUT_MS } from "../open.ts";
import { MIGRATIONS } from "../schema.ts";
import { openSqlite } from "../sqlite.ts";

/** The kinds of replicated row. */
export type RowKind = "execution" | "background" | "var" | "cache";

/** The kinds of record in a change segment (rows and tombstones). */
export type RecordKind = RowKind | "tombstone";

/** One replicated table. */
export interface TableSpec {
  /** The record kind of its rows. */
  kind: RowKind;
  /** The SQL table. */
  table: string;
  /** Primary key columns. */
  pk: readonly string[];
  /** The column a tombstone's `key` names. */
  keyColumn: string;
  /** Extra WHERE for rows that replicate (ephemeral scopes do not). */
  filter?: string;
  /** The stamp column that orders writes. */
  ts: string;
  /**
   * A run: only the host that recorded it may change it, and its stamps come
   * from that host alone (they order its own writes, not other hosts').
   */
  ownedByRecorder: boolean;
}

/** The replicated tables, in the order a snapshot or segment lists them. */
export const REPLICATED: readonly TableSpec[] = [
  {
    kind: "execution",
    table: "executions",
    pk: ["id"],
    keyColumn: "id",
    ts: "updated_at",
    ownedByRecorder: true,
  },
  {
    kind: "background",
    table: "background_runs",
    pk: ["id"],
    keyColumn: "id",
    ts: "updated_at",
    ownedByRecorder: true,
  },
  {
    kind: "var",
    table: "vars",
    pk: ["scope_id", "key"],
    keyColumn: "key",
    filter: "scope_id = 'root'",
    ts: "updated_at",
    ownedByRecorder: false,
  },
  {
    kind: "cache",
    table: "cache",
    pk: ["key"],
    keyColumn: "key",
    ts: "updated_at",
    ownedByRecorder: false,
  },
];

const BY_KIND = new Map(REPLICATED.map((s) => [s.kind, s]));

/** The spec of `kind`, or undefined for anything that is not a row kind. */
export function tableOf(kind: unknown): TableSpec | undefined {
  return typeof kind === "string" ? BY_KIND.get(kind as RowKind) : undefined;
}

/** The WHERE that selects `key`'s row for a tombstone of `spec`'s kind. */
export function keyWhere(spec: TableSpec): string {
  return spec.filter
    ? `${spec.filter} AND ${spec.keyColumn} = ?`
    : `${spec.keyColumn} = ?`;
}

let columnCache: Map<string, readonly string[]> | null = null;

/**
 * The columns of `spec`'s table in the current schema, in table order. Read
 * once per process from a migrated in-memory database.
 */
export function columnsOf(spec: TableSpec): readonly string[] {
  if (columnCache === null) {
    const db = openSqlite(":memory:", { timeoutMs: BUSY_TIMEOUT_MS });
    try {
      for (const m of MIGRATIONS) db.exec(m);
      columnCache = new Map(
        REPLICATED.map((s) => [
          s.table,
          db.prepare(`PRAGMA table_info(${s.table})`).all().map((r) =>
            String(r.name)
          ),
        ]),
      );
    } finally {
      db.close();
    }
  }
  return columnCache.get(spec.table) ?? [];
}
