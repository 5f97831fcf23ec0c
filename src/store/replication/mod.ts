/**
 * What is replicated and how rows merge: the replicated tables, the change
 * log, tombstones, last-writer-wins application, snapshots and the log-blob
 * table. `src/sync/` moves these records and files; it never decides how
 * they merge.
 * @module
 */
export * from "./tables.ts";
export * from "./changelog.ts";
export * from "./apply.ts";
export * from "./tombstones.ts";
export * from "./snapshot.ts";
export * from "./log_blobs.ts";
