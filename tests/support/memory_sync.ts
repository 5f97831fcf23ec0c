/**
 * In-process sync hosts for unit tests: each host is its own store file,
 * all of them sharing one in-memory bucket (wrapped with checksums, as the
 * real one is).
 * @module
 */
import { join } from "node:path";
import type { Bucket } from "../../src/sync/bucket.ts";
import { withChecksums } from "../../src/sync/checksum.ts";
import { SyncEngine, type SyncEngineOptions } from "../../src/sync/engine.ts";
import { MemoryBucket } from "../../src/sync/memory_bucket.ts";

/** A shared in-memory bucket and a way to add hosts to it. */
export interface MemorySync {
  /** The raw bucket (objects can be read and tampered with). */
  raw: MemoryBucket;
  /** The bucket as sync sees it (checksummed). */
  bucket: Bucket;
  /** A temp dir for the hosts' stores. */
  dir: string;
  /** A new host: a fresh store path and an engine on the shared bucket. */
  host(name: string, options?: Partial<SyncEngineOptions>): MemoryHost;
}

/** One in-process host. */
export interface MemoryHost {
  /** Its store file. */
  db: string;
  /** Its engine. */
  engine: SyncEngine;
}

/** A fresh in-memory bucket and temp dir. */
export function memorySync(): MemorySync {
  const raw = new MemoryBucket("unit");
  const bucket = withChecksums(raw);
  const dir = Deno.makeTempDirSync({ prefix: "stint-memsync-" });
  return {
    raw,
    bucket,
    dir,
    host(name, options = {}) {
      const db = join(dir, name, "stint.db");
      return { db, engine: new SyncEngine(db, { bucket, ...options }) };
    },
  };
}

export { dumpReplicated } from "./sync_host.ts";
