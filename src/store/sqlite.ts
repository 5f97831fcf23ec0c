/**
 * The one module that knows which SQLite binding stint uses (`node:sqlite`,
 * built into Deno). Swapping the binding later touches only this file.
 * @module
 */
import { DatabaseSync } from "node:sqlite";

/** A value SQLite can bind or return. */
export type SqlValue = string | number | bigint | null | Uint8Array;

/** A row as returned by a query. */
export type Row = Record<string, SqlValue>;

/** A prepared statement. */
export interface Statement {
  /** Run a write statement. */
  run(...params: SqlValue[]): { changes: number | bigint };
  /** First row or undefined. */
  get(...params: SqlValue[]): Row | undefined;
  /** All rows. */
  all(...params: SqlValue[]): Row[];
  /** The rows one at a time (nothing else may use the connection meanwhile). */
  iterate(...params: SqlValue[]): IterableIterator<Row>;
}

/** An open database connection. */
export interface Database {
  /** Execute one or more statements without results. */
  exec(sql: string): void;
  /** Prepare a statement (cached per connection). */
  prepare(sql: string): Statement;
  /** Whether a transaction is open on this connection (optional for raw handles). */
  inTransaction?(): boolean;
  /** The file this connection is to (optional for raw handles). */
  location?(): string | null;
  /** Close the connection. */
  close(): void;
}

/** Open a SQLite file. The busy timeout is set by the constructor, before any statement runs. */
export function openSqlite(
  path: string,
  options: { timeoutMs: number; readOnly?: boolean },
): Database {
  const db = new DatabaseSync(path, {
    timeout: options.timeoutMs,
    readOnly: options.readOnly ?? false,
  });
  const cache = new Map<string, Statement>();
  return {
    exec(sql: string): void {
      db.exec(sql);
    },
    prepare(sql: string): Statement {
      let stmt = cache.get(sql);
      if (!stmt) {
        stmt = db.prepare(sql) as unknown as Statement;
        cache.set(sql, stmt);
      }
      return stmt;
    },
    inTransaction(): boolean {
      return db.isTransaction;
    },
    location(): string | null {
      return db.location();
    },
    close(): void {
      cache.clear();
      db.close();
    },
  };
}
