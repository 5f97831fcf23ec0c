/**
 * Loading fauxqs, the in-process S3 server of the tests, the benchmarks and
 * `deno task s3`. It is a test-only dependency: it is mapped in
 * tests/deno.json (a workspace member), not in the runtime import map, so
 * `deno install -g` never installs it. A bare specifier resolves through
 * the import map of the module that imports it, so it is imported here,
 * under tests/, wherever the caller lives.
 * @module
 */

/** What the tests use of fauxqs. */
export interface Fauxqs {
  startFauxqs(options: {
    port: number;
    host: string;
    logger: boolean;
    dataDir?: string;
  }): Promise<{
    port: number;
    createBucket(name: string): void;
    stop(): Promise<void>;
  }>;
}

/** Import fauxqs (computed, so type-checking never resolves it). */
export async function loadFauxqs(): Promise<Fauxqs> {
  const spec = "fauxqs";
  return await import(spec);
}
