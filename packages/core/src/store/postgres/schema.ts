/**
 * The Postgres store's schema: Resonate's protocol as stored procedures (`resonate.sql` of resonate-pg, vendored
 * at a pinned commit) plus our own numbered migrations. `async-tools store init` applies what is missing in one
 * transaction under an advisory lock and records each migration; a replica checks the record and its role's
 * grants before it runs, so a database it does not match is refused with the command to run.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { AsyncToolsError } from "../../errors.ts";

/** One step of the schema, applied once and recorded under its `id`; its file never changes once released. */
export interface Migration {
  id: string;
  /** The SQL file beside this module (in `sql/` of the source, `postgres/` of the build). */
  file: string;
  /** SHA-256 of the file: a file that changed without its record fails the schema test. */
  sha256: string;
}

/**
 * Every migration, in order. The first is resonate-pg's `resonate.sql` at commit
 * 54fe65150f42f39f415363d05cd54ff91a069b1c (Apache-2.0), unchanged: its `get_schema_version()` says 0.1.0 in every
 * revision, so the commit is the version.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: "0000-resonate-pg-54fe651",
    file: "resonate.sql",
    sha256: "f4cc2e6c646acee6a9b358d3dd1684997d223e52edc6e075f7d866035f37ae2e",
  },
  {
    id: "0001-worker-processes-timeouts",
    file: "0001-worker-processes-timeouts.sql",
    sha256: "00cf010419b5173647305e3166a3a46447f8c7de45e5da5d18e9d9c05afd2534",
  },
  {
    id: "0002-job-index-and-step-log",
    file: "0002-job-index-and-step-log.sql",
    sha256: "01048a3132b65102e63651b6dc0289f02896e5777975d91beda5193e6784a44c",
  },
  {
    id: "0003-replica-presence",
    file: "0003-replica-presence.sql",
    sha256: "76d48613823081f7c3fb16733f03cc968201e4fc54854e296078a61d11dc2828",
  },
  {
    id: "0004-retention",
    file: "0004-retention.sql",
    sha256: "0c0724440b8a37b6ae4d448fa4786466c3841ff769799c33cbbce6757397964f",
  },
  {
    id: "0005-settled-jobs",
    file: "0005-settled-jobs.sql",
    sha256: "77e08c77dbba93ff53bc3ac17e056c037b470ed225d6cf8e9ee09992e75e7dde",
  },
  {
    id: "0006-global-slots",
    file: "0006-global-slots.sql",
    sha256: "3f01813daa1529aaee187d1111b95e7849c8bd6dcf3ddb849a6c60c6a0aa5b8f",
  },
  {
    id: "0007-one-query-drain",
    file: "0007-one-query-drain.sql",
    sha256: "a07e030e6e8632a478e625d3d78e4bcc88852bfd83d3a47eb2106cd913eb4fbd",
  },
  {
    id: "0008-change-feed",
    file: "0008-change-feed.sql",
    sha256: "4304967d247a105219fe1d9253812cc3fc5382855f4ce50bc1da270d42b32257",
  },
  {
    id: "0009-batch-lock-wait",
    file: "0009-batch-lock-wait.sql",
    sha256: "5ec067c1e64740828be780e6f9c120758c52e1049f56e31c4b55528638c2534e",
  },
  {
    id: "0010-step-checkpoint",
    file: "0010-step-checkpoint.sql",
    sha256: "feda75c629385b6d4c78892116720e618e46f05662aff4d2bda036f302700a38",
  },
  {
    id: "0011-drain-timers-by-index",
    file: "0011-drain-timers-by-index.sql",
    sha256: "74ca869226b67dfb7a20fb04d789b88d846036fb196e8c4c6b3a3e3c2ba767f1",
  },
  {
    id: "0012-change-what-and-whose",
    file: "0012-change-what-and-whose.sql",
    sha256: "d584353ee0bf026fd4da30d8a073254cd0d08a6c6ec36f4e62b949c3a991b27e",
  },
];

/** The advisory lock key every `store init` takes, so two of them never migrate one database at once. */
export const MIGRATION_LOCK_KEY = 0x6173796e; // "asyn"

/** Functions a worker role must be allowed to execute, with the grant that allows each. */
export const WORKER_FUNCTIONS: readonly string[] = [
  "resonate.resonate_rpc(jsonb)",
  "resonate.dequeue_execute(text, integer)",
  "resonate.dequeue_unblock(text, integer)",
  "resonate.outbox_channel(text)",
  "resonate.process_timeouts()",
  "async_tools.replica_alive(text, text, bigint)",
  "async_tools.replica_gone(text)",
  "async_tools.retain(bigint, bigint)",
  "async_tools.settled_jobs(text[])",
  "async_tools.slot_claim(text, text, text, integer)",
  "async_tools.slot_release(text, text)",
  "async_tools.slot_place(text)",
  "async_tools.drain(text, text, integer)",
  "async_tools.rpc(jsonb, jsonb)",
  "async_tools.rpc_batch(jsonb[], integer, jsonb[])",
];

/** Tables of ours a worker role reads and writes. */
export const WORKER_TABLES: readonly string[] = ["async_tools.jobs", "async_tools.steps"];

/** The least a connection needs to answer queries: `pg`'s `Client` and `PoolClient` both fit. */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[] }>;
}

/** The folder holding the SQL files: `sql/` beside the source, `postgres/` in the build (copied by tsup). */
function sqlFolder(): string {
  for (const candidate of ["./sql/", "./postgres/", "../postgres/"]) {
    const folder = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(`${folder}resonate.sql`)) return folder;
  }
  throw new AsyncToolsError(
    "INVALID_CONFIG",
    "The Postgres schema files are missing from this install of @async-tools/core (resonate.sql); reinstall it.",
  );
}

/** The SQL text of `migration`, checked against its recorded SHA-256. */
export function migrationSql(migration: Migration): string {
  const text = readFileSync(`${sqlFolder()}${migration.file}`, "utf8");
  const sha256 = createHash("sha256").update(text).digest("hex");
  if (sha256 !== migration.sha256)
    throw new AsyncToolsError(
      "INVALID_CONFIG",
      `The Postgres migration ${migration.id} (${migration.file}) does not match its record (sha256 ${sha256}); reinstall @async-tools/core.`,
    );
  return text;
}

/** What `store init` did: the migrations it applied now and those that were there already. */
export interface InitResult {
  applied: string[];
  present: string[];
}

const BOOTSTRAP = `
CREATE SCHEMA IF NOT EXISTS async_tools;
CREATE TABLE IF NOT EXISTS async_tools.migrations (
  id text PRIMARY KEY,
  sha256 text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  applied_by text NOT NULL DEFAULT current_user
);`;

/**
 * Applies every missing migration in one transaction, under {@link MIGRATION_LOCK_KEY}: run it as the role that
 * owns the database objects (not the worker role). Applying it again changes nothing.
 */
export async function initSchema(client: Queryable): Promise<InitResult> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
    await client.query(BOOTSTRAP);
    const recorded = await recordedMigrations(client);
    const result: InitResult = { applied: [], present: [] };
    for (const migration of MIGRATIONS) {
      const sha256 = recorded.get(migration.id);
      if (sha256 !== undefined) {
        if (sha256 !== migration.sha256) throw changedMigration(migration, sha256);
        result.present.push(migration.id);
        continue;
      }
      await client.query(migrationSql(migration));
      await client.query("INSERT INTO async_tools.migrations (id, sha256) VALUES ($1, $2)", [
        migration.id,
        migration.sha256,
      ]);
      result.applied.push(migration.id);
    }
    // The worker role reads the record at start (checkSchema) and nothing else of ours yet.
    await client.query(
      "GRANT USAGE ON SCHEMA async_tools TO resonate_worker; GRANT SELECT ON async_tools.migrations TO resonate_worker",
    );
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}

async function recordedMigrations(client: Queryable): Promise<Map<string, string>> {
  const { rows } = await client.query<{ id: string; sha256: string }>(
    "SELECT id, sha256 FROM async_tools.migrations ORDER BY id",
  );
  return new Map(rows.map((row) => [row.id, row.sha256]));
}

function changedMigration(migration: Migration, sha256: string): AsyncToolsError {
  return new AsyncToolsError(
    "STORE_SCHEMA",
    `The database recorded migration ${migration.id} with sha256 ${sha256}, but this async-tools has ${migration.sha256}: it was migrated by a different build of the same version. Restore the matching @async-tools/core.`,
  );
}

/** The Postgres error code of `error`, if it is one (`42P01` undefined table, `3F000` undefined schema, …). */
function pgCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Refuses a database whose recorded migrations are not exactly this library's, naming the command to run (an
 * older schema) or the upgrade to make (a newer one), and a role that may not execute what a worker calls,
 * naming the grant. `where` is the redacted store URL for the messages.
 */
export async function checkSchema(client: Queryable, where: string): Promise<void> {
  const init = `async-tools store init --store ${where}`;
  let recorded: Map<string, string>;
  try {
    recorded = await recordedMigrations(client);
  } catch (error) {
    const code = pgCode(error);
    if (code === "42P01" || code === "3F000")
      throw new AsyncToolsError(
        "STORE_SCHEMA",
        `The Postgres store ${where} has no async-tools schema. Run \`${init}\` once, as the database's owner role, then start again.`,
        { cause: error },
      );
    if (code === "42501")
      throw new AsyncToolsError(
        "STORE_FORBIDDEN",
        `The role of ${where} may not read async_tools.migrations: run \`${init}\` (it grants it to resonate_worker) and GRANT resonate_worker TO this role.`,
        { cause: error },
      );
    throw error;
  }
  const known = new Set(MIGRATIONS.map((m) => m.id));
  const newer = [...recorded.keys()].filter((id) => !known.has(id));
  if (newer.length > 0)
    throw new AsyncToolsError(
      "STORE_SCHEMA",
      `The Postgres store ${where} was migrated by a newer async-tools (${newer.join(", ")}); upgrade @async-tools/core on this server.`,
    );
  const missing = MIGRATIONS.filter((m) => !recorded.has(m.id)).map((m) => m.id);
  if (missing.length > 0)
    throw new AsyncToolsError(
      "STORE_SCHEMA",
      `The Postgres store ${where} lacks migrations ${missing.join(", ")}. Run \`${init}\` as the database's owner role, then start again.`,
    );
  for (const migration of MIGRATIONS) {
    const sha256 = recorded.get(migration.id);
    if (sha256 !== undefined && sha256 !== migration.sha256) throw changedMigration(migration, sha256);
  }
  const { rows } = await client.query<{ fn: string; allowed: boolean; role: string }>(
    "SELECT fn, has_function_privilege(current_user, fn, 'EXECUTE') AS allowed, current_user AS role FROM unnest($1::text[]) AS fn",
    [WORKER_FUNCTIONS],
  );
  const role = rows[0]?.role ?? "this role";
  const denied = rows.filter((row) => !row.allowed);
  if (denied.length > 0)
    throw new AsyncToolsError(
      "STORE_FORBIDDEN",
      `The role ${role} may not execute ${denied.map((row) => row.fn).join(", ")} on ${where}. GRANT resonate_worker TO ${role} (after \`${init}\`), or GRANT EXECUTE ON FUNCTION ${denied[0]?.fn} TO ${role}.`,
    );
  const tables = await client.query<{ tbl: string; allowed: boolean }>(
    `SELECT tbl, bool_and(has_table_privilege(current_user, tbl, p)) AS allowed
     FROM unnest($1::text[]) AS tbl, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p GROUP BY tbl`,
    [WORKER_TABLES],
  );
  const closed = tables.rows.filter((row) => !row.allowed).map((row) => row.tbl);
  if (closed.length > 0)
    throw new AsyncToolsError(
      "STORE_FORBIDDEN",
      `The role ${role} may not read and write ${closed.join(", ")} on ${where}. GRANT resonate_worker TO ${role} (after \`${init}\`), or GRANT SELECT, INSERT, UPDATE, DELETE ON ${closed.join(", ")} TO ${role}.`,
    );
}
