/**
 * The stint datastore: one SQLite file, opened per operation.
 * @module
 */
export * from "./open.ts";
export * from "./paths.ts";
export * from "./schema.ts";
export * from "./meta.ts";
export * from "./ids.ts";
export * from "./process.ts";
export * from "./executions.ts";
export * from "./background.ts";
export * from "./vars.ts";
export * from "./cache.ts";
export * from "./validate.ts";
export * from "./maintenance.ts";
export type { Database, Row, SqlValue, Statement } from "./sqlite.ts";
