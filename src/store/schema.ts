/**
 * Schema and migrations. `PRAGMA user_version` holds the version; migration
 * `n` takes a file from version `n` to `n + 1`. Migrations are ordered and
 * idempotent (each runs in the same transaction that bumps the version).
 * @module
 */
import type { Database } from "./sqlite.ts";

/** Every migration, in order. Index `i` upgrades version `i` to `i + 1`. */
export const MIGRATIONS: readonly string[] = [
  // v1: the record kinds of spec section 3. Synced rows carry `origin` (the
  // host that last wrote them) and `seq` (that host's change counter).
  `
  CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE IF NOT EXISTS executions (
    id TEXT PRIMARY KEY,
    ref TEXT NOT NULL,
    project_dir TEXT,
    task TEXT,
    command TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '[]',
    started_at INTEGER NOT NULL,
    completed_at INTEGER,
    duration_ms INTEGER,
    status TEXT NOT NULL,
    exit_code INTEGER,
    signal TEXT,
    error TEXT,
    pid INTEGER,
    pid_start TEXT,
    log_id TEXT,
    host_id TEXT NOT NULL,
    background_id TEXT,
    parent_id TEXT,
    scope_id TEXT,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS executions_ref_started ON executions(ref, started_at);
  CREATE INDEX IF NOT EXISTS executions_started ON executions(started_at);
  CREATE INDEX IF NOT EXISTS executions_running ON executions(status) WHERE status = 'running';
  CREATE INDEX IF NOT EXISTS executions_origin_seq ON executions(origin, seq);

  CREATE TABLE IF NOT EXISTS background_runs (
    id TEXT PRIMARY KEY,
    execution_id TEXT,
    ref TEXT NOT NULL,
    command TEXT NOT NULL DEFAULT '',
    pid INTEGER,
    pgid INTEGER,
    pid_start TEXT,
    started_at INTEGER NOT NULL,
    completed_at INTEGER,
    status TEXT NOT NULL,
    exit_code INTEGER,
    error TEXT,
    log_id TEXT,
    host_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS background_started ON background_runs(started_at);
  CREATE INDEX IF NOT EXISTS background_running ON background_runs(status) WHERE status = 'running';
  CREATE INDEX IF NOT EXISTS background_origin_seq ON background_runs(origin, seq);

  CREATE TABLE IF NOT EXISTS scopes (
    id TEXT PRIMARY KEY,
    parent_id TEXT,
    run_id TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS scopes_run ON scopes(run_id);
  INSERT OR IGNORE INTO scopes (id, parent_id, run_id, created_at) VALUES ('root', NULL, NULL, 0);

  CREATE TABLE IF NOT EXISTS vars (
    scope_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (scope_id, key)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS vars_origin_seq ON vars(origin, seq);

  CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    expires_at INTEGER,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS cache_expires ON cache(expires_at) WHERE expires_at IS NOT NULL;
  CREATE INDEX IF NOT EXISTS cache_origin_seq ON cache(origin, seq);

  CREATE TABLE IF NOT EXISTS tombstones (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    deleted_at INTEGER NOT NULL,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS tombstones_origin_seq ON tombstones(origin, seq);
  `,
  // v2 (sync): which content-addressed blob (`logs/<sha256>.gz`) holds each
  // log, so a run from another host can fetch its log, and a log is hashed
  // and uploaded once. Sync cursors live in `meta` (`sync.*` keys).
  `
  CREATE TABLE IF NOT EXISTS log_blobs (
    log_id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  `,
  // v3 (rerun, wildcards): facts a run has beyond the synced executions
  // columns: which execution it repeats (`stint rerun`, `bg restart`) and
  // the task names a wildcard run (`stint run "build:*"`) matched, as a JSON
  // array. A table of its own rather than columns: CREATE ... IF NOT EXISTS
  // keeps the migration idempotent (ALTER TABLE ADD COLUMN is not), and the
  // synced executions columns, which older snapshots must match, stay as
  // they are. Local to this host. No trigger (a store has none): rows of
  // deleted runs go with them (history clear) or are swept when the next
  // row is written.
  `
  CREATE TABLE IF NOT EXISTS execution_extras (
    execution_id TEXT PRIMARY KEY,
    rerun_of TEXT,
    matched_tasks TEXT
  ) WITHOUT ROWID;
  `,
  // v4 (ui / history filters): status and host filters read an index in
  // start order instead of scanning every row (1,000,000 rows: ~150 ms ->
  // under 1 ms for a page), and runs per host are counted from an index.
  `
  CREATE INDEX IF NOT EXISTS executions_status_started ON executions(status, started_at);
  CREATE INDEX IF NOT EXISTS executions_host_started ON executions(host_id, started_at);
  `,
  // v5 (liveness): who is recording each running execution (the stint
  // process or background supervisor: pid + process start time), so a run
  // is judged lost only when neither its recorder nor its task lives. Local
  // to this file: never replicated, deleted when the run ends.
  `
  CREATE TABLE IF NOT EXISTS recorders (
    execution_id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    pid_start TEXT
  ) WITHOUT ROWID;
  `,
  // v6 (retention, log budget, sync gc): the local log files stint removed
  // to keep the logs folder under its budget, so `stint logs` says so
  // instead of "no log" (local to this file: another host still has its
  // own copy, and the bucket its blob; never replicated; rows go with their
  // runs); and log blobs by hash, so `sync gc` asks "does any run still
  // name this blob?" with one index seek per blob.
  `
  CREATE INDEX IF NOT EXISTS log_blobs_sha256 ON log_blobs(sha256);
  CREATE TABLE IF NOT EXISTS pruned_logs (
    log_id TEXT PRIMARY KEY,
    pruned_at INTEGER NOT NULL,
    size INTEGER NOT NULL,
    budget INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // v7 (rerun): the directory stint was started in, for a run started
  // elsewhere than its project dir (\`cd ws && stint run --cwd pkg test\`,
  // \`stint run -c ../other.json\` from a member): deno task resolved
  // --cwd, -c, --env-file and --lock against it, so a rerun runs from
  // there. A table of its own, like v3's (ALTER TABLE ADD COLUMN is not
  // idempotent, and every migration is re-run by restore). Local to this
  // host; rows of deleted runs go as execution_extras' do.
  `
  CREATE TABLE IF NOT EXISTS execution_cwd (
    execution_id TEXT PRIMARY KEY,
    caller_cwd TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
];

/** The schema version this build of stint writes. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/** Read `PRAGMA user_version`. */
export function schemaVersion(db: Database): number {
  const row = db.prepare("PRAGMA user_version").get();
  return Number(row?.user_version ?? 0);
}

/**
 * Apply the migrations from the file's version up to `target` (default:
 * current) inside one `BEGIN IMMEDIATE` transaction. Returns the versions
 * applied. Safe to race: the version is re-read under the write lock.
 */
export function migrate(
  db: Database,
  options?: { target?: number },
): number[] {
  const target = options?.target ?? SCHEMA_VERSION;
  const applied: number[] = [];
  db.exec("BEGIN IMMEDIATE");
  try {
    let version = schemaVersion(db);
    while (version < target) {
      db.exec(MIGRATIONS[version]);
      version++;
      db.exec(`PRAGMA user_version = ${version}`);
      applied.push(version);
    }
    db.exec("COMMIT");
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
  return applied;
}
